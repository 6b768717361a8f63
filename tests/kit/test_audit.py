"""The keyed, hash-chained audit log: appends link under the audit key, and any change, removal or reordering is
found, as is a row linked without the key."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import itertools
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import Engine, select, text

from evenhand.config import Settings
from evenhand.db import session_scope
from evenhand.kit import audit, audit_check
from evenhand.models import AuditEntry
from tests.builders import T0, make_user
from tests.support import audit_entries


def append_five(engine: Engine) -> list[AuditEntry]:
    with session_scope(engine) as session:
        actor = make_user(session, username="writer")
        for n in range(1, 6):
            audit.append(session, action="thing.change", subject_type="things", subject_id=n,
                         payload={"n": n, "名": "值", "nested": {"b": [1, 2], "a": None}}, actor_id=actor.id,
                         at=T0 + timedelta(seconds=n))
    with session_scope(engine, readonly=True) as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def verify(engine: Engine) -> tuple[int, audit_check.Broken | None]:
    with session_scope(engine, readonly=True) as session:
        return audit_check.verify(session)


def broken_at(engine: Engine) -> int | None:
    """The seq of the first entry that does not check out, or None for an intact chain."""
    _, broken = verify(engine)
    return None if broken is None else broken.seq


def tamper(engine: Engine, *statements: str, **params: Any) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement), params)


class TestAppend:
    def test_entries_link_from_genesis(self, engine: Engine) -> None:
        entries = append_five(engine)
        assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
        assert entries[0].prev_hash == audit.GENESIS
        for before, after in itertools.pairwise(entries):
            assert after.prev_hash == before.hash
        keys = audit.current_keys()
        for e in entries:
            fields = (e.prev_hash, e.seq, e.at, e.actor_id, e.action, e.subject_type, e.subject_id, e.payload)
            assert e.hash == audit.entry_mac(keys, *fields)
            assert e.hash != audit.entry_hash(*fields)  # the public SHA-256 does not make a link
        assert entries[2].subject_id == "3" and entries[2].at == T0 + timedelta(seconds=3)

    def test_an_intact_chain_verifies(self, engine: Engine) -> None:
        append_five(engine)
        assert verify(engine) == (5, None)

    def test_an_empty_chain_verifies(self, engine: Engine) -> None:
        assert verify(engine) == (0, None)

    def test_appends_in_separate_transactions_continue_the_chain(self, engine: Engine) -> None:
        for n in range(3):
            with session_scope(engine) as session:
                audit.append(session, action="a", subject_type="s", payload={"n": n})
        assert verify(engine) == (3, None)

    def test_a_rolled_back_savepoint_does_not_leave_a_stale_tail(self, engine: Engine) -> None:
        with session_scope(engine) as session:
            audit.append(session, action="a", subject_type="s", payload={"n": 1})
            savepoint = session.begin_nested()
            audit.append(session, action="a", subject_type="s", payload={"n": 2})
            savepoint.rollback()
            audit.append(session, action="a", subject_type="s", payload={"n": 3})
            audit.append(session, action="a", subject_type="s", payload={"n": 4})
        with session_scope(engine) as session:  # another transaction continues from the stored tail
            audit.append(session, action="a", subject_type="s", payload={"n": 5})
        assert verify(engine) == (4, None)

    @pytest.mark.parametrize("payload", [
        {"text": "汉字 and emoji 🎉", "quote": "\"'\\"},
        {"int": 2**53 + 1, "neg": -7, "zero": 0},
        {"float": 0.1, "one": 1.0, "small": 1e-7},
        {"keys": {"b": 1, "a": 2, "A": 3}, "list": [3, 1, 2], "empty": {}, "none": None, "bool": False},
        {"date": "2026-03-02", "amount": "12000.50"},
        {"big": 2**70, "negative": -(2**66), "u64": 2**64 - 1, "digits": "12345678901234567890123"},
    ], ids=["text", "ints", "floats", "structure", "strings", "integers beyond 64 bits"])
    def test_payloads_survive_the_round_trip_through_the_database(self, engine: Engine,
                                                                  payload: dict[str, Any]) -> None:
        """Through the ORM (``append``) and as canonical text (``append_many``)."""
        with session_scope(engine) as session:
            audit.append(session, action="a", subject_type="s", payload=payload)
            audit.append_many(session, [audit.Entry("a", "s", None, payload)])
        assert verify(engine) == (2, None)
        assert [entry.payload for entry in audit_entries(engine)] == [payload] * 2

    def test_large_floats_survive_the_round_trip(self, engine: Engine) -> None:
        """PostgreSQL's JSONB returns 1e16 as the int 10000000000000000; the chain must still verify."""
        with session_scope(engine) as session:
            audit.append(session, action="a", subject_type="s", payload={"amount": 1e16})
            audit.append_many(session, [audit.Entry("a", "s", None, {"amount": 1e16, "minus": -0.0})])
        assert verify(engine) == (2, None)

    def test_an_entry_hashed_over_json_nan_is_a_chain_from_before_the_key(self, engine: Engine) -> None:
        """An entry written when payloads were stored by ``json`` kept NaN as NaN (SQLite allows it), hashed with
        SHA-256 before the key; it is told apart from a changed one, and resealing keys it."""
        if engine.dialect.name != "sqlite":
            pytest.skip("PostgreSQL refuses NaN in JSON: no such entry exists there")
        with session_scope(engine) as session:
            entry = audit.append(session, action="a", subject_type="s", payload={"x": 1})
            at = entry.at
        tamper(engine, "UPDATE audit_log SET payload = :p, hash = :h", p='{"x":NaN}',
               h=audit.sha_link(audit.GENESIS, audit.entry_body(1, at, None, "a", "s", None, '{"x":NaN}')))
        assert verify(engine) == (1, audit_check.Broken(1, audit_check.UNKEYED, {"last": 1}))
        with session_scope(engine) as session:
            assert audit.rechain(session, audit.current_keys())[0] == 1
        assert verify(engine) == (1, None)
        assert audit_entries(engine)[0].payload == {"x": None}  # stored as an append stores it now
        tamper(engine, "UPDATE audit_log SET payload = :p", p='{"x":2}')
        assert verify(engine) == (1, audit_check.Broken(1, audit_check.CHANGED))

    @pytest.mark.parametrize("payload", [{"x": float("nan")}, {"x": float("-inf"), "at": T0}],
                             ids=["plain", "with a datetime"])
    def test_nan_is_stored_and_hashed_as_null(self, engine: Engine, payload: dict[str, Any]) -> None:
        with session_scope(engine) as session:
            entry = audit.append(session, action="a", subject_type="s", payload=payload)
            audit.append_many(session, [audit.Entry("a", "s", None, payload)])
        assert entry.payload["x"] is None
        assert [stored.payload["x"] for stored in audit_entries(engine)] == [None, None]
        assert verify(engine) == (2, None)


