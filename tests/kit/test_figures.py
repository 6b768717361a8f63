"""p-values below what three decimals show are written as a bound, never as 0.000."""

from __future__ import annotations

import pytest

from evenhand.kit.figures import p_cell, p_value


@pytest.mark.parametrize(("p", "shown"), [(0.0342, "p = 0.034"), (0.001, "p = 0.001"), (0.000999, "p < 0.001"),
                                          (1e-12, "p < 0.001"), (0.0, "p < 0.001"), (1.0, "p = 1.000")])
def test_a_p_value_reads_as_three_decimals_or_a_bound(p: float, shown: str) -> None:
    assert p_value(p) == shown


def test_a_p_value_cell_drops_the_p_but_keeps_the_bound() -> None:
    assert (p_cell(0.0342), p_cell(1e-9)) == ("0.034", "< 0.001")
