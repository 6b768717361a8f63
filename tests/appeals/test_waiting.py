"""The supervisor's appeals to rule on (the home page's list): open appeals of their own teams, oldest first, none
ruled already, none for someone who may only read them."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from evenhand.appeals import reading
from evenhand.db import session_scope
from tests.appeals.factory import Company, build, file, lead_to, principal, rule


@pytest.fixture
def company(engine: Engine) -> Company:
    with session_scope(engine) as session:
        return build(session)


def waiting(engine: Engine, company: Company, who: str) -> list[tuple[int, str, str]]:
    with session_scope(engine, readonly=True) as session:
        rows = reading.waiting(session, principal(session, who, company))
        return [(r.appeal.id, r.company, r.appellant) for r in rows]


def test_open_appeals_of_the_supervisors_teams_oldest_first(engine: Engine, company: Company) -> None:
    first = file(engine, company, "a", lead_to(engine, company, "a", 1)[1])
    ruled = file(engine, company, "b", lead_to(engine, company, "b", 2)[1])
    last = file(engine, company, "c", lead_to(engine, company, "c", 3)[1])
    rule(engine, company, "boss", ruled, outcome="uphold", note="维持")
    assert waiting(engine, company, "boss") == [(first, "公司1", "A"), (last, "公司3", "C")]
    assert waiting(engine, company, "boss2") == []  # not his team
    assert [i for i, *_ in waiting(engine, company, "ops")] == [first, last]
    assert waiting(engine, company, "auditor") == []  # reads appeals, rules on none
    assert waiting(engine, company, "a") == []  # a rep reads their own appeal, never rules on it
