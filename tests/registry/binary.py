"""Registry records for reference/binary.py (to be written)."""

RECORDS: list = []
