"""Browser sign-in: the session cookie, same-origin checks, CSRF on cookie writes, the login rate limit."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from http.cookies import SimpleCookie
from ipaddress import ip_network

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, select, update

from evenhand.config import Settings
from evenhand.db import session_scope
from evenhand.deps import SESSION_COOKIE
from evenhand.kit.clock import utcnow
from evenhand.models import LoginAttempt, Role, User, WebSession
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


def pass_time(engine: Engine, seconds: float) -> None:
    """As if ``seconds`` went by: every recorded sign-in attempt moves that far into the past."""
    with session_scope(engine) as session:
        for attempt in session.scalars(select(LoginAttempt)):
            attempt.created_at -= timedelta(seconds=seconds)


def keys(engine: Engine) -> set[str]:
    with session_scope(engine, readonly=True) as session:
        return set(session.scalars(select(LoginAttempt.key)))


def waits(response: Response) -> int | None:
    """The seconds a throttled sign-in must wait (429 with Retry-After); None when it was heard."""
    if response.status_code == 303:
        return None
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "/login?error=rate" in response.text  # where a browser goes on to
    return int(response.headers["retry-after"])


def at(app: FastAPI, address: str) -> TestClient:
    return TestClient(app, client=(address, 50000))


class TestSignInThrottle:
    """Five free failures per account from one address, ten per address, ten per account (counted against
    addresses that failed on it); then a wait that doubles with each further failure. Here the address gets
    ten rather than twenty, so a spray is refused sooner and the test hashes fewer guesses, and the first wait
    is 20 s rather than 1 s, so no wait runs out while a test is still knocking."""

    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        settings.login_free_failures_per_address = 10
        settings.login_backoff_seconds = 20
        return settings

    def test_ten_failures_slow_that_address_but_not_the_owner_elsewhere(self, app: FastAPI, engine: Engine,
                                                                         alice: User) -> None:
        seen: list[int | None] = []
        with at(app, "198.51.100.1") as guesser:
            while len([w for w in seen if w is None]) < 10:  # ten failures heard, waiting out each back-off
                seen.append(waits(login(guesser, "alice", "wrong password")))
                if seen[-1] is not None:
                    pass_time(engine, seen[-1])
            assert seen == [None] * 5 + [20, None, 40, None, 80, None, 160, None, 320, None]
            refused = login(guesser, "alice")
            assert waits(refused) == 640 and session_cookie(refused) is None
        with at(app, "203.0.113.9") as owner:
            signed_in = login(owner, "alice")
            assert signed_in.headers["location"] == "/" and session_cookie(signed_in) is not None

    def test_a_wait_refused_is_not_a_failure(self, app: FastAPI, engine: Engine, alice: User) -> None:
        with at(app, "198.51.100.1") as guesser:
            for _ in range(5):
                login(guesser, "alice", "wrong password")
            assert [waits(login(guesser, "alice", "wrong password")) for _ in range(10)] == [20] * 10
            pass_time(engine, 20)
            assert waits(login(guesser, "alice")) is None

    def test_the_message_says_how_long_in_the_readers_language(self, app: FastAPI, alice: User) -> None:
        with at(app, "198.51.100.1") as guesser:
            for _ in range(5):
                login(guesser, "alice", "wrong password")
            guesser.cookies.set("evenhand_locale", "en")
            assert "try again in 20 s" in login(guesser, "alice").text

    def test_an_account_sprayed_from_many_addresses_is_not_locked_for_its_owner(
            self, app: FastAPI, engine: Engine, alice: User) -> None:
        for n in range(12):
            with at(app, f"198.51.100.{n + 1}") as sprayer:
                assert waits(login(sprayer, "ALICE", "wrong password")) is None, n
        with at(app, "198.51.100.1") as again:  # past the account's ten: an address that failed on it waits
            assert waits(login(again, "alice", "wrong password")) == 80  # twelve failures: two past the ten
        with at(app, "203.0.113.9") as owner:
            assert session_cookie(login(owner, "alice")) is not None

    def test_one_address_spraying_many_accounts_is_slowed(self, app: FastAPI, alice: User, rep: User) -> None:
        with at(app, "198.51.100.1") as sprayer:
            seen = [waits(login(sprayer, f"user{n}", "Spring2026!")) for n in range(25)]
            assert seen == [None] * 10 + [20] * 15
            assert waits(login(sprayer, "bob")) == 20  # the right password too, from there
        with at(app, "203.0.113.9") as elsewhere:
            assert session_cookie(login(elsewhere, "bob")) is not None

    def test_a_spoofed_forwarded_for_is_ignored(self, app: FastAPI, engine: Engine, alice: User) -> None:
        """Behind no trusted proxy, 25 attempts claiming 25 addresses are one address's attempts."""
        with at(app, "198.51.100.1") as sprayer:
            seen = [waits(login(sprayer, f"user{n}", "Spring2026!",
                                headers={**ORIGIN, "X-Forwarded-For": f"192.0.2.{n + 1}"})) for n in range(25)]
        assert seen == [None] * 10 + [20] * 15
        assert {k for k in keys(engine) if k.startswith("ip:")} == {"ip:198.51.100.1"}

    def test_a_trusted_proxys_forwarded_for_names_the_client(self, app: FastAPI, settings: Settings,
                                                             engine: Engine, alice: User) -> None:
        settings.trusted_proxies = [ip_network("10.0.0.0/8")]
        with at(app, "10.0.0.2") as proxy:
            seen = [waits(login(proxy, f"user{n}", "Spring2026!",
                                headers={**ORIGIN, "X-Forwarded-For": f"spoofed, 192.0.2.{n + 1}, 10.0.0.3"}))
                    for n in range(12)]
        assert seen == [None] * 12  # twelve addresses, none past its ten
        assert {k for k in keys(engine) if k.startswith("ip:")} == {f"ip:192.0.2.{n + 1}" for n in range(12)}

    def test_the_right_password_after_the_free_failures_signs_in_and_clears_them(
            self, app: FastAPI, engine: Engine, alice: User) -> None:
        with at(app, "198.51.100.1") as client:
            for _ in range(4):
                login(client, "alice", "wrong password")
            response = login(client, "alice")
            assert response.headers["location"] == "/" and session_cookie(response) is not None
            for _ in range(5):  # five free failures again
                assert waits(login(client, "alice", "wrong password")) is None

    def test_another_user_elsewhere_is_not_slowed(self, app: FastAPI, alice: User, rep: User) -> None:
        with at(app, "198.51.100.1") as guesser:
            for _ in range(8):
                login(guesser, "alice", "wrong password")
        with at(app, "203.0.113.9") as other:
            assert session_cookie(login(other, "bob")) is not None

    def test_a_burst_of_parallel_guesses_gets_no_more_than_the_free_failures(self, app: FastAPI,
                                                                             alice: User) -> None:
        """Attempts from one address take turns (PostgreSQL: an advisory lock per key; SQLite: its one
        writer), so parallel requests cannot all pass the check before the first failure is recorded."""
        def guess(_: int) -> int | None:
            with at(app, "198.51.100.1") as guesser:
                return waits(login(guesser, "alice", "wrong password"))

        with ThreadPoolExecutor(max_workers=8) as pool:
            seen = list(pool.map(guess, range(12)))
        assert seen.count(None) == 5, seen
