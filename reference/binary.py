"""binary losses (to be written)."""

__all__: list[str] = []
