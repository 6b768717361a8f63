"""The ``evenhand`` command line against the test database (``EVENHAND_DATABASE_URL``)."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from click.testing import Result
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from typer.testing import CliRunner
from typer.testing import Result as TyperResult

import evenhand
from evenhand import db
from evenhand.cli import app as cli_app
from evenhand.db import session_scope
from evenhand.i18n import plural
from evenhand.kit import audit
from evenhand.kit.clihelp import TranslatedCommand, TranslatedGroup
from evenhand.models import ApiToken, Role, User
from tests.builders import Org, bearer, make_user
from tests.support import Run, audit_entries, clear_caches


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


# --- the language of --help and of counted messages ------------------------------------------------------------


Invoke = Callable[..., TyperResult]  # ``in_locale``: the CLI in this locale, with these arguments


@pytest.fixture
def in_locale(monkeypatch: pytest.MonkeyPatch) -> Iterator[Invoke]:
    """Invoke the CLI with ``EVENHAND_LOCALE`` set to the first argument, in this same process each time."""
    runner = CliRunner()

    def invoke(locale: str, *args: str) -> TyperResult:
        monkeypatch.setenv("EVENHAND_LOCALE", locale)
        clear_caches()
        return runner.invoke(cli_app, list(args))

    yield invoke
    clear_caches()


def _commands(command: Any, parent: Any = None) -> Iterator[tuple[Any, Any]]:
    ctx = typer.Context(command, parent=parent, info_name=command.name)
    yield command, ctx
    for sub in getattr(command, "commands", {}).values():
        yield from _commands(sub, ctx)


class TestHelp:
    @pytest.mark.parametrize("args, english, chinese", [
        ((), ["Import data from files.", "Lead routing: the policy", "Show this message and exit.", "Commands"],
         ["从文件导入数据。", "线索分配：分配策略及其版本", "显示此帮助信息并退出。", "命令"]),
        (("import", "leads"), ["Import leads, scored and routed", "YAML mapping of columns to lead fields", "Options"],
         ["导入线索，并像新到达的线索一样评分和分配", "从列到线索字段的 YAML 映射", "选项"]),
        (("routing", "set"), ["Validate a policy, replay recent leads", "What changed and why", "Arguments"],
         ["校验策略，按它与现行策略并排回放近期线索", "改了什么、为什么改", "参数"]),
    ])
    def test_help_follows_the_locale_of_each_invocation(self, in_locale: Invoke, args: tuple[str, ...],
                                                        english: list[str], chinese: list[str]) -> None:
        for locale, shown, absent in (("zh-CN", chinese, english), ("en", english, chinese),
                                      ("zh-CN", chinese, english)):
            result = in_locale(locale, *args, "--help")
            assert result.exit_code == 0, result.output
            flat = " ".join(result.output.split())
            assert all(text in flat for text in shown), (locale, result.output)
            assert not any(text in flat for text in absent), (locale, result.output)

    def test_chinese_help_wraps_instead_of_being_cut(self, in_locale: Invoke) -> None:
        result = in_locale("zh-CN", "routing", "set", "--help")
        assert "…" not in result.output and "回放中发生变化的指标" in result.output, result.output

    def test_a_group_without_arguments_shows_its_help_translated(self, in_locale: Invoke) -> None:
        assert "分配策略" in in_locale("zh-CN", "routing").output

    def test_every_help_text_is_translated_as_it_is_shown(self) -> None:
        zh = json.loads((Path(evenhand.__file__).parent / "locales" / "zh-CN.json").read_text(encoding="utf-8"))
        untranslated = []
        for command, ctx in _commands(typer.main.get_command(cli_app)):
            assert isinstance(command, TranslatedCommand | TranslatedGroup), command.name
            texts = [("", command.help)] + [(p.name, getattr(p, "help", None)) for p in command.get_params(ctx)]
            untranslated += [f"{ctx.command_path} {name}: {text!r}" for name, text in texts if text not in zh]
        assert not untranslated, untranslated


class TestPlurals:
    def test_english_counts_one_thing_in_the_singular(self, run: Run, engine: Engine,
                                                       in_locale: Invoke) -> None:
        with session_scope(engine) as session:
            audit.append(session, action="cli.test", subject_type="things", subject_id=1, payload={})
        assert "Audit chain intact: 1 entry." in run("audit", "verify").output
        assert "审计链完整：共 1 条。" in in_locale("zh-CN", "audit", "verify").output
        with session_scope(engine) as session:
            audit.append(session, action="cli.test", subject_type="things", subject_id=2, payload={})
        assert "Audit chain intact: 2 entries." in in_locale("en", "audit", "verify").output

    def test_both_english_forms_have_the_one_chinese_form(self) -> None:
        zh = json.loads((Path(evenhand.__file__).parent / "locales" / "zh-CN.json").read_text(encoding="utf-8"))
        pairs = []
        for path in Path(evenhand.__file__).parent.rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            named = {target.id: node.value for node in tree.body if isinstance(node, ast.Assign)
                     for target in node.targets if isinstance(target, ast.Name)}
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "plural":
                    forms = [named.get(arg.id) if isinstance(arg, ast.Name) else arg for arg in node.args[1:3]]
                    assert all(isinstance(form, ast.Call) for form in forms), f"{path.name}:{node.lineno}"
                    one, many = (ast.literal_eval(form.args[0]) for form in forms)
                    pairs.append((one, many))
        assert len(pairs) >= 10
        assert [(one, many) for one, many in pairs if zh[one] != zh[many]] == []
        assert plural(1, "{count} row", "{count} rows") == "{count} row"
        assert plural(0, "{count} row", "{count} rows") == plural(2, "{count} row", "{count} rows") == "{count} rows"
