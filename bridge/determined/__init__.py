"""determined package."""