floats = (st.floats(allow_nan=False, allow_infinity=False) | st.floats(min_value=-1e-3, max_value=1e-3)
          | st.sampled_from([0.0, -0.0, 1.0, -3.0, 1e-4, 9.99e-5, 1e-5, 1e15 + 0.5, 1e16, 1e21, 5e-324]))
# strings that look like the numbers the fast writer looks for
texts = st.text() | st.sampled_from(["a:1.0,", "[2.0]", "x,-0.0}", "1e-05", "0.00001", "v1.0"])
canonical_values = st.recursive(
    st.none() | st.booleans() | st.integers() | floats | texts | st.datetimes(timezones=st.just(UTC)),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=6), inner, max_size=4) | st.dictionaries(st.integers(), inner, max_size=2),
    max_leaves=12,
)


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(value=canonical_values)
def test_the_canonical_form_is_what_json_writes(value: Any) -> None:
    """Every hash in every chain was taken over ``json``'s output; the faster writer must not change one byte."""
    assert audit.canonical(value) == json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                                                default=str)


# What a database can store: PostgreSQL refuses NUL in JSON text.
stored_texts = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))) | st.sampled_from(
    ["a:1.0,", "[2.0]", "x,-0.0}", "1e-05", "0.00001", "v1.0"])
stored_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | floats | stored_texts
    | st.datetimes(timezones=st.just(UTC)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(stored_texts, inner, max_size=4)
    | st.dictionaries(st.integers(), inner, max_size=2),
    max_leaves=12,
)


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(payloads=st.lists(st.dictionaries(stored_texts, stored_values, max_size=5), min_size=25, max_size=25))
def test_any_payload_hashes_the_same_after_the_database(engine: Engine, payloads: list[dict[str, Any]]) -> None:
    """Whatever the payload (whole floats, -0.0, 1e16, tiny floats, big ints, datetimes, int keys, strings
    that look like numbers), what the database gives back hashes to what was written: through the ORM
    (``append``) and as canonical text (``append_many``)."""
    with session_scope(engine) as session:
        for payload in payloads[:12]:
            audit.append(session, action="a", subject_type="s", payload=payload)
        audit.append_many(session, [audit.Entry("a", "s", None, payload) for payload in payloads[12:]])
    assert verify(engine)[1] is None


