"""Text the pages hand straight to a service (a reassignment's reason, a policy or model saved from its editor)
is checked as the API's schemas check it: ``Invalid`` naming the field, and nothing written."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from evenhand.db import session_scope
from evenhand.errors import Invalid
from evenhand.kit.text import CONTROL, NUL
from evenhand.leads import scoring_service
from evenhand.routing import policy_versions, reassignment
from evenhand.routing import service as routing_service
from tests.appeals.factory import Company, build, lead_to, principal
from tests.support import row_counts


@pytest.fixture
def company(engine: Engine) -> Company:
    with session_scope(engine) as session:
        return build(session)


@pytest.mark.parametrize("reason, message", [("交接\u202e", CONTROL), ("hand\x00over", NUL)])
def test_a_reassignment_reason_from_a_page_is_checked(engine: Engine, company: Company, reason: str,
                                                      message: str) -> None:
    lead_id, _ = lead_to(engine, company, "a")
    before = row_counts(engine)
    with pytest.raises(Invalid) as caught, session_scope(engine) as session:
        boss = principal(session, "boss", company)
        lead = routing_service.reassignable(session, boss, lead_id)
        reassignment.reassign(session, lead, actor=boss, note=reason)
    assert (caught.value.field, caught.value.message) == ("reason", message)
    assert row_counts(engine) == before


def test_a_policy_or_model_saved_from_its_editor_is_checked(engine: Engine, company: Company) -> None:
    with session_scope(engine) as session:
        policy, model = policy_versions.active(session).body, scoring_service.active(session).body
    before = row_counts(engine)
    saves = [lambda s, who: policy_versions.save(s, policy, author=who, note="ok\u2067"),
             lambda s, who: policy_versions.save(s, policy, author=who, affected_metrics=["wait\u200e"]),
             lambda s, who: policy_versions.save(s, policy + "# \u202e comment\n", author=who),
             lambda s, who: scoring_service.save(s, model, author=who, note="a\x00b")]
    for save, field in zip(saves, ("note", "affected_metrics", "body", "note"), strict=True):
        with pytest.raises(Invalid) as caught, session_scope(engine) as session:
            save(session, principal(session, "ops", company))
        assert caught.value.field == field
    assert row_counts(engine) == before
