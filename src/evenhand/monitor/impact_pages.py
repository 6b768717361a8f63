"""Pages (filled in as the capability lands)."""

from __future__ import annotations


def register() -> None:
    """Nothing to draw yet."""