class TestTamperingInTheDatabase:
    def test_changed_payload(self, engine: Engine) -> None:
        append_five(engine)
        tamper(engine, "UPDATE audit_log SET payload = '{\"n\": 99}' WHERE seq = 3")
        assert broken_at(engine) == 3

    def test_changed_time(self, engine: Engine) -> None:
        entries = append_five(engine)
        moved = (entries[1].at + timedelta(seconds=1)).replace(tzinfo=None)
        tamper(engine, "UPDATE audit_log SET at = :at WHERE seq = 2", at=moved)
        assert broken_at(engine) == 2

    def test_changed_actor(self, engine: Engine) -> None:
        append_five(engine)
        tamper(engine, "UPDATE audit_log SET actor_id = NULL WHERE seq = 5")
        assert broken_at(engine) == 5

    def test_reordered_rows(self, engine: Engine) -> None:
        append_five(engine)
        tamper(engine, "UPDATE audit_log SET seq = -1 WHERE seq = 2", "UPDATE audit_log SET seq = 2 WHERE seq = 3",
               "UPDATE audit_log SET seq = 3 WHERE seq = -1")
        assert broken_at(engine) == 2

    def test_deleted_middle_row(self, engine: Engine) -> None:
        append_five(engine)
        tamper(engine, "DELETE FROM audit_log WHERE seq = 3")
        assert broken_at(engine) == 3

    def test_deleted_first_row(self, engine: Engine) -> None:
        append_five(engine)
        tamper(engine, "DELETE FROM audit_log WHERE seq = 1")
        assert broken_at(engine) == 1

    def test_rewritten_entry_with_a_recomputed_public_hash_is_named(self, engine: Engine) -> None:
        entries = append_five(engine)
        e = entries[1]
        forged = audit.entry_hash(e.prev_hash, e.seq, e.at, e.actor_id, e.action, e.subject_type, e.subject_id,
                                  {"n": 2, "forged": True})
        tamper(engine, "UPDATE audit_log SET payload = '{\"n\": 2, \"forged\": true}', hash = :h WHERE seq = 2",
               h=forged)
        _, broken = verify(engine)
        assert broken == audit_check.Broken(2, audit_check.FORGED, {"last": 2})

    def test_a_chain_verified_with_another_key_breaks_at_its_first_entry(self, engine: Engine) -> None:
        append_five(engine)
        with session_scope(engine, readonly=True) as session:
            checked = audit_check.check_stored(session, audit.Keys.derive("another key, 32 characters or more"))
        assert checked.problems == [audit_check.Broken(1, audit_check.CHANGED)]


# --- against a head recorded outside the database ---------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Head:
    """What a checkpoint records: the last entry and its link, at a time (``audit_check.Mark``)."""

    seq: int
    mac: str
    at: datetime = T0 + timedelta(hours=1)


