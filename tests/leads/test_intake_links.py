"""How a new lead is stored: linked to the first earlier lead it duplicates, stored or arriving in the same batch
(following that lead's own link), and scored in its own INSERT (R1.1)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from evenhand.db import session_scope
from evenhand.leads import service
from evenhand.leads.schemas import LeadCreate
from tests.builders import Org
from tests.support import statements

DEDUP = ["email", "phone"]


def _lead(n: int, **contact: Any) -> LeadCreate:
    return LeadCreate(source="website", external_id=f"L-{n}", company=f"公司{n}", region="east", **contact)


def _take(engine: Engine, *rows: LeadCreate) -> list[int | None]:
    """Each row's ``duplicate_of_id``, as stored, in order (None: an original)."""
    with session_scope(engine) as session:
        taken = service.intake_many(session, rows, actor=None, dedup=DEDUP)
        ids = [r.lead.id for r in taken]
    with session_scope(engine, readonly=True) as session:
        return [session.get(service.Lead, i).duplicate_of_id for i in ids]  # type: ignore[union-attr]


def test_a_lead_duplicating_leads_of_its_batch_links_to_the_earliest_original(engine: Engine, org: Org) -> None:
    a, b = _lead(1, phone="13800000002"), _lead(2, email="a@x.cn")
    c, d = _lead(3, email="a@x.cn", phone="13800000002"), _lead(4, email="a@x.cn")
    with session_scope(engine) as session:
        ids = [r.lead.id for r in service.intake_many(session, [a, b, c, d], actor=None, dedup=DEDUP)]
    with session_scope(engine, readonly=True) as session:
        links = [session.get(service.Lead, i).duplicate_of_id for i in ids]  # type: ignore[union-attr]
    assert links == [None, None, ids[0], ids[1]]  # c shares its e-mail with b and its phone with a, who came first


def test_a_stored_lead_comes_before_any_in_the_batch(engine: Engine, org: Org) -> None:
    [stored] = _take(engine, _lead(1, phone="13800000009"))
    with session_scope(engine, readonly=True) as session:
        original = service.find(session, source="website", external_id="L-1").id  # type: ignore[union-attr]
    links = _take(engine, _lead(2, email="b@x.cn"), _lead(3, email="b@x.cn", phone="13800000009"),
                  _lead(4, email="b@x.cn"))
    assert stored is None
    assert links[1] == original  # the stored lead (phone) beats the batch's first (email)
    assert links[2] is not None and links[2] != original  # only the batch's first shares its key


def test_a_chain_of_duplicates_points_at_the_original(engine: Engine, org: Org) -> None:
    first = _take(engine, _lead(1, email="c@x.cn"))
    second = _take(engine, _lead(2, email="c@x.cn", phone="13800000005"))
    third = _take(engine, _lead(3, phone="13800000005"))
    assert first == [None] and second[0] is not None and third == second  # via the second to the first


def test_an_arriving_lead_is_scored_in_its_insert(engine: Engine, org: Org) -> None:
    _take(engine, _lead(1))  # the scoring model's first version is installed by the first score
    with statements(engine) as seen, session_scope(engine) as session:
        [taken] = service.intake_many(session, [_lead(2, title="采购经理")], actor=None, dedup=DEDUP)
    assert taken.lead.score is not None and taken.lead.score_model_version is not None
    assert [s for s in seen if s.startswith("UPDATE leads")] == []
    assert sum(s.startswith("INSERT INTO leads") for s in seen) == 1
