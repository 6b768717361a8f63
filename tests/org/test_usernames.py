"""Usernames made from names in any script, the rule stated in words when one is refused, and
``evenhand users create "Anna Lee"``."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, select

from evenhand.db import session_scope
from evenhand.errors import describe
from evenhand.i18n import t
from evenhand.models import User
from evenhand.org import usernames
from evenhand.org.schemas import UserCreate
from tests.builders import make_user
from tests.support import Run

PASSWORD = "a long enough password"


@pytest.mark.parametrize("name, email, expected", [
    ("张伟", None, "zhang.wei"),
    ("李娜", None, "li.na"),
    ("王小明", None, "wang.xiaoming"),
    ("欧阳娜娜", None, "ouyang.nana"),
    ("Anna Lee", None, "anna.lee"),
    ("José Núñez", None, "jose.nunez"),
    ("  Dustin   Brinkmann ", None, "dustin.brinkmann"),
    ("Seán O'Brien", None, "sean.obrien"),
    ("Владимир Ильин", None, "vladimir.ilin"),
    ("X", "Anna.Lee+crm@corp.cn", "anna.lee.crm"),
    ("?", None, None),
])
def test_a_username_is_made_from_the_name_else_the_email(name: str, email: str | None, expected: str | None) -> None:
    derived = usernames.derive(name, email)
    assert derived == expected
    assert derived is None or usernames.is_valid(derived)


def test_a_taken_username_gets_a_number() -> None:
    assert usernames.unique("zhang.wei", set()) == "zhang.wei"
    assert usernames.unique("zhang.wei", {"zhang.wei", "zhang.wei2"}) == "zhang.wei3"


@pytest.mark.parametrize("value, is_name", [("Anna Lee", True), ("张伟", True), ("José", True), ("anna.lee", False),
                                            ("bad name", False), ("x", False)])
def test_what_looks_like_a_name(value: str, is_name: bool) -> None:
    assert usernames.looks_like_a_name(value) is is_name


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_a_refused_username_states_the_rule_never_the_pattern(locale: str) -> None:
    with pytest.raises(ValidationError) as caught:
        UserCreate(username="Anna Lee", display_name="Anna Lee")
    message = describe(caught.value.errors()[0])
    assert message == t(usernames.RULE)
    assert t(usernames.RULE, locale=locale) and "[" not in t(usernames.RULE, locale=locale)


class TestUsersCreate:
    def test_a_name_given_as_the_username_makes_the_username(self, run: Run, engine: Engine) -> None:
        with session_scope(engine) as session:
            make_user(session, username="anna.lee")
        result = run("users", "create", "Anna Lee", "--password", PASSWORD)
        assert result.exit_code == 0, result.output
        assert "Username anna.lee2, made from the name Anna Lee." in result.output
        with session_scope(engine, readonly=True) as session:
            user = session.scalars(select(User).where(User.username == "anna.lee2")).one()
            assert user.display_name == "Anna Lee"

    def test_a_chinese_name_is_written_in_pinyin(self, run: Run, engine: Engine) -> None:
        result = run("users", "create", "张伟", "--password", PASSWORD)
        assert result.exit_code == 0, result.output
        with session_scope(engine, readonly=True) as session:
            assert session.scalars(select(User.display_name).where(User.username == "zhang.wei")).one() == "张伟"

    @pytest.mark.parametrize("args", [("anna lee",), ("Anna Lee", "--name", "Anna Lee"), ("a",)])
    def test_a_username_that_is_not_one_is_refused_with_the_rule(self, run: Run, engine: Engine,
                                                                 args: tuple[str, ...]) -> None:
        result = run("users", "create", *args, "--password", PASSWORD)
        assert result.exit_code == 1
        output = " ".join(result.output.split())
        assert "username: A username has 2–64 characters" in output and "A-Za-z" not in output
        with session_scope(engine, readonly=True) as session:
            assert session.scalars(select(User)).all() == []
