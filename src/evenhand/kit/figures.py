"""Figures as a reader sees them, the same on every page, report and command."""

from __future__ import annotations

P_FLOOR = 0.001  # below this a p-value is shown as a bound: its digits say nothing more


def p_value(p: float) -> str:
    """"p = 0.034", or "p < 0.001" where three decimals would print 0.000."""
    return f"p < {P_FLOOR}" if p < P_FLOOR else f"p = {p:.3f}"


def p_cell(p: float) -> str:
    """The same in a column headed p: "0.034", or "< 0.001"."""
    return f"< {P_FLOOR}" if p < P_FLOOR else f"{p:.3f}"
