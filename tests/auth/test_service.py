"""Sign-in, principals and API tokens, against both databases."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, select, text
from sqlalchemy.orm import Session

from evenhand.auth import service
from evenhand.auth.backoff import Rule
from evenhand.db import session_scope
from evenhand.errors import Invalid, NotFound, TooManyRequests
from evenhand.kit.clock import utcnow
from evenhand.models import ApiToken, Lead, LoginAttempt, Role, User
from tests.builders import PASSWORD, Org, bearer, make_team, make_user, token_for

# Which token roles each user role may hold, written out by hand: never more than the user has.
MAY_HOLD: dict[Role, set[Role]] = {
    Role.ADMIN: {Role.ADMIN, Role.OPS, Role.SUPERVISOR, Role.REP, Role.AUDITOR},
    Role.OPS: {Role.OPS, Role.SUPERVISOR, Role.REP, Role.AUDITOR},
    Role.SUPERVISOR: {Role.SUPERVISOR, Role.REP},
    Role.REP: {Role.REP},
    Role.AUDITOR: {Role.AUDITOR},
}


THROTTLE = service.Throttle(pair=Rule(5, 1.0, 900.0), address=Rule(20, 1.0, 900.0), account=Rule(10, 1.0, 900.0),
                            kept=timedelta(hours=1))


def _authenticate(session: Session, username: str, password: str, client: str = "192.0.2.1") -> User | None:
    return service.authenticate(session, username=username, password=password, client=client, throttle=THROTTLE)


def _failures(session: Session, key: str, n: int, *, ago: timedelta = timedelta(0)) -> None:
    session.add_all([LoginAttempt(key=key, succeeded=False, created_at=utcnow() - ago) for _ in range(n)])


class TestAuthenticate:
    @pytest.fixture
    def user(self, engine: Engine) -> User:
        with session_scope(engine) as session:
            return make_user(session, username="Carol", password=PASSWORD)

    def test_right_password_case_insensitive_username(self, engine: Engine, user: User) -> None:
        with session_scope(engine) as session:
            found = _authenticate(session, "carol", PASSWORD)
            assert found is not None and found.id == user.id

    @pytest.mark.parametrize("username, password", [("Carol", "wrong"), ("nobody", PASSWORD), ("Carol", "")])
    def test_wrong_password_or_unknown_user_is_rejected(self, engine: Engine, user: User, username: str,
                                                        password: str) -> None:
        with session_scope(engine) as session:
            assert _authenticate(session, username, password) is None
        with session_scope(engine, readonly=True) as session:
            attempts = list(session.scalars(select(LoginAttempt)))
        name = username.lower()
        assert sorted(a.key for a in attempts) == ["ip:192.0.2.1", f"pair:192.0.2.1 {name}", f"user:{name}"]
        assert not any(a.succeeded for a in attempts)

    def test_a_user_without_a_password_cannot_sign_in(self, engine: Engine) -> None:
        with session_scope(engine) as session:
            make_user(session, username="nopass")
            assert _authenticate(session, "nopass", "") is None

    def test_failures_older_than_kept_do_not_count_and_are_pruned(self, engine: Engine, user: User) -> None:
        with session_scope(engine) as session:
            for key in ("pair:192.0.2.1 carol", "ip:192.0.2.1", "user:carol"):
                _failures(session, key, 30, ago=timedelta(minutes=61))
        with session_scope(engine) as session:
            assert _authenticate(session, "carol", PASSWORD) is not None
        with session_scope(engine, readonly=True) as session:
            assert session.scalars(select(LoginAttempt)).all() == []

    @pytest.mark.parametrize("key, n, wait", [("pair:192.0.2.1 carol", 5, 1), ("pair:192.0.2.1 carol", 8, 8),
                                              ("ip:192.0.2.1", 20, 1), ("ip:192.0.2.1", 23, 8)])
    def test_recent_failures_from_the_address_make_even_the_right_password_wait(
            self, engine: Engine, user: User, key: str, n: int, wait: int) -> None:
        with session_scope(engine) as session:
            _failures(session, key, n)
        with session_scope(engine) as session, pytest.raises(TooManyRequests) as refused:
            _authenticate(session, "carol", PASSWORD)
        assert refused.value.params["seconds"] == wait

    @pytest.mark.parametrize("key, free", [("pair:192.0.2.1 carol", 5), ("ip:192.0.2.1", 20)])
    def test_the_free_failures_cost_nothing(self, engine: Engine, user: User, key: str, free: int) -> None:
        with session_scope(engine) as session:
            _failures(session, key, free - 1)
        with session_scope(engine) as session:
            assert _authenticate(session, "carol", PASSWORD) is not None

    def test_the_wait_runs_from_the_last_failure(self, engine: Engine, user: User) -> None:
        with session_scope(engine) as session:
            _failures(session, "pair:192.0.2.1 carol", 8, ago=timedelta(seconds=5))  # waits 8 s from then
        with session_scope(engine) as session, pytest.raises(TooManyRequests) as refused:
            _authenticate(session, "carol", PASSWORD)
        assert refused.value.params["seconds"] == 3
        with session_scope(engine) as session:
            session.execute(delete(LoginAttempt))
            _failures(session, "pair:192.0.2.1 carol", 8, ago=timedelta(seconds=9))
        with session_scope(engine) as session:
            assert _authenticate(session, "carol", PASSWORD) is not None

    def test_an_accounts_failures_slow_only_addresses_that_failed_on_it(self, engine: Engine, user: User) -> None:
        with session_scope(engine) as session:
            _failures(session, "user:carol", 40)  # a spray from many addresses
            _failures(session, "pair:198.51.100.1 carol", 1)  # one of them
            _failures(session, "ip:192.0.2.99", 3)  # an address that failed elsewhere
        with session_scope(engine) as session, pytest.raises(TooManyRequests):
            _authenticate(session, "carol", PASSWORD, client="198.51.100.1")
        for clean in ("192.0.2.1", "192.0.2.99"):
            with session_scope(engine) as session:
                assert _authenticate(session, "carol", PASSWORD, client=clean) is not None, clean

    def test_a_success_clears_the_accounts_failures_from_that_address_only(self, engine: Engine,
                                                                             user: User) -> None:
        with session_scope(engine) as session:
            _failures(session, "pair:192.0.2.1 carol", 4)
            _failures(session, "pair:192.0.2.2 carol", 4)
        with session_scope(engine) as session:
            assert _authenticate(session, "carol", PASSWORD) is not None
        with session_scope(engine, readonly=True) as session:
            left = session.scalars(select(LoginAttempt.key)).all()
        assert sorted(left) == ["pair:192.0.2.2 carol"] * 4

    def test_successes_do_not_count(self, engine: Engine, user: User) -> None:
        with session_scope(engine) as session:
            session.add_all([LoginAttempt(key="pair:192.0.2.1 carol", succeeded=True) for _ in range(9)])
        with session_scope(engine) as session:
            assert _authenticate(session, "carol", PASSWORD) is not None

    def test_usernames_differing_in_case_each_sign_in(self, engine: Engine) -> None:
        with session_scope(engine) as session:
            upper = make_user(session, username="Dana", password="upper-password")
            lower = make_user(session, username="dana", password="lower-password")
        with session_scope(engine) as session:
            assert getattr(_authenticate(session, "Dana", "upper-password"), "id", None) == upper.id
            assert getattr(_authenticate(session, "dana", "lower-password"), "id", None) == lower.id


class TestPrincipal:
    def test_supervisor_gets_exactly_the_teams_they_supervise(self, engine: Engine, org: Org) -> None:
        with session_scope(engine, readonly=True) as session:
            a = service.principal_for(session, session.get_one(User, org.id("sup_a")))
            b = service.principal_for(session, session.get_one(User, org.id("sup_b")))
        assert a.supervised_team_ids == {org.teams["north"].id, org.teams["south"].id}
        assert b.supervised_team_ids == {org.teams["east"].id}
        assert a.team_id == org.teams["north"].id

    @pytest.mark.parametrize("who", ["admin", "ops", "rep_n1", "auditor"])
    def test_others_supervise_nothing(self, engine: Engine, org: Org, who: str) -> None:
        with session_scope(engine, readonly=True) as session:
            principal = service.principal_for(session, session.get_one(User, org.id(who)))
        assert principal.supervised_team_ids == frozenset()

    def test_a_supervisor_token_for_an_admin_supervises_what_they_supervise(self, engine: Engine) -> None:
        with session_scope(engine) as session:
            boss = make_user(session, username="boss", role=Role.ADMIN)
            team = make_team(session, supervisor=boss)
            principal = service.principal_for(session, boss, role=Role.SUPERVISOR)
        assert principal.role is Role.SUPERVISOR and principal.supervised_team_ids == {team.id}

    @pytest.mark.parametrize("role, reads_all, writes, manages", [
        (Role.ADMIN, True, True, True), (Role.OPS, True, True, True), (Role.AUDITOR, True, False, False),
        (Role.SUPERVISOR, False, True, False), (Role.REP, False, True, False),
    ])
    def test_role_capabilities(self, engine: Engine, role: Role, reads_all: bool, writes: bool,
                               manages: bool) -> None:
        with session_scope(engine) as session:
            principal = service.principal_for(session, make_user(session, role=role))
        assert (principal.reads_everything, principal.can_write, principal.manages_org) == \
            (reads_all, writes, manages)


class TestApiTokens:
    @pytest.mark.parametrize("user_role", list(Role))
    @pytest.mark.parametrize("token_role", list(Role))
    def test_a_token_never_exceeds_its_users_role(self, engine: Engine, user_role: Role,
                                                  token_role: Role) -> None:
        with session_scope(engine) as session:
            user = make_user(session, username="holder", role=user_role)
        with session_scope(engine) as session:
            if token_role in MAY_HOLD[user_role]:
                token, row = service.create_token(session, username="holder", role=token_role)
                assert row.role is token_role and row.user_id == user.id
                assert token.startswith("eht_") and row.token_hash != token
            else:
                with pytest.raises(Invalid) as err:
                    service.create_token(session, username="holder", role=token_role)
                assert err.value.field == "role"
        with session_scope(engine, readonly=True) as session:
            minted = session.scalars(select(ApiToken)).all()
        assert len(minted) == (token_role in MAY_HOLD[user_role])

    def test_unknown_user_cannot_get_a_token(self, engine: Engine) -> None:
        with session_scope(engine) as session, pytest.raises(NotFound) as err:
            service.create_token(session, username="ghost", role=Role.REP)
        assert err.value.field == "user"

    def test_the_token_authenticates_as_its_role(self, client: TestClient, engine: Engine, org: Org) -> None:
        with session_scope(engine) as session:
            token = token_for(session, org.users["admin"], Role.AUDITOR)
        me = client.get("/api/v1/me", headers=bearer(token)).json()
        assert (me["username"], me["role"]) == ("admin", "auditor")
        refused = client.post("/api/v1/departments", json={"code": "X", "name": "x"}, headers=bearer(token))
        assert refused.status_code == 403

    def test_a_revoked_token_is_401(self, client: TestClient, engine: Engine, org: Org) -> None:
        with session_scope(engine) as session:
            token, row = service.create_token(session, username="rep_n1", role=Role.REP)
        assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
        with session_scope(engine) as session:
            service.revoke_token(session, token_id=row.id)
        response = client.get("/api/v1/leads", headers=bearer(token))
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
        assert client.get("/api/v1/me", headers=org.headers("rep_n1")).status_code == 200

    def test_revoking_an_unknown_token_is_not_found(self, engine: Engine) -> None:
        with session_scope(engine) as session, pytest.raises(NotFound):
            service.revoke_token(session, token_id=12345)

    def test_a_demoted_users_old_token_loses_the_old_rights(self, client: TestClient, org: Org) -> None:
        demoted = client.patch(f"/api/v1/users/{org.id('ops')}", json={"role": "rep"}, headers=org.headers("admin"))
        assert demoted.status_code == 200
        response = client.post("/api/v1/departments", json={"code": "STALE", "name": "Stale"},
                               headers=org.headers("ops"))
        assert response.status_code in (401, 403), response.text


class TestPerRequestLookups:
    """What every request runs (``from_api_token``, ``from_session_token``) reads plain columns, in the request's
    session or on a bare connection (``deps.read_writer``), and gives what ``principal_for`` gives."""

    @pytest.mark.parametrize("who", ["admin", "ops", "auditor", "sup_a", "sup_b", "rep_n1", "rep_solo"])
    def test_a_token_and_a_browser_session_give_principal_for(self, engine: Engine, org: Org, who: str) -> None:
        with session_scope(engine) as session:
            user = session.get_one(User, org.id(who))
            cookie, _ = service.open_session(session, user=user, days=1)
        with session_scope(engine, readonly=True) as session:
            user = session.get_one(User, org.id(who))
            by_token = service.principal_for(session, user, via="token")
            by_cookie = service.from_session_token(session, cookie)
            assert service.from_api_token(session, org.tokens[who]) == by_token
            assert by_cookie is not None and by_cookie.csrf_token
            assert by_cookie == service.principal_for(session, user, csrf_token=by_cookie.csrf_token)
        with engine.connect() as conn:
            assert service.from_api_token(conn, org.tokens[who]) == by_token
            assert service.from_session_token(conn, cookie) == by_cookie

    def test_a_lower_role_token_supervises_only_as_that_role(self, engine: Engine, org: Org) -> None:
        with session_scope(engine) as session:
            as_rep = token_for(session, org.users["sup_a"], Role.REP)
        with engine.connect() as conn:
            principal = service.from_api_token(conn, as_rep)
        assert principal is not None and principal.role is Role.REP and principal.supervised_team_ids == frozenset()

    def test_an_expired_session_or_an_inactive_user_is_nobody(self, engine: Engine, org: Org) -> None:
        with session_scope(engine) as session:
            user = session.get_one(User, org.id("rep_n1"))
            cookie, web = service.open_session(session, user=user, days=1)
            web.expires_at = utcnow() - timedelta(seconds=1)
            session.get_one(User, org.id("rep_e1")).active = False
        with engine.connect() as conn:
            assert service.from_session_token(conn, cookie) is None
            assert service.from_api_token(conn, org.tokens["rep_e1"]) is None
            assert service.from_api_token(conn, "eht_unknown") is None


class TestSingleLeadPost:
    """``POST /api/v1/leads`` authenticates (``deps.authenticate``) on every request, from the database: a token revoked
    or a user deactivated between two posts is refused at once, and nothing is written."""

    @staticmethod
    def _post(client: TestClient, token: str, n: int) -> int:
        lead = {"source": "website", "external_id": f"auth-{n}", "company": f"鉴权公司{n}"}
        return client.post("/api/v1/leads", json=lead, headers=bearer(token)).status_code

    def test_a_revoked_token_is_refused_on_the_next_post(self, client: TestClient, engine: Engine, org: Org) -> None:
        with session_scope(engine) as session:
            token, row = service.create_token(session, username="ops", role=Role.OPS)
        assert self._post(client, token, 1) == 201
        with session_scope(engine) as session:
            service.revoke_token(session, token_id=row.id)
        assert self._post(client, token, 2) == 401
        with session_scope(engine) as session:
            user = session.get_one(User, org.id("ops"))
            user.active = False
        assert self._post(client, org.tokens["ops"], 3) == 401
        assert self._post(client, org.tokens["auditor"], 4) == 403
        with session_scope(engine, readonly=True) as session:
            posted = session.scalars(select(Lead.external_id).where(Lead.external_id.like("auth-%"))).all()
        assert posted == ["auth-1"]

    def test_a_post_without_credentials_or_with_forged_ones_is_refused_before_its_lead_is_read(
            self, client: TestClient, engine: Engine) -> None:
        """No credentials: refused before the body is validated (401, not 422). Forged ones: refused by the group."""
        assert client.post("/api/v1/leads", json={"source": 7}).status_code == 401
        assert client.post("/api/v1/leads", json={"source": 7}, headers=bearer("eht_forged")).status_code == 422
        assert self._post(client, "eht_forged", 6) == 401
        with session_scope(engine, readonly=True) as session:
            assert session.scalar(select(Lead.id).where(Lead.external_id == "auth-6")) is None

    def test_a_sender_is_signed_in_by_the_group_that_carries_the_lead(self, client: TestClient, engine: Engine,
                                                                     org: Org) -> None:
        """The lookup runs in the transaction of the group that writes the lead (``intake.arrivals``): no thread and
        no transaction of its own before it. On SQLite a post that comes while another writer holds the lock waits
        for it like any other, and is refused, writing nothing, once the lock is free."""
        if engine.dialect.name != "sqlite":
            pytest.skip("SQLite's write lock")
        with ThreadPoolExecutor(1) as pool:
            with engine.connect() as holder:
                holder.execute(text("SELECT 1"))  # a writing transaction: BEGIN IMMEDIATE takes the lock
                refused = pool.submit(self._post, client, org.tokens["auditor"], 5)
                time.sleep(0.3)
                assert not refused.done()  # behind the lock, as the group's transaction is
            assert refused.result(timeout=30) == 403
        with session_scope(engine, readonly=True) as session:
            assert session.scalar(select(Lead.id).where(Lead.external_id == "auth-5")) is None
