"""Registry records for reference/divergence.py (to be written)."""

RECORDS: list = []