def head_of(engine: Engine) -> Head:
    last = append_five(engine)[-1]
    return Head(last.seq, last.hash)


def checked(engine: Engine, *marks: Head, start: Head | None = None) -> audit_check.Checked:
    with session_scope(engine, readonly=True) as session:
        return audit_check.check_stored(session, audit.current_keys(), marks, start=start)


def relink_from(engine: Engine, seq: int, link: Any, **changes: Any) -> None:
    """Change entry ``seq`` and link it and every later entry again with ``link`` (``entry_hash``: without the key)."""
    with session_scope(engine) as session:
        entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
        prev = entries[seq - 2].hash if seq > 1 else audit.GENESIS
        for e in entries[seq - 1:]:
            for name, value in (changes if e.seq == seq else {}).items():
                setattr(e, name, value)
            e.prev_hash = prev
            e.hash = prev = link(prev, e.seq, e.at, e.actor_id, e.action, e.subject_type, e.subject_id, e.payload)


def append_with_the_public_hash(engine: Engine) -> None:
    """What someone with write access to the table, and the code, but not the key can add."""
    with session_scope(engine) as session:
        last = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).one()
        at, payload = last.at + timedelta(seconds=1), {"n": 6, "granted": "admin"}
        session.add(AuditEntry(seq=last.seq + 1, at=at, actor_id=None, action="users.update", subject_type="users",
                               subject_id="1", payload=payload, prev_hash=last.hash,
                               hash=audit.entry_hash(last.hash, last.seq + 1, at, None, "users.update", "users", "1",
                                                     payload)))


