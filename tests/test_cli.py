"""The ``evenhand`` command line against the test database (``EVENHAND_DATABASE_URL``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import Result
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text

from evenhand import db
from evenhand.db import session_scope
from evenhand.kit import audit
from evenhand.models import ApiToken, Role, User
from tests.builders import Org, bearer, make_user
from tests.support import Run, audit_entries


def last_line(result: Result) -> str:
    return result.stdout.rstrip("\n").splitlines()[-1]


class TestTokens:
    def test_create_prints_the_token_alone_on_the_last_line(self, run: Run, client: TestClient, engine: Engine,
                                                            org: Org) -> None:
        result = run("tokens", "create", "--user", "sup_a", "--role", "rep", "--name", "crm-sync")
        assert result.exit_code == 0, result.output
        token = last_line(result)
        assert re.fullmatch(r"eht_[A-Za-z0-9_-]{40,}", token), result.stdout
        me = client.get("/api/v1/me", headers=bearer(token))
        assert me.status_code == 200, me.text
        assert (me.json()["username"], me.json()["role"]) == ("sup_a", "rep")
        with session_scope(engine, readonly=True) as session:
            row = session.scalars(select(ApiToken).where(ApiToken.name == "crm-sync")).one()
        assert row.role is Role.REP and token not in row.token_hash

    def test_a_role_above_the_users_is_refused(self, run: Run, engine: Engine, org: Org) -> None:
        before = len(org.tokens)
        result = run("tokens", "create", "--user", "rep_n1", "--role", "admin")
        assert result.exit_code == 1
        assert "role" in result.output and "eht_" not in result.output
        with session_scope(engine, readonly=True) as session:
            assert len(session.scalars(select(ApiToken)).all()) == before

    def test_an_unknown_user_is_refused(self, run: Run, org: Org) -> None:
        result = run("tokens", "create", "--user", "ghost", "--role", "rep")
        assert result.exit_code == 1 and "ghost" in result.output

    def test_revoke_ends_the_token(self, run: Run, client: TestClient, org: Org) -> None:
        token = last_line(run("tokens", "create", "--user", "ops", "--role", "ops"))
        with session_scope(db.get_engine(), readonly=True) as session:
            token_id = session.scalars(select(ApiToken.id).order_by(ApiToken.id.desc())).first()
        assert run("tokens", "revoke", str(token_id)).exit_code == 0
        assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
        assert run("tokens", "revoke", "99999").exit_code == 1


class TestUsers:
    def test_create_makes_a_user_who_can_sign_in(self, run: Run, client: TestClient, engine: Engine) -> None:
        result = run("users", "create", "zhang.wei", "--name", "张伟", "--role", "SUPERVISOR", "--level", "senior",
                     "--password", "a long enough password")
        assert result.exit_code == 0, result.output
        assert "zhang.wei" in result.output
        with session_scope(engine, readonly=True) as session:
            user = session.scalars(select(User).where(User.username == "zhang.wei")).one()
            assert (user.display_name, user.role, user.level.value) == ("张伟", Role.SUPERVISOR, "senior")
            assert user.password_hash and user.password_hash.startswith("$argon2id$")
        assert [e.action for e in audit_entries(engine)] == ["users.create"]
        login = client.post("/auth/login", data={"username": "zhang.wei", "password": "a long enough password"},
                            headers={"Origin": "http://testserver"}, follow_redirects=False)
        assert login.status_code == 303 and login.headers["location"] == "/"

    def test_the_password_is_prompted_for_when_omitted(self, run: Run, engine: Engine) -> None:
        result = run("users", "create", "li.na", input="prompted password\nprompted password\n")
        assert result.exit_code == 0, result.output
        with session_scope(engine, readonly=True) as session:
            assert session.scalars(select(User.role).where(User.username == "li.na")).one() is Role.REP

    @pytest.mark.parametrize("args, field", [
        (("taken",), "username"),
        (("bad name",), "username"),
        (("short.pw", "--password", "short"), "password"),
    ])
    def test_bad_input_exits_1_naming_the_field(self, run: Run, engine: Engine, args: tuple[str, ...],
                                                field: str) -> None:
        with session_scope(engine) as session:
            make_user(session, username="taken")
        argv = ["users", "create", *args]
        if "--password" not in args:
            argv += ["--password", "a long enough password"]
        result = run(*argv)
        assert result.exit_code == 1, result.output
        assert isinstance(result.exception, SystemExit)
        assert field in result.output
        assert audit_entries(engine) == []

    def test_unknown_team_exits_1_naming_the_field(self, run: Run, engine: Engine) -> None:
        result = run("users", "create", "lost", "--team-id", "999", "--password", "a long enough password")
        assert isinstance(result.exception, SystemExit), repr(result.exception)
        assert result.exit_code == 1 and "team_id" in result.output


class TestAuditVerify:
    @pytest.fixture
    def chain(self, engine: Engine) -> None:
        with session_scope(engine) as session:
            for n in range(1, 6):
                audit.append(session, action="cli.test", subject_type="things", subject_id=n, payload={"n": n})

    def test_an_intact_chain_exits_0(self, run: Run, chain: None) -> None:
        result = run("audit", "verify")
        assert result.exit_code == 0, result.output
        assert re.search(r"\b5\b", result.output)

    def test_a_tampered_payload_exits_1_naming_the_entry(self, run: Run, engine: Engine, chain: None) -> None:
        with engine.begin() as conn:
            conn.execute(text("UPDATE audit_log SET payload = '{\"n\": 300}' WHERE seq = 4"))
        result = run("audit", "verify")
        assert result.exit_code == 1
        assert re.search(r"entry\s+4\b", result.output), result.output

    def test_a_deleted_middle_row_exits_1_naming_the_entry(self, run: Run, engine: Engine, chain: None) -> None:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
        result = run("audit", "verify")
        assert result.exit_code == 1
        assert re.search(r"entry\s+2\b", result.output), result.output


class TestScoringModel:
    def test_what_show_prints_is_what_set_takes_back(self, run: Run, tmp_path: Path) -> None:
        shown = run("scoring", "show")
        assert shown.exit_code == 0, shown.output
        assert shown.stderr.startswith("Version 1") and "Version" not in shown.stdout.splitlines()[0]
        edited = tmp_path / "model.yaml"
        first = shown.stdout.splitlines()[0]
        edited.write_text(shown.stdout.replace(first, first + " (edited)", 1), encoding="utf-8")
        saved = run("scoring", "set", str(edited), "--note", "renamed")
        assert saved.exit_code == 0, saved.output
        again = run("scoring", "show")
        assert again.stderr.startswith("Version 2") and again.stdout.splitlines()[0] == first + " (edited)"
