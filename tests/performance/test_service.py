"""Live and frozen scorecards, closing and re-opening, the close hooks and who sees whose card, on SQLite and
PostgreSQL, over a company whose October is written as rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.db import session_scope
from evenhand.errors import Conflict, Forbidden, Invalid, NotFound
from evenhand.models import AuditEntry, Scorecard, ScorePeriod, User
from evenhand.models.performance import PeriodStatus
from evenhand.performance import service
from evenhand.performance.views import CardView
from tests.builders import Org
from tests.performance import company
from tests.performance.company import AFTER, OCTOBER


@pytest.fixture
def sold(engine: Engine, org: Org) -> Org:
    with session_scope(engine) as session:
        company.build(session, org)
    return org


def principal(session: Session, org: Org, name: str) -> Principal:
    user = session.get(User, org.id(name))
    assert user is not None
    supervised = frozenset(t.id for t in org.teams.values() if t.supervisor_id == user.id)
    return Principal(user.id, user.username, user.display_name, user.role, user.team_id, supervised)


def read(engine: Engine, org: Org, who: str = "ops", **options: object) -> list[CardView]:
    with session_scope(engine, readonly=True) as session:
        return service.cards(session, principal(session, org, who), OCTOBER, **options)  # type: ignore[arg-type]


def totals(cards: list[CardView]) -> dict[str, float | None]:
    return {c.name: c.total for c in cards}


def close(engine: Engine, org: Org, who: str = "ops") -> ScorePeriod:
    with session_scope(engine) as session:
        row = service.close(session, OCTOBER, actor=principal(session, org, who), today=AFTER)
        session.expunge(row)
        return row


def reopen(engine: Engine, org: Org, reason: str = "回款晚到") -> None:
    with session_scope(engine) as session:
        service.reopen(session, OCTOBER, actor=principal(session, org, "ops"), reason=reason)


def late_payment(engine: Engine, org: Org, rep: str, cash: float) -> None:
    with session_scope(engine) as session:
        sold_to = session.scalar(select(func.min(company.Contract.id)).where(company.Contract.owner_id == org.id(rep)))
        assert sold_to is not None
        company.pay(session, sold_to, cash, day=20)


def test_live_cards_rank_the_reps_by_total(engine: Engine, sold: Org) -> None:
    cards = read(engine, sold)
    assert [c.name for c in cards[:4]] == ["Rep N1", "Rep N2", "Rep E1", "Rep S1"]
    first = cards[0]
    assert (first.total, first.tier, first.revision, first.frozen, first.template) == (100, "gold", 0, False,
                                                                                      "standard")
    assert first.template_label == {"zh-CN": "通用模板", "en": "Standard"} and first.team == "North"
    assert first.department == "SALES" and first.period == "2026-10"
    assert totals(cards)["Rep N2"] == 50 and totals(cards)["Rep S1"] == pytest.approx(14)
    assert {m.metric: m.value for m in first.metrics} == {"cash_collected": 10000, "new_contracts": 2}


def test_live_cards_follow_the_data_and_a_body_under_preview(engine: Engine, sold: Org) -> None:
    late_payment(engine, sold, "rep_s1", 8000)
    assert totals(read(engine, sold))["Rep S1"] == 70
    with session_scope(engine, readonly=True) as session:
        body = company.TEMPLATES.replace("cash_collected: 70, new_contracts: 30", "new_contracts: 1")
        previewed = service.live(session, principal(session, sold, "ops"), OCTOBER, body=body)
    assert totals(previewed)["Rep S1"] == 0 and totals(previewed)["Rep N2"] == 50


def test_closing_freezes_the_cards_with_their_inputs(engine: Engine, sold: Org) -> None:
    row = close(engine, sold)
    assert (row.status, row.revision, row.closed_by) == (PeriodStatus.CLOSED, 1, sold.id("ops"))
    late_payment(engine, sold, "rep_s1", 8000)  # a payment recorded after the close
    frozen = read(engine, sold)
    assert totals(frozen)["Rep S1"] == pytest.approx(14) and all(c.frozen and c.revision == 1 for c in frozen)
    with session_scope(engine, readonly=True) as session:
        assert totals(service.live(session, principal(session, sold, "ops"), OCTOBER))["Rep S1"] == 70
        card = session.scalars(select(Scorecard).where(Scorecard.user_id == sold.id("rep_n1"))).one()
        assert card.inputs["measures"]["cash_collected"]["value"] == 10000
        assert card.inputs["rep"]["level"] == "junior" and card.template_version == 2
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "performance.period_closed")).one()
        assert entry.payload["revision"] == 1 and entry.actor_id == sold.id("ops")
    assert frozen == read(engine, sold, revision=1)


def test_a_closed_period_cannot_be_closed_again(engine: Engine, sold: Org) -> None:
    close(engine, sold)
    with pytest.raises(Conflict) as caught:
        close(engine, sold)
    assert caught.value.field == "period"


def test_a_period_closes_only_once_it_has_ended(engine: Engine, sold: Org) -> None:
    with session_scope(engine) as session, pytest.raises(Invalid) as caught:
        service.close(session, OCTOBER, actor=principal(session, sold, "ops"), today=date(2026, 10, 31))
    assert caught.value.field == "period"


@pytest.mark.parametrize("who", ["rep_n1", "sup_a", "auditor"])
def test_only_ops_and_admins_close(engine: Engine, sold: Org, who: str) -> None:
    with pytest.raises(Forbidden):
        close(engine, sold, who)


def test_reopen_and_close_again_keeps_both_revisions(engine: Engine, sold: Org) -> None:
    close(engine, sold)
    late_payment(engine, sold, "rep_s1", 8000)
    reopen(engine, sold)
    assert not read(engine, sold)[0].frozen  # an open period shows live cards
    assert close(engine, sold).revision == 2
    assert totals(read(engine, sold))["Rep S1"] == 70
    assert totals(read(engine, sold, revision=1))["Rep S1"] == pytest.approx(14)
    with session_scope(engine, readonly=True) as session:
        assert service.revisions(session, OCTOBER) == [1, 2]
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.subject_type == "score_periods")
                                  .order_by(AuditEntry.id)).all()
        reason: str = session.scalars(select(AuditEntry.payload).where(
            AuditEntry.action == "performance.period_reopened")).one()["reason"]
    assert actions == ["performance.period_closed", "performance.period_reopened", "performance.period_closed"]
    assert reason == "回款晚到"
    with pytest.raises(NotFound) as caught:
        read(engine, sold, revision=3)
    assert caught.value.field == "revision"


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501, "bad\x00"])
def test_reopening_needs_a_reason(engine: Engine, sold: Org, reason: str) -> None:
    close(engine, sold)
    with pytest.raises(Invalid) as caught:
        reopen(engine, sold, reason)
    assert caught.value.field == "reason"


def test_only_a_closed_period_reopens(engine: Engine, sold: Org) -> None:
    with pytest.raises(Conflict) as caught:
        reopen(engine, sold)
    assert caught.value.field == "period"


@pytest.fixture
def hooks() -> Iterator[list[service.Hook]]:
    saved = list(service.ON_CLOSE)
    yield service.ON_CLOSE
    service.ON_CLOSE[:] = saved


def test_close_hooks_run_in_the_closing_transaction(engine: Engine, sold: Org, hooks: list[service.Hook]) -> None:
    seen: list[tuple[str, int, int]] = []
    hooks.append(lambda session, row, cards: seen.append((row.period, row.revision, len(cards))))
    close(engine, sold)
    assert seen == [("2026-10", 1, len(read(engine, sold)))]


def test_a_failing_hook_rolls_the_close_back(engine: Engine, sold: Org, hooks: list[service.Hook]) -> None:
    def fail(session: Session, row: ScorePeriod, cards: list[Scorecard]) -> None:
        raise RuntimeError("grants unavailable")

    hooks.append(fail)
    with pytest.raises(RuntimeError):
        close(engine, sold)
    with session_scope(engine, readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(Scorecard)) == 0
        assert session.scalar(select(func.count()).select_from(ScorePeriod)) == 0
        assert not session.scalars(select(AuditEntry).where(AuditEntry.subject_type == "score_periods")).all()


@pytest.mark.parametrize("closed", [False, True])
def test_a_rep_sees_their_card_in_full_and_only_the_places_of_their_team(engine: Engine, sold: Org,
                                                                         closed: bool) -> None:
    if closed:
        close(engine, sold)
    cards = {c.name: c for c in read(engine, sold, "rep_n1")}
    assert set(cards) == {"Rep N1", "Rep N2", "Sup A"}
    assert cards["Rep N1"].metrics and cards["Rep N2"].total == 50 and cards["Rep N2"].tier == "silver"
    assert cards["Rep N2"].metrics == [] and cards["Sup A"].metrics == []


@pytest.mark.parametrize("closed", [False, True])
def test_supervisors_see_their_teams_and_staff_everyone(engine: Engine, sold: Org, closed: bool) -> None:
    if closed:
        close(engine, sold)
    supervised = {c.name: c for c in read(engine, sold, "sup_a")}
    assert {"Rep N1", "Rep N2", "Rep S1"} <= set(supervised) and "Rep E1" not in supervised
    assert all(c.metrics for c in supervised.values())
    everyone = read(engine, sold, "auditor")
    assert {"Rep E1", "Rep E2", "Rep Solo"} <= {c.name for c in everyone} and all(c.metrics for c in everyone)
    assert [c.name for c in read(engine, sold, "ops", team_id=sold.teams["east"].id)][:1] == ["Rep E1"]
    assert [c.name for c in read(engine, sold, "ops", user_id=sold.id("rep_n2"))] == ["Rep N2"]


CONTRACTS_ONLY = company.TEMPLATES.replace("cash_collected: 70, new_contracts: 30", "new_contracts: 1")


def test_the_preview_rescores_the_last_closed_periods_frozen_inputs(engine: Engine, sold: Org) -> None:
    close(engine, sold)
    late_payment(engine, sold, "rep_s1", 8000)  # not in the frozen inputs
    with session_scope(engine, readonly=True) as session:
        compared = service.preview(session, principal(session, sold, "ops"), CONTRACTS_ONLY)
    assert compared.period == "2026-10" and compared.frozen
    assert totals(compared.active) == totals(read(engine, sold))
    assert totals(compared.draft)["Rep S1"] == 0 and totals(compared.draft)["Rep N2"] == 50
    assert compared.tier_labels["gold"] == {"zh-CN": "金牌", "en": "Gold"}
    rows = {r["name"]: r for r in service.changes(compared)}
    # one contract each: E1 ties N2 at 50 and comes first by name
    assert (rows["Rep E1"]["active_rank"], rows["Rep E1"]["draft_rank"], rows["Rep E1"]["moved"]) == (3, 2, 1)
    assert (rows["Rep N2"]["active_rank"], rows["Rep N2"]["draft_rank"], rows["Rep N2"]["moved"]) == (2, 3, -1)


def test_without_a_closed_period_the_preview_measures_the_last_full_month(engine: Engine, sold: Org) -> None:
    with session_scope(engine, readonly=True) as session:
        compared = service.preview(session, principal(session, sold, "ops"), CONTRACTS_ONLY,
                                   today=date(2026, 11, 15))
    assert compared.period == "2026-10" and not compared.frozen
    assert totals(compared.active)["Rep N1"] == 100 and totals(compared.draft)["Rep S1"] == 0
