"""Every text field of every request body refuses NUL and bidirectional controls: 422 naming the field, and
nothing stored — no row, no audit entry.

The operations and their fields come from the OpenAPI schema: a new operation with a body fails here until it
has a valid example below, and an example must fill every field that holds text, so a new field is covered.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from evenhand.app import create_app
from evenhand.config import Settings
from evenhand.db import make_engine
from evenhand.kit.text import CONTROL, NUL
from tests.builders import Org
from tests.support import audit_entries, error_of, row_counts

EN = {"Accept-Language": "en"}
BAD = {"\x00": NUL, "\u202e": CONTROL, "\u2066": CONTROL, "\x1b": CONTROL}
POLICY = "name: a policy\npools: []\n"
LEAD: dict[str, Any] = {
    "source": "web", "external_id": "X-1", "company": "ACME", "contact_name": "Ann", "email": "ann@acme.test",
    "phone": "+86 138", "title": "CTO", "industry": "IT", "region": "EAST", "company_size": 10,
    "events": [{"kind": "page_view", "dwell_seconds": 30, "detail": "/pricing"}]}
REF = {"code": "NEW", "name": "New"}
TEAM = {"name": "West", "department_id": 1}
USER = {"display_name": "New Rep", "external_id": "E-1", "email": "new@acme.test", "phone": "+86 139",
        "skills": ["cloud"], "timezone": "Asia/Shanghai", "working_hours": {"mon": [["09:00", "18:00"]]},
        "password": "long enough pw"}
PREFERENCES = {"channels": ["sms"], "personal": {"sms": "+86 138"}, "quiet_start": "22:00", "quiet_end": "07:00"}
CHANNEL = {"name": "Ops SMS", "channel": "sms", "url": "json://hooks.example/{phone}"}
ACTIVITY = {"external_id": "T-1", "type": "call", "direction": "outbound", "occurred_at": "2026-03-02T09:30:00+08:00",
            "occurred_time": "09:30", "duration": "0:03:25", "subject": "Intro", "recording_ref": "rec/1",
            "rep": "rep_n1", "opportunity": "006A", "lead": "00Q1", "email": "a@b.cn", "phone": "+86 138",
            "body": "已电话沟通", "note": "已电话沟通"}
ACCOUNT = {"name": "Acme", "industry": "IT", "region": "EAST", "owner": "rep_n1"}
DEAL = {"name": "Acme renewal", "account": "Acme", "account_name": "Acme", "product": "CLOUD", "stage": "proposal"}
CHANGE = {"title": "CRM 3.2", "kind": "release", "system": "crm", "description": "push SDK", "affected_metrics": ["x"],
          "monitors": [{"kpi": "lead_conversion"}], "checklist": {"rollback_plan": "back to 3.1"}}
EXAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/departments"): REF, ("PATCH", "/api/v1/departments/{obj_id}"): REF,
    ("POST", "/api/v1/regions"): REF, ("PATCH", "/api/v1/regions/{obj_id}"): REF,
    ("POST", "/api/v1/product-lines"): REF, ("PATCH", "/api/v1/product-lines/{obj_id}"): REF,
    ("POST", "/api/v1/teams"): TEAM, ("PATCH", "/api/v1/teams/{obj_id}"): TEAM,
    ("POST", "/api/v1/users"): {"username": "newrep", **USER},
    ("PATCH", "/api/v1/users/{user_id}"): USER,
    ("PUT", "/api/v1/users/by-external-id/{external_id}"): {
        "username": "new.rep", "display_name": "New Rep", "email": "new@acme.test", "phone": "+86 139",
        "team": "West", "department": "SALES", "region": "EAST", "manager": "admin", "manager_name": "Boss",
        "timezone": "Asia/Shanghai"},
    ("PUT", "/api/v1/users/{user_id}/presence"): {"presence": "online"},
    ("PUT", "/api/v1/users/{user_id}/product-lines"): {"codes": ["CLOUD"]},
    ("POST", "/api/v1/users/{user_id}/leaves"): {"starts_on": "2026-03-02", "ends_on": "2026-03-03", "reason": "ill"},
    ("PUT", "/api/v1/users/{user_id}/grants"): {"grant": "key_account", "reason": "earned it"},
    ("POST", "/api/v1/leads"): LEAD,
    ("POST", "/api/v1/leads/batch"): {"leads": [LEAD]},
    ("POST", "/api/v1/leads/{lead_id}/events"): LEAD["events"][0],
    ("POST", "/api/v1/leads/{lead_id}/events/batch"): {"events": LEAD["events"]},
    ("PUT", "/api/v1/scoring/model"): {"body": POLICY, "note": "why"},
    ("POST", "/api/v1/scoring/validate"): {"body": POLICY},
    ("POST", "/api/v1/scoring/preview"): {"body": POLICY, "days": 30},
    ("PUT", "/api/v1/routing/policy"): {"body": POLICY, "note": "why", "affected_metrics": ["wait"]},
    ("POST", "/api/v1/routing/validate"): {"body": POLICY},
    ("PUT", "/api/v1/standards"): {"body": POLICY, "note": "why"},
    ("POST", "/api/v1/standards/validate"): {"body": POLICY},
    ("POST", "/api/v1/standards/preview"): {"body": POLICY, "days": 30},
    ("POST", "/api/v1/honesty/flags/{flag_id}/decision"): {"decision": "dismiss", "note": "the call was on a mobile"},
    ("PUT", "/api/v1/alerts/rules"): {"body": POLICY, "note": "why"},
    ("POST", "/api/v1/alerts/rules/validate"): {"body": POLICY},
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): {"comment": "on it"},
    ("POST", "/api/v1/alerts/{alert_id}/comments"): {"comment": "called the customer"},
    ("POST", "/api/v1/alerts/{alert_id}/snooze"): {"until": "2026-03-09T09:00:00+08:00", "reason": "customer away"},
    ("POST", "/api/v1/alerts/{alert_id}/resolve"): {"comment": "deal moved"},
    ("POST", "/api/v1/qa/samples"): {"period": "2026-03", "seed": 1, "share": 0.1},
    ("PUT", "/api/v1/qa/reviews/{review_id}"): {"scores": {"discovery": 4}, "comment": "good opening",
                                                "coaching": ["ask about the budget"]},
    ("PUT", "/api/v1/qa/rubric"): {"body": POLICY, "note": "why"},
    ("POST", "/api/v1/qa/rubric/validate"): {"body": POLICY},
    ("POST", "/api/v1/peer/cycles"): {"period": "2026-03", "seed": 1, "per_reviewer": 3, "threshold": 3},
    ("PUT", "/api/v1/peer/cycles/{period}/threshold"): {"threshold": 4},
    ("POST", "/api/v1/peer/reviews"): {"assignment_id": 1, "professionalism": 4, "collaboration": 5,
                                       "comment": "shares customer notes"},
    ("PUT", "/api/v1/scorecards/templates"): {"body": POLICY, "note": "why"},
    ("POST", "/api/v1/scorecards/templates/validate"): {"body": POLICY},
    ("POST", "/api/v1/scorecards/periods/{period_key}/reopen"): {"reason": "a late payment"},
    ("POST", "/api/v1/scorecards/grants/whatif"): {"body": POLICY, "period": "2026-09", "days": 30},
    ("POST", "/api/v1/leads/{lead_id}/reassign"): {"reason": "on leave", "rep_id": 1},
    ("POST", "/api/v1/routing/whatif"): {"body": POLICY, "from": "2026-03-02", "to": "2026-03-03"},
    ("POST", "/api/v1/reports/fairness/publish"): {"month": "2026-11", "team_id": 1},
    ("POST", "/api/v1/appeals"): {"decision_id": 1, "reason_code": "other", "reason": "not mine", "corrections": {
        "industry": "IT", "region": "EAST", "title": "CTO", "source": "web", "company_size": 5}},
    ("POST", "/api/v1/appeals/{appeal_id}/ruling"): {"outcome": "uphold", "note": "fine"},
    ("POST", "/api/v1/leads/{lead_id}/outcome"): {"outcome": "disqualified", "reason": "no budget"},
    ("POST", "/api/v1/accounts"): {"source": "crm", "external_id": "A-1", **ACCOUNT},
    ("PATCH", "/api/v1/accounts/{source}/{external_id}"): ACCOUNT,
    ("POST", "/api/v1/opportunities"): {"source": "crm", "external_id": "D-1", "owner": "rep_n1", **DEAL},
    ("PATCH", "/api/v1/opportunities/{source}/{external_id}"): {"owner": "rep_n1", **DEAL},
    ("POST", "/api/v1/activities"): ACTIVITY,
    ("PATCH", "/api/v1/activities/{source_system}/{external_id}"): {
        k: v for k, v in ACTIVITY.items() if k not in ("external_id", "occurred_time")},
    ("POST", "/api/v1/activities/unmatched/{entry_id}/link"): {"rep_id": 1, "lead_id": 1},
    ("PUT", "/api/v1/notifications/settings"): PREFERENCES,
    ("PUT", "/api/v1/notifications/users/{user_id}/settings"): PREFERENCES,
    ("POST", "/api/v1/notifications/channels"): CHANNEL,
    ("PUT", "/api/v1/notifications/channels/{endpoint_id}"): CHANNEL,
    ("POST", "/api/v1/changes"): CHANGE,
    ("PATCH", "/api/v1/changes/{change_id}"): CHANGE,
    ("POST", "/api/v1/changes/{change_id}/rollback"): {"reason": "push lost on Android"},
    ("PUT", "/api/v1/monitor/kpis/definitions"): {"body": POLICY, "note": "why"},
    ("POST", "/api/v1/monitor/kpis/definitions/validate"): {"body": POLICY},
    ("POST", "/api/v1/canaries"): {"body": POLICY, "share": 0.1, "metrics": ["first_response_mean"], "note": "why"},
    ("POST", "/api/v1/canaries/{canary_id}/rollback"): {"reason": "slower first response"},
    ("POST", "/api/v1/canaries/{canary_id}/promote"): {"note": "better"},
}
# The batch's rows are validated one by one, so that an error names its row; a YAML document's characters are
# checked by its reader, naming the line (see the tests below).
# A record a CRM names by its source and external id (an all-digit source would be read as a record's id).
PATH_TEXT = {"source": "crm", "source_system": "crm", "external_id": "X-1"}
ROWS_CHECKED_ONE_BY_ONE = {("POST", "/api/v1/leads/batch")}
DOCUMENT = "body"


def _schema() -> dict[str, Any]:
    app = create_app(Settings(database_url="sqlite://", mode="test"), make_engine("sqlite://"), ui=False)
    return app.openapi()


SCHEMA = _schema()
COMPONENTS = SCHEMA["components"]["schemas"]
OPERATIONS = {(method.upper(), path): op["requestBody"]["content"]["application/json"]["schema"]
              for path, item in SCHEMA["paths"].items() for method, op in item.items() if "requestBody" in op}


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while True:
        if "$ref" in schema:
            schema = COMPONENTS[schema["$ref"].rsplit("/", 1)[1]]
        elif options := [o for o in schema.get("anyOf", []) if o.get("type") != "null"]:
            schema = options[0]
        else:
            return schema


def _holds_text(schema: dict[str, Any], depth: int = 0) -> bool:
    s = _resolve(schema)
    if depth > 8:
        return False
    if s.get("type") == "string":
        return "enum" not in s and "const" not in s and s.get("format") not in ("date", "date-time")
    parts = [*s.get("properties", {}).values(), *s.get("prefixItems", [])]
    parts += [p for p in (s.get("items"), s.get("additionalProperties")) if isinstance(p, dict)]
    return any(_holds_text(p, depth + 1) for p in parts)


def _unfilled(value: Any, schema: dict[str, Any], path: str = "") -> Iterator[str]:
    """Fields holding text that the example leaves out."""
    s = _resolve(schema)
    if isinstance(value, dict) and "properties" in s:
        for name, prop in s["properties"].items():
            if name not in value and _holds_text(prop):
                yield f"{path}{name}"
            elif name in value:
                yield from _unfilled(value[name], prop, f"{path}{name}.")
    elif isinstance(value, list) and isinstance(s.get("items"), dict):
        for item in value:
            yield from _unfilled(item, s["items"], path)


@dataclass(frozen=True)
class Leaf:
    path: tuple[str | int, ...]
    field: str  # as the error names it: the model fields down to the value (a list of text is one field)
    patterned: bool  # its own format check (a code, an e-mail address) may refuse it first


def _leaves(value: Any, schema: dict[str, Any], path: tuple[str | int, ...] = (), field: str = "") -> Iterator[Leaf]:
    s = _resolve(schema)
    if isinstance(value, str) and _holds_text(s):
        yield Leaf(path, field, "pattern" in s)
    elif isinstance(value, dict):
        model = "properties" in s
        for key, item in value.items():
            inner = s["properties"][key] if model else s.get("additionalProperties", {})
            named = ".".join(map(str, (*path, key))) if model else field
            yield from _leaves(item, inner, (*path, key), named)
    elif isinstance(value, list):
        items = s.get("prefixItems") or [s.get("items", {})] * len(value)
        for index, (item, inner) in enumerate(zip(value, items, strict=False)):
            yield from _leaves(item, inner, (*path, index), field)


def _with(body: Any, path: tuple[str | int, ...], text: str) -> Any:
    if not path:
        return text
    copy = dict(body) if isinstance(body, dict) else list(body)
    copy[path[0]] = _with(body[path[0]], path[1:], text)  # type: ignore[index]
    return copy


def test_every_operation_with_a_body_has_an_example_filling_every_text_field() -> None:
    assert set(OPERATIONS) == set(EXAMPLES)
    for operation, schema in OPERATIONS.items():
        assert list(_unfilled(EXAMPLES[operation], schema)) == [], operation


@pytest.fixture
def english(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, headers=EN) as client:
        yield client


def _checked_leaves(operation: tuple[str, str]) -> list[Leaf]:
    return [leaf for leaf in _leaves(EXAMPLES[operation], OPERATIONS[operation]) if leaf.field != DOCUMENT]


WITH_TEXT = sorted(op for op in set(EXAMPLES) - ROWS_CHECKED_ONE_BY_ONE if _checked_leaves(op))


def test_the_walk_finds_the_text_fields_it_should() -> None:
    found = {leaf.field for leaf in _leaves(EXAMPLES["POST", "/api/v1/leads"], OPERATIONS["POST", "/api/v1/leads"])}
    assert {"company", "email", "events.0.detail"} <= found and "events.0.kind" not in found
    assert len(WITH_TEXT) >= 25


@pytest.mark.parametrize("operation", WITH_TEXT, ids=" ".join)
def test_each_text_field_refuses_nul_and_bidi_controls(english: TestClient, engine: Engine, org: Org,
                                                      operation: tuple[str, str]) -> None:
    method, template = operation
    path = re.sub(r"\{(\w+)\}", lambda m: PATH_TEXT.get(m.group(1), str(org.leads[0].id)), template)
    example, before = EXAMPLES[operation], row_counts(engine)
    for leaf in _checked_leaves(operation):
        for char, message in BAD.items():
            response = english.request(method, path, json=_with(example, leaf.path, f"before{char}after"),
                                       headers=org.headers("admin"))
            error, named = error_of(response), {leaf.field}
            if leaf.patterned:  # its format check names the item: ``codes.0``
                named.add(".".join(map(str, leaf.path)))
            assert response.status_code == 422 and error["field"] in named, (leaf, char, response.text)
            assert [d["field"] for d in error["details"]] == [error["field"]], error  # the only problem
            if not leaf.patterned:
                assert error["details"][0]["message"] == message, error
    assert row_counts(engine) == before
    assert audit_entries(engine) == []


def test_a_batch_row_with_bidi_controls_is_named_by_row_and_field(english: TestClient, engine: Engine,
                                                                  org: Org) -> None:
    before = row_counts(engine)
    rows = [LEAD, {**LEAD, "external_id": "X-2", "company": "AC\u202eME"}]
    response = english.post("/api/v1/leads/batch", json={"leads": rows}, headers=org.headers("ops"))
    assert response.status_code == 422 and error_of(response)["field"] == "leads.1.company", response.text
    assert row_counts(engine) == before and audit_entries(engine) == []
    kept = english.post("/api/v1/leads/batch", json={"leads": rows, "skip_invalid": True},
                        headers=org.headers("ops")).json()
    assert (kept["created"], [(r["row"], r["field"], r["message"]) for r in kept["rejected"]]) == (
        1, [(2, "company", CONTROL)])


@pytest.mark.parametrize("text", ["第一行\n第二行\tindent\r\n", "emoji 👍 and a joiner 👨‍👩‍👧", "العربية", "ok"])
def test_ordinary_text_is_accepted(english: TestClient, org: Org, text: str) -> None:
    response = english.post(f"/api/v1/leads/{org.leads[0].id}/events", json={"kind": "page_view", "detail": text},
                            headers=org.headers("admin"))
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("kind", ["scoring/model", "routing/policy"])
def test_a_document_with_bidi_controls_is_not_saved(english: TestClient, engine: Engine, org: Org, kind: str) -> None:
    body = english.get(f"/api/v1/{kind}", headers=org.headers("ops")).json()["body"]
    before = row_counts(engine)
    response = english.put(f"/api/v1/{kind}", json={"body": body + "# \u202e reads backwards\n"},
                           headers=org.headers("admin"))
    assert response.status_code == 422 and error_of(response)["field"] == "body", response.text
    assert row_counts(engine) == before
    checked = english.post(f"/api/v1/{kind.split('/')[0]}/validate", json={"body": body + "# \x1b\n"},
                           headers=org.headers("ops")).json()
    assert checked["valid"] is False and checked["problems"], checked  # reported by the reader, not a 422
