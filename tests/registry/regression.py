"""Registry records for reference/regression.py (to be written)."""

RECORDS: list = []
