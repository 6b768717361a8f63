"""Points learned from outcomes (``scoring.suggest``), pure: seeded leads whose conversion depends on known things."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from evenhand.errors import Invalid
from evenhand.leads.scoring import load_default, parse
from evenhand.leads.scoring.suggest import (
    MIN_LEVEL_ROWS,
    TOP_POINTS,
    Feature,
    History,
    check_enough,
    levels,
    lift_sets,
    spread,
    suggest,
)
from evenhand.leads.scoring.vector import EventTable, LeadTable

T0 = 1_767_225_600  # 2026-01-01, epoch seconds


def company(n: int = 400, seed: int = 1, titles: list[str] | None = None,
            title_effect: dict[str, float] | None = None) -> tuple[History, np.ndarray]:
    """Industry (Widgets) and whitepaper downloads raise the odds; optionally a title does too."""
    rng = np.random.default_rng(seed)
    industry = rng.choice(["Widgets", "Gardening", "Bakery", "Plumbing"], n)
    downloads = rng.poisson(0.8, n)
    title = rng.choice(titles or ["Manager"], n)
    logit = -1.5 + 2.0 * (industry == "Widgets") + 1.0 * downloads
    logit = logit + np.array([(title_effect or {}).get(t, 0.0) for t in title.tolist()])
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    at = T0 + np.arange(n, dtype=np.int64) * 3600
    leads = LeadTable(industry=industry.tolist(), company_size=np.full(n, 100.0), region=["east"] * n,
                      title=title.tolist(), source=["web"] * n, email=["a@acme.com"] * n, phone=["123"] * n)
    lead = np.repeat(np.arange(n), downloads).astype(np.int64)
    events = EventTable(lead=lead, kind=np.array(["whitepaper_download"] * len(lead)), occurred_at=at[lead] - 60,
                        dwell_seconds=np.full(len(lead), np.nan))
    return History(leads, events, at, y), logit


def rules(model: Any, kind: str) -> list[Any]:
    return [rule for group in model.groups.values() for rule in group.rules if rule.type == kind]


class TestSuggest:
    def test_the_fields_that_decide_conversion_get_the_points(self) -> None:
        history, _ = company()
        result = suggest(load_default(), history)
        industry = {value: rule.points for rule in rules(result.model, "industry") for value in rule.in_}
        assert industry["Widgets"] == TOP_POINTS == max(industry.values())
        assert rules(result.model, "whitepaper_download")[0].points >= 5
        assert all(p >= 0 for p in industry.values())  # every lead has an industry: no deduction for one
        assert not rules(result.model, "webinar") and not rules(result.model, "region")

    def test_the_held_out_auc_is_near_the_truths_and_beats_uniform_and_the_shipped_model(self) -> None:
        history, logit = company()
        result = suggest(load_default(), history, seed=42)
        from sklearn.metrics import roc_auc_score
        from sklearn.model_selection import train_test_split

        _, test = train_test_split(np.arange(len(history)), test_size=0.3, stratify=history.outcome, random_state=42)
        truth = roc_auc_score(history.outcome[test], logit[test])
        assert result.suggested_auc > max(0.5, result.active_auc)
        assert result.suggested_auc > truth - 0.03
        assert (result.n_train, result.n_test, result.leads) == (280, 120, 400)

    def test_the_document_is_valid_commented_and_the_same_for_the_same_seed(self) -> None:
        history, _ = company()
        first, again = suggest(load_default(), history, seed=7), suggest(load_default(), history, seed=7)
        assert first.text == again.text
        assert parse(first.text) == first.model
        assert first.text.startswith("# Suggested by 'evenhand scoring suggest' from 400 leads")
        assert "seed 7" in first.text
        caps = {name: group.cap for name, group in first.model.groups.items()}
        assert caps["fit"] == 60 and caps["behaviour"] == 50
        assert "aliases" not in first.text  # none of the shipped model's spellings is about these industries

    def test_title_tiers_keep_their_order_and_a_stopping_tier_stays_at_zero(self) -> None:
        active = parse(TITLED)
        history, _ = company(titles=["Head of IT", "IT Director", "Clerk"], title_effect={"IT Director": 1.5})
        result = suggest(active, history)
        [title] = rules(result.model, "title")
        assert [t.keywords for t in title.tiers] == [["head"], ["director"]]
        assert title.tiers[0].points == 0 and title.tiers[1].points >= 5

    def test_too_few_outcomes_are_refused_with_the_counts(self) -> None:
        history, _ = company(n=45)
        with pytest.raises(Invalid) as refused:
            suggest(load_default(), history)
        assert refused.value.params["known"] == 45 and refused.value.params["min_known"] == 50
        with pytest.raises(Invalid) as few_positives:
            check_enough(np.array([1] * 5 + [0] * 95))
        assert (few_positives.value.params["positives"], few_positives.value.params["negatives"]) == (5, 95)
        check_enough(np.array([1] * 10 + [0] * 40))


class TestParts:
    def test_a_narrow_band_is_ninety_percent_within_ten_points(self) -> None:
        narrow = spread([40] * 5 + [45] * 4 + [90])
        assert (narrow.low, narrow.high, narrow.share, narrow.narrow) == (40, 45, 0.9, True)
        wide = spread(list(range(0, 100, 10)))
        assert wide.share == 0.2 and not wide.narrow
        assert not spread([]).narrow

    def test_levels_merge_spellings_and_drop_rare_values(self) -> None:
        values = ["manufacturing"] * 8 + ["制造业"] * 6 + [" Retail "] * 12 + ["Toys"] * 3 + [None] * 5
        aliases = {"manufacturing": "制造业"}
        assert levels(values, aliases, len(values)) == ["manufacturing", "Retail"]

    def test_a_set_without_unmatched_leads_is_lifted_to_start_at_zero(self) -> None:
        features = [Feature("a", "value", "industry", "A"), Feature("b", "value", "industry", "B"),
                    Feature("c", "event", "webinar")]
        X = np.array([[1, 0, 0], [0, 1, 2]] * MIN_LEVEL_ROWS, dtype=np.float64)
        assert lift_sets(np.array([0.5, -0.25, -1.0]), features, X).tolist() == [0.75, 0.0, -1.0]
        X[0] = [0, 0, 0]  # a lead with neither industry: still fewer than MIN_LEVEL_ROWS of them
        X[2] = [0, 0, 0]
        assert lift_sets(np.array([0.5, -0.25, -1.0]), features, X).tolist() == [0.75, 0.0, -1.0]
        X[:, :2] = 0  # most leads match no industry: the zero is theirs, so nothing moves
        assert lift_sets(np.array([0.5, -0.25, -1.0]), features, X).tolist() == [0.5, -0.25, -1.0]

    def test_take_keeps_the_rows_events(self) -> None:
        history, _ = company(n=60)
        rows = np.array([5, 2, 9])
        part = history.take(rows)
        assert part.outcome.tolist() == history.outcome[rows].tolist()
        assert part.leads.industry == [history.leads.industry[i] for i in rows.tolist()]
        expected = [int(np.sum(history.events.lead == i)) for i in rows.tolist()]
        assert [int(np.sum(part.events.lead == j)) for j in range(3)] == expected


TITLED = """
name: titled
groups:
  fit:
    rules:
      - type: title
        label: title
        tiers:
          - {keywords: [head], points: 10}
          - {keywords: [director], points: 5}
          - {keywords: [clerk], points: 1}
"""
