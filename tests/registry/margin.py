"""Registry records for reference/margin.py (to be written)."""

RECORDS: list = []
