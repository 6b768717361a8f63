"""``stages``: a history derived from a deal's dates, an exported one put in order, the stage of a won flag."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from evenhand.models import Stage
from evenhand.opportunities import stages
from evenhand.opportunities.stages import Step

C = datetime(2016, 10, 1, tzinfo=UTC)
E = C + timedelta(days=20)
X = C + timedelta(days=140)
Q, N, P, G, W, L = (Stage.QUALIFICATION, Stage.NEEDS_ANALYSIS, Stage.PROPOSAL, Stage.NEGOTIATION, Stage.WON,
                    Stage.LOST)


def moves(steps: list[Step]) -> list[tuple[Stage | None, Stage, datetime]]:
    return [(s.from_stage, s.to_stage, s.at) for s in steps]


def test_a_won_deal_goes_through_qualification_and_needs_analysis_to_won() -> None:
    assert moves(stages.derive(W, created_at=C, engaged_at=E, closed_at=X)) == [(None, Q, C), (Q, N, E), (N, W, X)]


def test_a_deal_lost_before_it_was_engaged_is_lost_from_qualification() -> None:
    assert moves(stages.derive(L, created_at=C, engaged_at=None, closed_at=X)) == [(None, Q, C), (Q, L, X)]


@pytest.mark.parametrize("stage, engaged, expected", [
    (Q, None, [(None, Q, C)]),
    (Q, E, [(None, Q, C)]),  # engaged, but its CRM still has it in qualification: the history ends where it is
    (N, E, [(None, Q, C), (Q, N, E)]),
    (P, E, [(None, Q, C), (Q, P, E)]),  # further on than needs analysis: straight to its stage when engaged
    (G, None, [(None, Q, C), (Q, G, C)]),
])
def test_an_open_deal_ends_at_its_current_stage(stage: Stage, engaged: datetime | None,
                                                 expected: list[tuple[Stage | None, Stage, datetime]]) -> None:
    steps = stages.derive(stage, created_at=C, engaged_at=engaged, closed_at=None)
    assert moves(steps) == expected
    assert stages.last_move(steps, stage) == expected[-1][2]


def test_an_exported_history_is_sorted_and_its_repeated_stages_are_no_moves() -> None:
    lines = [Step(None, N, E), Step(None, Q, C), Step(None, N, E + timedelta(days=1)), Step(P, W, X)]
    assert moves(stages.in_order(lines)) == [(None, Q, C), (Q, N, E), (P, W, X)]


@pytest.mark.parametrize("won, closed, closed_at, engaged_at, stage", [
    (True, None, None, None, W),
    (False, True, None, None, L),
    (False, None, X, None, L),  # no closed column: a close date says it closed
    (False, False, X, E, N),  # open (Salesforce: IsClosed false, CloseDate expected) and engaged
    (False, None, None, None, Q),
])
def test_the_stage_of_an_export_with_only_a_won_flag(won: bool, closed: bool | None, closed_at: datetime | None,
                                                      engaged_at: datetime | None, stage: Stage) -> None:
    assert stages.from_flags(won=won, closed=closed, closed_at=closed_at, engaged_at=engaged_at) is stage


def test_dates_out_of_order_are_named() -> None:
    assert stages.dates_in_order(C, E, X) is None
    assert stages.dates_in_order(E, C, None) == "engaged_at"
    assert stages.dates_in_order(C, X, E) == "closed_at"
    assert stages.dates_in_order(E, None, C) == "closed_at"
