"""On the demo company, the team view's high-volume, low-quality flag finds exactly the seniors the simulation made
win on price (the "P" reps of ``demo/org.py``: deep discounts, and customers who renew and rate them less), reading
only the cards' metrics; the simulation is run again from its seed here to know who they are."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from evenhand.db import session_scope
from evenhand.i18n import t
from evenhand.performance import blocks, ranking, service
from evenhand.performance.period import parse
from evenhand.performance.ranking import Ranking
from tests.demo.conftest import build_into, disposing
from tests.performance.demo import SEED, discounters

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quarter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ranking]:
    for built in disposing(build_into(tmp_path_factory, tmp_path_factory.mktemp("perf-demo"), seed=SEED)):
        with session_scope(built.engine, readonly=True) as session:
            yield ranking.read(session, service.SYSTEM, parse("2026-Q3"))


def test_the_flag_finds_the_simulated_discounters_and_nobody_else(quarter: Ranking) -> None:
    truth = discounters()
    assert len(truth) == 3
    assert set(quarter.flags) == set(truth)
    assert {f.name for f in quarter.flags.values()} == set(truth.values())


def test_each_flag_names_results_price_and_service(quarter: Ranking) -> None:
    for flag in quarter.flags.values():
        rules = [r.rule for r in flag.reasons]
        assert rules[0].startswith("top_") and "deep_discount" in rules
        assert {"renewal_below_floor", "low_renewal_rate", "low_csat", "low_nps"} & set(rules)
        assert flag.figures["discount"] is not None and flag.figures["discount"] > 20


def test_zhang_weis_block_in_the_form_of_r36(quarter: Ranking) -> None:
    zhang = next(c for c in quarter.cards if c.name == "张伟")
    first, second = blocks.block(zhang, quarter.departments, lambda m, **p: t(m, locale="zh-CN", **p))
    assert first == f"张伟 | 大客户部 | Q3考核得分:{zhang.total:.1f}"
    assert second.startswith("回款达成率:") and "方案提交率:" in second
