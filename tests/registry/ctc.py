"""Registry records for reference/ctc.py (to be written)."""

RECORDS: list = []