class TestAgainstAHead:
    """The four tamperings a chain alone cannot show, each named once a head is recorded outside the database."""

    def test_an_untouched_chain_matches_its_head(self, engine: Engine) -> None:
        head = head_of(engine)
        assert checked(engine, head) == audit_check.Checked(5, 5, head.mac, [])

    def test_the_last_entry_deleted_is_a_truncated_tail(self, engine: Engine) -> None:
        head = head_of(engine)
        tamper(engine, "DELETE FROM audit_log WHERE seq = 5")
        assert verify(engine)[1] is None  # the chain alone still checks out
        assert checked(engine, head).problems == [
            audit_check.Broken(5, audit_check.TRUNCATED, {"last": 5, "at": "2026-03-02 02:30:00 UTC"})]

    def test_every_entry_deleted_is_an_emptied_chain(self, engine: Engine) -> None:
        head = head_of(engine)
        tamper(engine, "DELETE FROM audit_log")
        assert verify(engine) == (0, None)
        assert checked(engine, head).problems == [
            audit_check.Broken(1, audit_check.EMPTIED, {"last": 5, "at": "2026-03-02 02:30:00 UTC"})]

    def test_a_row_appended_with_the_public_hash_is_forged(self, engine: Engine) -> None:
        head = head_of(engine)
        append_with_the_public_hash(engine)
        assert verify(engine)[1] == audit_check.Broken(6, audit_check.FORGED, {"last": 6})
        assert checked(engine, head).problems == [
            audit_check.Broken(6, audit_check.APPENDED, {"last": 6, "at": "2026-03-02 02:30:00 UTC"})]

    def test_an_entry_changed_and_every_later_hash_recomputed_is_rewritten_history(self, engine: Engine) -> None:
        head = head_of(engine)
        relink_from(engine, 2, audit.entry_hash, payload={"n": 2, "forged": True})
        assert verify(engine)[1] == audit_check.Broken(2, audit_check.FORGED, {"last": 5})
        assert checked(engine, head).problems == [
            audit_check.Broken(2, audit_check.REWRITTEN, {"last": 5, "at": "2026-03-02 02:30:00 UTC"})]

    def test_history_rewritten_with_the_key_differs_from_the_head(self, engine: Engine) -> None:
        """Only what was recorded outside shows this: the links check out under the key."""
        head = head_of(engine)
        keys = audit.current_keys()
        relink_from(engine, 3, lambda *link: audit.entry_mac(keys, *link), payload={"n": 30})
        assert verify(engine)[1] is None
        assert checked(engine, head).problems == [
            audit_check.Broken(5, audit_check.DIVERGED, {"at": "2026-03-02 02:30:00 UTC"})]

    def test_entries_deleted_and_written_anew_by_the_application_differ_from_the_head(self, engine: Engine) -> None:
        """The application goes on appending after the tail was cut: the chain is longer again, and keyed."""
        head = head_of(engine)
        tamper(engine, "DELETE FROM audit_log WHERE seq >= 4")
        with session_scope(engine) as session:
            for n in range(3):
                audit.append(session, action="after.the.cut", subject_type="s", payload={"n": n})
        assert verify(engine) == (6, None)
        assert checked(engine, head).problems == [
            audit_check.Broken(5, audit_check.DIVERGED, {"at": "2026-03-02 02:30:00 UTC"})]

    def test_a_chain_from_before_the_key_is_named_until_a_head_says_it_was_keyed(self, engine: Engine) -> None:
        append_five(engine)
        relink_from(engine, 1, audit.entry_hash)
        assert verify(engine)[1] == audit_check.Broken(1, audit_check.UNKEYED, {"last": 5})
        assert checked(engine, Head(3, "f" * 64)).problems[0] == audit_check.Broken(
            1, audit_check.REWRITTEN, {"last": 5, "at": "2026-03-02 02:30:00 UTC"})

    def test_entries_after_the_key_continue_a_chain_from_before_it(self, engine: Engine) -> None:
        append_five(engine)
        relink_from(engine, 1, audit.entry_hash)
        with session_scope(engine) as session:
            audit.append(session, action="after.upgrade", subject_type="s")
        assert checked(engine).problems == [audit_check.Broken(1, audit_check.UNKEYED, {"last": 5})]

    def test_a_walk_from_a_head_checks_only_what_follows_it(self, engine: Engine) -> None:
        head = head_of(engine)
        with session_scope(engine) as session:
            audit.append(session, action="a", subject_type="s")
        assert checked(engine, head, start=head) == audit_check.Checked(2, 6, audit_entries_hash(engine, 6), [])
        tamper(engine, "UPDATE audit_log SET payload = '{\"n\": 99}' WHERE seq = 2")  # before the head: not read
        assert checked(engine, head, start=head).problems == []
        append_with_the_public_hash(engine)
        assert [p.reason for p in checked(engine, head, start=head).problems] == [audit_check.APPENDED]
        tamper(engine, "DELETE FROM audit_log WHERE seq >= 5")
        assert checked(engine, head, start=head).problems == [
            audit_check.Broken(5, audit_check.TRUNCATED, {"last": 5, "at": "2026-03-02 02:30:00 UTC"})]


def audit_entries_hash(engine: Engine, seq: int) -> str:
    with session_scope(engine, readonly=True) as session:
        return session.scalars(select(AuditEntry.hash).where(AuditEntry.seq == seq)).one()


