"""Browser sign-in: the session cookie, same-origin checks, CSRF on cookie writes, the login rate limit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from http.cookies import SimpleCookie

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, select, update

from evenhand.config import Settings
from evenhand.db import session_scope
from evenhand.deps import SESSION_COOKIE
from evenhand.kit.clock import utcnow
from evenhand.models import Role, User, WebSession
from tests.builders import PASSWORD, make_user
from tests.support import error_of, row_counts

ORIGIN = {"Origin": "http://testserver"}


@pytest.fixture
def alice(engine: Engine) -> User:
    with session_scope(engine) as session:
        return make_user(session, username="alice", role=Role.ADMIN, password=PASSWORD)


@pytest.fixture
def rep(engine: Engine) -> User:
    with session_scope(engine) as session:
        return make_user(session, username="bob", role=Role.REP, password=PASSWORD)


def login(client: TestClient, username: str, password: str = PASSWORD, headers: dict[str, str] | None = None,
          **form: str) -> Response:
    return client.post("/auth/login", data={"username": username, "password": password, **form},
                       headers=ORIGIN if headers is None else headers, follow_redirects=False)


def session_cookie(response: Response) -> SimpleCookie | None:
    for header in response.headers.get_list("set-cookie"):
        jar = SimpleCookie(header)
        if SESSION_COOKIE in jar:
            return jar
    return None


def csrf_of(engine: Engine) -> str:
    with session_scope(engine, readonly=True) as session:
        return session.scalars(select(WebSession.csrf_token)).one()


class TestSignIn:
    def test_sets_an_httponly_lax_cookie_and_redirects(self, client: TestClient, alice: User) -> None:
        response = login(client, "alice", next="/leads")
        assert response.status_code == 303
        assert response.headers["location"] == "/leads"
        jar = session_cookie(response)
        assert jar is not None
        morsel = jar[SESSION_COOKIE]
        assert morsel.value.startswith("ehs_")
        assert morsel["httponly"] is True
        assert morsel["samesite"].lower() == "lax"
        assert morsel["path"] == "/"
        assert int(morsel["max-age"]) == 7 * 86400

    def test_the_cookie_signs_api_requests_in(self, client: TestClient, engine: Engine, alice: User) -> None:
        login(client, "alice")
        me = client.get("/api/v1/me")
        assert me.status_code == 200, me.text
        assert (me.json()["username"], me.json()["role"]) == ("alice", "admin")
        assert me.json()["csrf_token"] == csrf_of(engine)

    def test_the_cookie_holds_no_secret_the_database_keeps(self, client: TestClient, engine: Engine,
                                                           alice: User) -> None:
        token = session_cookie(login(client, "alice"))[SESSION_COOKIE].value  # type: ignore[index]
        with session_scope(engine, readonly=True) as session:
            stored = session.scalars(select(WebSession.token_hash)).one()
        assert token not in stored and len(stored) == 64

    @pytest.mark.parametrize("headers", [
        {"Origin": "http://evil.example"},
        {"Origin": "http://testserver.evil.example"},
        {"Referer": "https://evil.example/login"},
        {},
    ], ids=["foreign-origin", "lookalike-origin", "foreign-referer", "no-origin"])
    def test_cross_site_sign_in_is_refused(self, client: TestClient, engine: Engine, alice: User,
                                           headers: dict[str, str]) -> None:
        counts = row_counts(engine)
        response = login(client, "alice", headers=headers)
        assert response.status_code == 403
        assert error_of(response)["code"] == "forbidden"
        assert session_cookie(response) is None
        assert row_counts(engine) == counts

    def test_a_same_site_referer_is_enough(self, client: TestClient, alice: User) -> None:
        response = login(client, "alice", headers={"Referer": "http://testserver/login"})
        assert response.status_code == 303 and session_cookie(response) is not None

    @pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example",
                                        "javascript:alert(1)"])
    def test_next_never_leaves_the_site(self, client: TestClient, alice: User, target: str) -> None:
        location = login(client, "alice", next=target).headers["location"]
        assert location.startswith("/") and not location.startswith(("//", "/\\")), location

    @pytest.mark.parametrize("username, password", [("alice", "wrong password"), ("nobody", PASSWORD),
                                                    ("", PASSWORD)])
    def test_bad_credentials_get_no_session(self, client: TestClient, alice: User, username: str,
                                            password: str) -> None:
        response = login(client, username, password)
        assert response.status_code in (303, 422)
        if response.status_code == 303:
            assert response.headers["location"] == "/login?error=credentials"
        assert session_cookie(response) is None
        assert client.get("/api/v1/me").status_code == 401

    def test_an_inactive_user_cannot_sign_in(self, client: TestClient, engine: Engine, alice: User) -> None:
        with session_scope(engine) as session:
            session.execute(update(User).where(User.id == alice.id).values(active=False))
        response = login(client, "alice")
        assert response.headers["location"] == "/login?error=credentials"
        assert session_cookie(response) is None


class TestSession:
    def test_expired_session_is_401(self, client: TestClient, engine: Engine, alice: User) -> None:
        login(client, "alice")
        with session_scope(engine) as session:
            session.execute(update(WebSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        assert client.get("/api/v1/me").status_code == 401

    def test_deactivation_ends_open_sessions(self, client: TestClient, engine: Engine, alice: User) -> None:
        login(client, "alice")
        with session_scope(engine) as session:
            session.execute(update(User).where(User.id == alice.id).values(active=False))
        assert client.get("/api/v1/me").status_code == 401

    def test_logout_deletes_the_session(self, client: TestClient, engine: Engine, alice: User) -> None:
        login(client, "alice")
        cookie = client.cookies.get(SESSION_COOKIE)
        response = client.post("/auth/logout", headers=ORIGIN, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login"
        assert row_counts(engine)["web_sessions"] == 0
        client.cookies.set(SESSION_COOKIE, cookie or "")
        assert client.get("/api/v1/me").status_code == 401

    def test_cross_site_logout_is_refused(self, client: TestClient, engine: Engine, alice: User) -> None:
        login(client, "alice")
        response = client.post("/auth/logout", headers={"Origin": "http://evil.example"}, follow_redirects=False)
        assert response.status_code == 403
        assert row_counts(engine)["web_sessions"] == 1
        assert client.get("/api/v1/me").status_code == 200


class TestCsrf:
    def test_cookie_post_needs_the_csrf_token(self, client: TestClient, engine: Engine, alice: User) -> None:
        login(client, "alice")
        counts = row_counts(engine)
        body = {"code": "CSRF", "name": "Guarded"}
        for headers in ({}, {"X-CSRF-Token": "guess"}, {"X-CSRF-Token": ""}):
            response = client.post("/api/v1/departments", json=body, headers=headers)
            assert response.status_code == 403, (headers, response.text)
            assert error_of(response)["field"] == "x-csrf-token"
        assert row_counts(engine) == counts
        ok = client.post("/api/v1/departments", json=body, headers={"X-CSRF-Token": csrf_of(engine)})
        assert ok.status_code == 201, ok.text

    def test_cookie_put_needs_the_csrf_token(self, client: TestClient, engine: Engine, rep: User) -> None:
        login(client, "bob")
        path = f"/api/v1/users/{rep.id}/presence"
        refused = client.put(path, json={"presence": "online"})
        assert refused.status_code == 403
        assert client.get(f"/api/v1/users/{rep.id}").json()["presence"] == "offline"
        ok = client.put(path, json={"presence": "online"}, headers={"X-CSRF-Token": csrf_of(engine)})
        assert ok.status_code == 200 and ok.json()["presence"] == "online"

    def test_reads_need_no_csrf_token(self, client: TestClient, alice: User) -> None:
        login(client, "alice")
        assert client.get("/api/v1/departments").status_code == 200

    def test_another_sessions_token_does_not_fit(self, app: FastAPI, engine: Engine, alice: User,
                                                 rep: User) -> None:
        with TestClient(app) as other:
            login(other, "bob")
            with session_scope(engine, readonly=True) as session:
                bobs = session.scalars(select(WebSession.csrf_token).where(WebSession.user_id == rep.id)).one()
        with TestClient(app) as client:
            login(client, "alice")
            response = client.post("/api/v1/departments", json={"code": "X", "name": "x"},
                                   headers={"X-CSRF-Token": bobs})
        assert response.status_code == 403


class TestLoginRateLimit:
    LIMIT = 3

    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        settings.login_attempts_per_minute = self.LIMIT
        return settings

    @pytest.fixture
    def other_client(self, app: FastAPI) -> Iterator[TestClient]:
        with TestClient(app, client=("203.0.113.9", 50000)) as c:
            yield c

    def test_after_n_failures_even_the_right_password_is_refused(self, client: TestClient, alice: User) -> None:
        for _ in range(self.LIMIT):
            assert login(client, "alice", "wrong password").status_code == 303
        response = login(client, "alice")
        assert response.headers["location"] == "/login?error=rate"
        assert session_cookie(response) is None

    def test_the_limit_follows_the_username_across_addresses(self, app: FastAPI, other_client: TestClient,
                                                              alice: User) -> None:
        for n in range(self.LIMIT):
            with TestClient(app, client=(f"198.51.100.{n + 1}", 50000)) as roaming:
                assert login(roaming, "ALICE", "wrong password").headers["location"] == "/login?error=credentials"
        assert login(other_client, "alice").headers["location"] == "/login?error=rate"

    def test_another_user_elsewhere_is_not_limited(self, client: TestClient, other_client: TestClient,
                                                   alice: User, rep: User) -> None:
        for _ in range(self.LIMIT):
            login(client, "alice", "wrong password")
        assert session_cookie(login(other_client, "bob")) is not None

    def test_each_of_the_first_n_failures_is_judged_on_the_password(self, client: TestClient,
                                                                     alice: User) -> None:
        for attempt in range(self.LIMIT):
            response = login(client, "alice", "wrong password")
            assert response.headers["location"] == "/login?error=credentials", attempt

    def test_the_right_password_after_n_minus_one_failures_signs_in(self, client: TestClient,
                                                                    alice: User) -> None:
        for _ in range(self.LIMIT - 1):
            login(client, "alice", "wrong password")
        response = login(client, "alice")
        assert response.headers["location"] == "/", response.headers["location"]
        assert session_cookie(response) is not None
