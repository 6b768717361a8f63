"""The write endpoints a CRM of record keeps evenhand in step with: ``POST`` creates or returns on (source,
external id), ``PATCH`` changes one; a stage move is recorded with its actor; every change is audited; what a writer
could not see afterwards is refused and nothing is written."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from evenhand.db import session_scope
from evenhand.kit.clock import utcnow
from evenhand.models import StageChange
from tests.builders import Org, make_product_line
from tests.support import audit_actions, error_of, row_counts

ACCOUNT = {"source": "salesforce", "external_id": "0015g00000XyZ01", "name": "Acme Corp", "industry": "制造业",
           "owner": "rep_n1"}
DEAL = {"source": "salesforce", "external_id": "0065g00000AbCdE", "name": "Acme – 200 seats",
        "account": "0015g00000XyZ01", "owner": "rep_n1", "product": "crm", "amount": "48000",
        "stage": "needs_analysis", "created_at": "2026-01-08T09:12:00+08:00", "engaged_at": "2026-01-20T10:00:00+08:00"}


def steps(engine: Engine, deal_id: int) -> list[tuple[str | None, str, bool, int | None]]:
    with session_scope(engine, readonly=True) as session:
        rows = session.scalars(select(StageChange).where(StageChange.opportunity_id == deal_id).order_by(
            StageChange.changed_at, StageChange.id))
        return [(c.from_stage and c.from_stage.value, c.to_stage.value, c.derived, c.changed_by_id) for c in rows]


def post(client: TestClient, org: Org, path: str, body: dict[str, Any], who: str = "ops") -> Any:
    return client.post(f"/api/v1/{path}", json=body, headers=org.headers(who))


def test_an_account_is_created_once_and_patched(client: TestClient, engine: Engine, org: Org) -> None:
    first = post(client, org, "accounts", ACCOUNT)
    assert first.status_code == 201, first.text
    assert (first.json()["owner_id"], first.json()["industry"]) == (org.id("rep_n1"), "制造业")
    again = post(client, org, "accounts", {**ACCOUNT, "name": "Another name"})
    assert again.status_code == 200 and again.json() == first.json()  # returned as it is
    patched = client.patch("/api/v1/accounts/salesforce/0015g00000XyZ01", json={"industry": None, "owner": "rep_n2"},
                           headers=org.headers("ops"))
    assert patched.status_code == 200, patched.text
    assert (patched.json()["industry"], patched.json()["owner_id"]) == (None, org.id("rep_n2"))
    account_id = first.json()["id"]
    assert [a for a in audit_actions(engine) if a[0].startswith("accounts.")] == [
        ("accounts.create", str(account_id), org.id("ops")), ("accounts.update", str(account_id), org.id("ops"))]
    audited = len(audit_actions(engine))
    unchanged = client.patch("/api/v1/accounts/salesforce/0015g00000XyZ01", json={"owner": "rep_n2"},
                             headers=org.headers("ops"))
    assert unchanged.status_code == 200 and len(audit_actions(engine)) == audited  # nothing changed
    assert client.get(f"/api/v1/accounts/{account_id}", headers=org.headers("rep_n2")).status_code == 200
    assert client.get(f"/api/v1/accounts/{account_id}", headers=org.headers("rep_n1")).status_code == 404


def test_account_writes_are_refused_naming_the_field(client: TestClient, engine: Engine, org: Org) -> None:
    before = row_counts(engine)
    unknown = post(client, org, "accounts", {**ACCOUNT, "owner": "nobody@example.com"})
    assert (unknown.status_code, error_of(unknown)["field"]) == (422, "owner")
    region = post(client, org, "accounts", {**ACCOUNT, "region": "Mars"})
    assert region.status_code == 422 and "EAST (华东)" in error_of(region)["message"]
    unseen = post(client, org, "accounts", {**ACCOUNT, "owner": None}, who="rep_n1")
    assert (unseen.status_code, error_of(unseen)["field"]) == (403, "owner")  # nobody's: a rep would not see it
    auditor = post(client, org, "accounts", ACCOUNT, who="auditor")
    assert auditor.status_code == 403
    missing = client.patch("/api/v1/accounts/salesforce/nope", json={"name": "x"}, headers=org.headers("ops"))
    assert missing.status_code == 404
    assert row_counts(engine) == before


def test_a_region_is_stored_as_its_code(client: TestClient, org: Org) -> None:
    created = post(client, org, "accounts", {**ACCOUNT, "region": "华东"})
    assert created.json()["region"] == "EAST"


def _deal(client: TestClient, engine: Engine, org: Org) -> dict[str, Any]:
    with session_scope(engine) as session:
        make_product_line(session, code="CRM", name="CRM 云")
    assert post(client, org, "accounts", ACCOUNT).status_code == 201
    created = post(client, org, "opportunities", DEAL, who="rep_n1")
    assert created.status_code == 201, created.text
    return dict(created.json())


def test_a_deal_is_created_once_with_its_history_derived(client: TestClient, engine: Engine, org: Org) -> None:
    deal = _deal(client, engine, org)
    assert (deal["stage"], deal["amount"], deal["won"], deal["closed_at"]) == ("needs_analysis", "48000.00", None,
                                                                               None)
    assert deal["engaged_at"].startswith("2026-01-20T02:00:00") and deal["stage_changed_at"] == deal["engaged_at"]
    assert steps(engine, deal["id"]) == [(None, "qualification", True, None), ("qualification", "needs_analysis",
                                                                                True, None)]
    again = post(client, org, "opportunities", {**DEAL, "amount": "1"}, who="rep_n1")
    assert again.status_code == 200 and again.json() == deal
    history = client.get(f"/api/v1/opportunities/{deal['id']}/stages", headers=org.headers("rep_n1")).json()
    assert [h["derived"] for h in history] == [True, True]


def test_a_stage_move_through_patch_is_recorded_with_its_actor(client: TestClient, engine: Engine,
                                                               org: Org) -> None:
    deal = _deal(client, engine, org)
    path = "/api/v1/opportunities/salesforce/0065g00000AbCdE"
    moved = client.patch(path, json={"stage": "proposal"}, headers=org.headers("rep_n1"))
    assert moved.status_code == 200, moved.text
    won = client.patch(path, json={"stage": "won", "amount": "50000"}, headers=org.headers("sup_a"))
    body = won.json()
    assert (body["stage"], body["won"], body["amount"]) == ("won", True, "50000.00")
    assert abs((utcnow() - _time(body["closed_at"])).total_seconds()) < 60  # closing closes it now
    assert steps(engine, deal["id"])[2:] == [("needs_analysis", "proposal", False, org.id("rep_n1")),
                                             ("proposal", "won", False, org.id("sup_a"))]
    reopened = client.patch(path, json={"stage": "negotiation"}, headers=org.headers("rep_n1")).json()
    assert (reopened["closed_at"], reopened["won"]) == (None, None)
    assert [a[0] for a in audit_actions(engine)].count("opportunities.update") == 3


def test_dates_moved_through_patch_rebuild_a_derived_history(client: TestClient, engine: Engine, org: Org) -> None:
    deal = _deal(client, engine, org)
    engaged = "2026-01-25T10:00:00+08:00"
    patched = client.patch("/api/v1/opportunities/salesforce/0065g00000AbCdE", json={"engaged_at": engaged},
                           headers=org.headers("rep_n1"))
    assert patched.status_code == 200, patched.text
    history = client.get(f"/api/v1/opportunities/{deal['id']}/stages", headers=org.headers("rep_n1")).json()
    assert [(h["to_stage"], h["changed_at"][:10], h["derived"]) for h in history] == [
        ("qualification", "2026-01-08", True), ("needs_analysis", "2026-01-25", True)]


def test_deal_writes_are_refused_naming_the_field(client: TestClient, engine: Engine, org: Org) -> None:
    _deal(client, engine, org)
    before = row_counts(engine)
    product = post(client, org, "opportunities", {**DEAL, "external_id": "X1", "product": "ERP"})
    assert (product.status_code, error_of(product)["field"]) == (422, "product")
    assert "CRM (CRM 云)" in error_of(product)["message"]
    account = post(client, org, "opportunities", {**DEAL, "external_id": "X2", "account": "0015g00000NOPE"})
    assert (account.status_code, error_of(account)["field"]) == (422, "account")
    closed = post(client, org, "opportunities", {**DEAL, "external_id": "X3", "stage": "won"})
    assert (closed.status_code, error_of(closed)["field"]) == (422, "closed_at")
    flag = post(client, org, "opportunities", {**DEAL, "external_id": "X4", "won": True})
    assert (flag.status_code, error_of(flag)["field"]) == (422, "won")
    early = client.patch("/api/v1/opportunities/salesforce/0065g00000AbCdE",
                         json={"engaged_at": "2025-01-01T00:00:00+08:00"}, headers=org.headers("ops"))
    assert (early.status_code, error_of(early)["field"]) == (422, "engaged_at")
    given_away = client.patch("/api/v1/opportunities/salesforce/0065g00000AbCdE", json={"owner": "rep_e1"},
                              headers=org.headers("rep_n1"))
    assert (given_away.status_code, error_of(given_away)["field"]) == (403, "owner")
    unseen = client.patch("/api/v1/opportunities/salesforce/0065g00000AbCdE", json={"stage": "lost"},
                          headers=org.headers("rep_e1"))
    assert unseen.status_code == 404
    taken = post(client, org, "opportunities", DEAL, who="rep_e1")
    assert (taken.status_code, error_of(taken)["field"]) == (409, "external_id")
    emptied = client.patch("/api/v1/opportunities/salesforce/0065g00000AbCdE", json={"amount": None},
                           headers=org.headers("ops"))
    assert (emptied.status_code, error_of(emptied)["field"]) == (422, "amount")
    assert row_counts(engine) == before


def test_a_deal_named_by_a_new_account_name_creates_the_account(client: TestClient, engine: Engine,
                                                                org: Org) -> None:
    body = {"source": "crm", "external_id": "商机-1", "owner": "rep_s1", "account_name": "苏州精密制造有限公司"}
    created = post(client, org, "opportunities", body, who="sup_a")
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "苏州精密制造有限公司" and created.json()["stage"] == "qualification"
    accounts = client.get("/api/v1/accounts", headers=org.headers("rep_s1")).json()
    assert [(a["name"], a["source"], a["external_id"]) for a in accounts["items"]] == [
        ("苏州精密制造有限公司", "crm", None)]  # nobody owns it; rep_s1 reads it through the deal
    named = {"source": "crm", "external_id": "客户-9", "name": "苏州精密制造有限公司"}
    taken_over = post(client, org, "accounts", named)
    assert taken_over.status_code == 200 and taken_over.json()["id"] == created.json()["account_id"]
    assert taken_over.json()["external_id"] == "客户-9"


def test_accounts_are_listed_as_their_readers_may_see_them(client: TestClient, org: Org) -> None:
    for n, owner in enumerate(("rep_n1", "rep_e1", None)):
        assert post(client, org, "accounts", {**ACCOUNT, "external_id": f"A{n}", "name": f"Account {n}",
                                              "owner": owner}).status_code == 201
    names = lambda who, q=None: [a["name"] for a in client.get(  # noqa: E731
        "/api/v1/accounts", params={"q": q} if q else {}, headers=org.headers(who)).json()["items"]]
    assert names("admin") == ["Account 0", "Account 1", "Account 2"]
    assert names("sup_a") == ["Account 0"] and names("rep_e1") == ["Account 1"] and names("rep_n2") == []
    assert names("auditor", "COUNT 2") == ["Account 2"]


def _time(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text)


def test_open_deals_keep_no_expected_close_date(client: TestClient, engine: Engine, org: Org) -> None:
    _deal(client, engine, org)
    expected = (utcnow() + timedelta(days=30)).isoformat()
    body = post(client, org, "opportunities", {**DEAL, "external_id": "X9", "closed_at": expected}).json()
    assert (body["stage"], body["closed_at"]) == ("needs_analysis", None)