class TestTheKey:
    def test_a_link_is_hmac_sha256_under_the_chain_part_of_the_key(self) -> None:
        keys = audit.Keys.derive("a key of thirty-two characters or more")
        assert keys.mac(b"data") == hmac.new(keys.chain, b"data", hashlib.sha256).hexdigest()
        assert keys.chain != keys.checkpoint and "thirty" not in repr(keys)
        assert audit.Keys.derive("a key of thirty-two characters or more").id == keys.id
        assert audit.Keys.derive("another key of thirty-two characters").id != keys.id

    def test_the_key_is_generated_once_in_the_data_directory_readable_by_its_owner_only(
            self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("EVENHAND_AUDIT_KEY")
        first = Settings(data_dir=tmp_path).audit_secret()
        assert Settings(data_dir=tmp_path).audit_secret() == first and len(first) >= 32
        assert stat.S_IMODE((tmp_path / "audit_key").stat().st_mode) == 0o600
        assert [p.name for p in tmp_path.iterdir()] == ["audit_key"]

    def test_a_short_key_in_the_environment_is_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("EVENHAND_AUDIT_KEY", "too short")
        with pytest.raises(ValidationError, match="at least 32 characters"):
            Settings()


# --- the same, in memory, as a property -----------------------------------------------------------

FIELDS = ("seq", "at", "actor_id", "action", "subject_type", "subject_id", "payload", "prev_hash", "hash")


@dataclasses.dataclass
class Link:
    """A stand-in for AuditEntry with the attributes ``first_break`` reads."""

    seq: int
    at: datetime
    actor_id: int | None
    action: str
    subject_type: str
    subject_id: str | None
    payload: dict[str, Any]
    prev_hash: str = ""
    hash: str = ""


KEYS = audit.Keys.derive("the key of the in-memory chains, 32+ characters")


def chain(contents: list[dict[str, Any]]) -> list[Link]:
    links, prev = [], audit.GENESIS
    for seq, content in enumerate(contents, start=1):
        link = Link(seq=seq, prev_hash=prev, **content)
        link.hash = audit.entry_mac(KEYS, prev, seq, link.at, link.actor_id, link.action, link.subject_type,
                                    link.subject_id, link.payload)
        links.append(link)
        prev = link.hash
    return links


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
contents = st.fixed_dictionaries({
    "at": st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
    "actor_id": st.none() | st.integers(1, 10**6),
    "action": st.text(min_size=1, max_size=12),
    "subject_type": st.text(min_size=1, max_size=12),
    "subject_id": st.none() | st.text(max_size=8),
    "payload": st.dictionaries(st.text(max_size=6), json_values, max_size=4),
})
hex64 = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)


def mutated(field: str, old: Any) -> st.SearchStrategy[Any]:
    if field == "seq":
        return st.integers(-5, 50).filter(lambda v: v != old)
    if field == "at":
        return st.integers(1, 10**9).map(lambda us: old + timedelta(microseconds=us))
    if field == "actor_id":
        return (st.none() | st.integers(1, 10**6)).filter(lambda v: v != old)
    if field in ("action", "subject_type"):
        return st.text(min_size=1, max_size=12).filter(lambda v: v != old)
    if field == "subject_id":
        return (st.none() | st.text(max_size=8)).filter(lambda v: v != old)
    if field == "payload":
        return st.dictionaries(st.text(max_size=6), json_values, max_size=4).filter(
            lambda v: audit.canonical(v) != audit.canonical(old))
    return hex64.filter(lambda v: v != old)


@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), entries=st.lists(contents, min_size=1, max_size=8), field=st.sampled_from(FIELDS))
def test_any_single_field_change_anywhere_is_found(data: st.DataObject, entries: list[dict[str, Any]],
                                                   field: str) -> None:
    links = chain(entries)
    assert audit_check.first_break(links, KEYS) is None
    index = data.draw(st.integers(0, len(links) - 1), label="index")
    setattr(links[index], field, data.draw(mutated(field, getattr(links[index], field)), label="new value"))
    broken = audit_check.first_break(links, KEYS)
    assert broken is not None
    assert broken.seq <= index + 1 or field == "seq"


@settings(max_examples=100, deadline=None, derandomize=True)
@given(entries=st.lists(contents, min_size=3, max_size=8), data=st.data())
def test_any_removal_or_swap_that_is_not_the_tail_is_found(entries: list[dict[str, Any]],
                                                           data: st.DataObject) -> None:
    links = chain(entries)
    i = data.draw(st.integers(0, len(links) - 2), label="i")
    removed = links[:i] + links[i + 1:]
    assert getattr(audit_check.first_break(removed, KEYS), "seq", None) == i + 1
    j = data.draw(st.integers(i + 1, len(links) - 1), label="j")
    swapped = list(links)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    assert audit_check.first_break(swapped, KEYS) is not None
