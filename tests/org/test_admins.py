"""Nobody deactivates themselves or changes their own role, and the last active admin stays one: through
``DELETE /users/{id}``, ``PATCH /users/{id}`` (``active``, ``role``) and the service the admin page calls, even
when two admins remove each other at the same moment."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from evenhand.auth import service as auth_service
from evenhand.db import session_scope
from evenhand.errors import Conflict
from evenhand.models import Role, User
from evenhand.org import service
from tests.builders import Org, make_user
from tests.support import error_of, row_counts

API = "/api/v1"
LAST_ADMIN = "The last active admin cannot be deactivated or lose the admin role; make another user admin first."


def call(client: TestClient, org: Org, who: str, method: str, path: str, body: Any = None) -> Any:
    return client.request(method, f"{API}{path}", headers={**org.headers(who), "Accept-Language": "en"}, json=body)


def active_admins(engine: Engine) -> list[str]:
    with session_scope(engine, readonly=True) as session:
        return list(session.scalars(select(User.username).where(User.role == Role.ADMIN, User.active.is_(True))
                                    .order_by(User.username)))


REMOVALS = [("DELETE", None, "id"), ("PATCH", {"active": False}, "active"), ("PATCH", {"role": "rep"}, "role")]


@pytest.mark.parametrize("who", ["admin", "ops"])
@pytest.mark.parametrize("method, body, field", REMOVALS, ids=["delete", "inactive", "role"])
def test_nobody_removes_themselves(client: TestClient, engine: Engine, org: Org, who: str, method: str,
                                   body: dict[str, Any] | None, field: str) -> None:
    with session_scope(engine) as session:  # another admin, so the last-admin rule is not what refuses
        make_user(session, username="admin2", role=Role.ADMIN)
    counts = row_counts(engine)
    response = call(client, org, who, method, f"/users/{org.id(who)}", body)
    assert response.status_code == 403, response.text
    assert (error_of(response)["code"], error_of(response)["field"]) == ("forbidden", field)
    assert row_counts(engine) == counts
    assert call(client, org, who, "GET", "/me").json()["role"] == who  # still signed in, still in role


@pytest.mark.parametrize("method, body, field", REMOVALS, ids=["delete", "inactive", "role"])
def test_the_last_active_admin_stays(client: TestClient, engine: Engine, org: Org, method: str,
                                     body: dict[str, Any] | None, field: str) -> None:
    counts = row_counts(engine)
    response = call(client, org, "ops", method, f"/users/{org.id('admin')}", body)
    assert response.status_code == 409, response.text
    error = error_of(response)
    assert (error["code"], error["field"], error["message"]) == ("conflict", field, LAST_ADMIN)
    assert row_counts(engine) == counts and active_admins(engine) == ["admin"]


def test_an_inactive_admin_does_not_count(client: TestClient, engine: Engine, org: Org) -> None:
    with session_scope(engine) as session:
        make_user(session, username="admin2", role=Role.ADMIN, active=False)
    assert call(client, org, "ops", "DELETE", f"/users/{org.id('admin')}").status_code == 409


def test_with_another_admin_one_may_go_but_not_the_next(client: TestClient, engine: Engine, org: Org) -> None:
    promoted = call(client, org, "ops", "PATCH", f"/users/{org.id('sup_b')}", {"role": "admin"})
    assert promoted.status_code == 200, promoted.text
    demoted = call(client, org, "ops", "PATCH", f"/users/{org.id('admin')}", {"role": "ops"})
    assert demoted.status_code == 200, demoted.text
    assert active_admins(engine) == ["sup_b"]
    assert call(client, org, "ops", "DELETE", f"/users/{org.id('sup_b')}").status_code == 409
    assert call(client, org, "ops", "PATCH", f"/users/{org.id('admin')}", {"role": "admin"}).status_code == 200
    assert call(client, org, "ops", "DELETE", f"/users/{org.id('sup_b')}").status_code == 200
    assert active_admins(engine) == ["admin"]


def test_other_changes_to_the_last_admin_are_fine(client: TestClient, org: Org) -> None:
    for body in ({"display_name": "Root"}, {"role": "admin"}, {"active": True}):
        assert call(client, org, "ops", "PATCH", f"/users/{org.id('admin')}", body).status_code == 200, body
    assert call(client, org, "admin", "PATCH", f"/users/{org.id('admin')}", {"display_name": "Me"}).status_code == 200


def test_the_cli_and_workers_keep_the_last_admin_too(engine: Engine, org: Org) -> None:
    """Without an actor (a command, a job) only the last-admin rule applies."""
    with session_scope(engine) as session, pytest.raises(Conflict):
        service.deactivate_user(session, org.id("admin"), actor=None)
    assert active_admins(engine) == ["admin"]


def test_two_admins_removing_each_other_at_once_leave_one(engine: Engine) -> None:
    """The second waits for the first's commit (PostgreSQL: the audit chain's lock, then the admins' rows;
    SQLite: the writer), then finds the one it would remove is the last."""
    with session_scope(engine) as session:
        a, b = make_user(session, username="admin_a", role=Role.ADMIN), make_user(session, username="admin_b",
                                                                                  role=Role.ADMIN)
        acting = {u.id: auth_service.principal_for(session, u) for u in (a, b)}
    outcome: list[object] = []

    def b_removes_a() -> None:
        try:
            with session_scope(engine) as session:
                service.deactivate_user(session, a.id, actor=acting[b.id])
            outcome.append("removed")
        except Conflict as exc:
            outcome.append(exc)

    with session_scope(engine) as session:
        service.deactivate_user(session, b.id, actor=acting[a.id])
        second = threading.Thread(target=b_removes_a)
        second.start()
        time.sleep(1.0)
        assert second.is_alive() and outcome == [], "the second removal must wait for the first"
    second.join(timeout=30)
    assert len(outcome) == 1 and isinstance(outcome[0], Conflict), outcome
    assert active_admins(engine) == ["admin_a"]


def test_a_deactivated_admin_cannot_come_back_by_token(client: TestClient, engine: Engine, org: Org) -> None:
    """The control for the guards: an admin removed by another really is out."""
    with session_scope(engine) as session:
        session.execute(update(User).where(User.username == "sup_a").values(role=Role.ADMIN))
    assert call(client, org, "admin", "DELETE", f"/users/{org.id('sup_a')}").status_code == 200
    assert call(client, org, "sup_a", "GET", "/me").status_code == 401
