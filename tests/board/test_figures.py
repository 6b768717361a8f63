"""The board's pure core on a hand-built pipeline: stages skipped and re-entered, a deal that moves after the
window is seen, a deal not yet created, leads answered late or never."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from evenhand.board import figures as core
from evenhand.board.figures import DAY, HOUR, Deals, Facts, Leads, Visits, Window

QUAL, NEEDS, PROPOSAL, NEGOTIATION, WON, LOST = range(6)
WINDOW = Window(since=int(10 * DAY), until=int(40 * DAY), as_of=int(40 * DAY))
BEFORE = Window(since=int(-20 * DAY), until=int(10 * DAY), as_of=int(10 * DAY))
# deal: (its lead arrived, [(stage, day entered), ...])
PIPELINE = {
    "A": (-5, [(QUAL, 0), (NEEDS, 12), (PROPOSAL, 15), (NEEDS, 20), (PROPOSAL, 25), (WON, 30)]),  # went back once
    "B": (11, [(QUAL, 11), (PROPOSAL, 13), (LOST, 33)]),  # skipped needs analysis
    "C": (5, [(QUAL, 5), (NEEDS, 8)]),  # still in needs analysis
    "D": (38, [(QUAL, 38), (NEGOTIATION, 45)]),  # moved after the window closed
    "E": (45, [(QUAL, 45)]),  # created after it
    "F": (-70, [(QUAL, -60), (WON, -30)]),  # won before either window
}
# lead: (assigned day, first response in hours after it, None: never)
LEADS: dict[int, tuple[float, float | None]] = {1: (11, 2.0), 2: (12, None), 3: (20, 25 * 24.0), 4: (5, 0.5),
                                                5: (30, 0.25)}


def pipeline() -> tuple[Deals, Visits]:
    names = sorted(PIPELINE)
    rows = [(i, stage, int(day * DAY)) for i, name in enumerate(names) for stage, day in PIPELINE[name][1]]
    table = np.array(rows, dtype=np.int64)
    n = len(names)
    deals = Deals(np.arange(1, n + 1), np.array([7, 7, 8, 8, 8, 7]), np.array([1, 1, 2, 2, 2, 1]),
                  np.array([int(PIPELINE[k][0] * DAY) for k in names]))
    return deals, Visits.of(table[:, 0], table[:, 1], table[:, 2])


def leads() -> Leads:
    ids = np.array(sorted(LEADS))
    assigned = np.array([int(LEADS[i][0] * DAY) for i in ids])
    answered = np.array([-1 if (hours := LEADS[i][1]) is None else int(LEADS[i][0] * DAY + hours * HOUR)
                         for i in ids])
    return Leads(ids, np.full(len(ids), 7), np.full(len(ids), 1), assigned, answered)


def figures(window: Window, deal_mask: np.ndarray | None = None) -> dict[str, Any]:
    deals, visits = pipeline()
    found = leads()
    mask = np.ones(len(deals.id), bool) if deal_mask is None else deal_mask
    return core.block(visits, Facts.of(deals, visits, found, window), mask, np.ones(len(found.id), bool))


def test_time_in_stage_counts_each_visit_that_ended_in_the_window() -> None:
    times = figures(WINDOW)["time_in_stage"]
    assert times["qualification"] == {"count": 2, "median": 7.0, "p90": 11.0}  # A 12 days, B 2 (C's ended before)
    assert times["needs_analysis"] == {"count": 2, "median": 4.0, "p90": 4.8}  # A's two visits: 3 and 5 days
    assert times["proposal"] == {"count": 3, "median": 5.0, "p90": 17.0}  # A 5 and 5, B 20
    assert times["negotiation"] == {"count": 0, "median": None, "p90": None}


def test_conversion_counts_a_skipped_stage_as_passed_and_a_deal_once() -> None:
    conversion = figures(WINDOW)["conversion"]
    # qualification: B (on to proposal) and D (its move came after the window: open); A entered before it
    assert conversion["qualification"] == {"entered": 2, "advanced": 1, "lost": 0, "open": 1, "rate": 0.5}
    # needs analysis: A once, though it entered twice; B skipped it and is not counted
    assert conversion["needs_analysis"] == {"entered": 1, "advanced": 1, "lost": 0, "open": 0, "rate": 1.0}
    assert conversion["proposal"] == {"entered": 2, "advanced": 1, "lost": 1, "open": 0, "rate": 0.5}
    assert conversion["negotiation"]["entered"] == 0 and conversion["negotiation"]["rate"] is None


def test_stuck_deals_as_the_window_closed() -> None:
    stuck = figures(WINDOW)["stuck"]
    assert stuck["needs_analysis"] == [0, 0, 0, 1, 0]  # C, 32 days since it entered
    assert stuck["qualification"] == [1, 0, 0, 0, 0]  # D, 2 days: its move to negotiation came later
    assert stuck["negotiation"] == [0] * 5 and stuck["proposal"] == [0] * 5
    before = figures(BEFORE)["stuck"]
    assert before["qualification"] == [0, 1, 0, 0, 0] and before["needs_analysis"] == [1, 0, 0, 0, 0]  # A, C


def test_cycle_runs_from_the_lead_to_the_win() -> None:
    assert figures(WINDOW)["cycle"] == {"count": 1, "median": 35.0, "p90": 35.0}
    assert figures(BEFORE)["cycle"]["count"] == 0


def test_first_response_buckets_and_leads_never_answered() -> None:
    response = figures(WINDOW)["first_response"]
    # 1: 2 h; 2: none; 3: answered after the window closed, so none then; 5: 15 minutes
    assert response["leads"] == 4 and response["count"] == 2
    assert response["buckets"] == [1, 1, 0, 0, 0, 0, 2]
    assert response["median"] == pytest.approx(1.12, abs=0.01)
    assert figures(BEFORE)["first_response"]["buckets"] == [1, 0, 0, 0, 0, 0, 0]


def test_a_mask_keeps_a_group_to_its_own_deals() -> None:
    mine = figures(WINDOW, np.array([True, True, False, False, False, False]))  # A and B
    assert mine["stuck"]["needs_analysis"] == [0] * 5
    assert mine["conversion"]["qualification"]["entered"] == 1
    assert mine["time_in_stage"]["proposal"]["count"] == 3


def test_visits_end_at_the_next_change_of_the_same_deal_only() -> None:
    visits = Visits.of(np.array([0, 0, 1]), np.array([QUAL, NEEDS, QUAL]), np.array([1, 5, 7]))
    assert visits.end.tolist() == [5, -1, -1]


def test_grouped_quantiles_match_numpy() -> None:
    rng = np.random.default_rng(3)
    keys = rng.integers(-1, 6, size=300)
    keys[keys == 4] = 5  # group 4 has no values
    values = rng.exponential(size=300)
    found = core._grouped_stats(keys, values, 6, 1.0)
    for g in range(6):
        mine = values[keys == g]
        if not len(mine):
            assert found[g] == {"count": 0, "median": None, "p90": None}
            continue
        assert found[g]["count"] == len(mine)
        assert [found[g]["median"], found[g]["p90"]] == pytest.approx(np.percentile(mine, [50, 90]), abs=0.006)
