"""Registry records for reference/embedding.py (to be written)."""

RECORDS: list = []
