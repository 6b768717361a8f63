"""``evenhand routing`` from the command line: the policy and its versions, replaying a decision, the
holding queue. Every refusal exits with 1, names the problem and changes nothing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, func, select, update

from evenhand.db import session_scope
from evenhand.models import AuditEntry, HeldLead, Presence, RoutingDecision, RoutingPolicyVersion, User
from evenhand.routing import router
from tests.routing.test_service import POLICY, company, lead
from tests.support import Run

# The east pool handed to the south region's rep: every east lead changes hands.
TO_SOUTH = POLICY.replace("members: {regions: [east]}", "members: {regions: [south]}", 1)


def versions(engine: Engine) -> list[tuple[int, str, list[str], bool]]:
    with session_scope(engine, readonly=True) as session:
        return [(v.version, v.note, list(v.affected_metrics or []), v.active) for v in session.scalars(
            select(RoutingPolicyVersion).order_by(RoutingPolicyVersion.version))]


def test_show_prints_the_active_or_a_named_version(run: Run, engine: Engine) -> None:
    with session_scope(engine) as session:
        company(session)  # the shipped default is version 1, the test policy version 2
    shown = run("routing", "show")
    assert shown.exit_code == 0, shown.output
    assert shown.stderr.splitlines()[0] == "Version 2 (测试策略), test" and "label: 华东" in shown.stdout
    assert "Version 2" not in shown.stdout  # what stdout carries is the document alone
    first = run("routing", "show", "--version", "1")
    assert first.exit_code == 0 and "Version 1" in first.stderr and "threshold_high_value" in first.stdout
    missing = run("routing", "show", "--version", "9")
    assert missing.exit_code == 1 and "No routing policy version 9." in missing.output
    listed = run("routing", "versions")
    assert listed.exit_code == 0 and "测试策略" in listed.stdout and "2 *" in listed.stdout


def test_what_show_prints_is_what_set_takes_back(run: Run, engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as session:
        company(session)
    shown = run("routing", "show")
    saved = tmp_path / "policy.yaml"
    saved.write_text(shown.stdout.replace("label: 华东", "label: 华东区"), encoding="utf-8")
    back = run("routing", "set", str(saved), "--note", "renamed the east pool")
    assert back.exit_code == 0, back.output
    assert [v[0] for v in versions(engine)] == [1, 2, 3]


def test_check_names_the_line_of_each_problem_and_saves_nothing(run: Run, engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as session:
        company(session)
    good, broken = tmp_path / "good.yaml", tmp_path / "broken.yaml"
    good.write_text(TO_SOUTH, encoding="utf-8")
    broken.write_text(POLICY.replace("id: east", "id: East"), encoding="utf-8")
    checked = run("routing", "check", str(good))
    assert checked.exit_code == 0, checked.output
    assert "Valid: 测试策略, 2 pools, high-value threshold 80." in checked.stdout and "east: 华东" in checked.stdout
    wrong = run("routing", "check", str(broken))
    assert wrong.exit_code == 1 and "pools.0.id" in wrong.output and "line 4" in wrong.output
    unparsable = tmp_path / "unparsable.yaml"
    unparsable.write_text("name: x\npools: [\n", encoding="utf-8")
    syntax = run("routing", "check", str(unparsable))
    flat = "".join(syntax.output.split())  # the terminal wraps a long path
    assert syntax.exit_code == 1 and "".join(f"{unparsable}, line 3: Not valid YAML".split()) in flat
    assert "—" not in syntax.output  # the file is named, not a dash
    absent = run("routing", "check", str(tmp_path / "nowhere.yaml"))
    assert absent.exit_code == 1 and "No such file" in absent.output
    assert [v[0] for v in versions(engine)] == [1, 2]


def test_set_replays_then_saves_with_the_metrics_that_move(run: Run, engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as session:
        company(session)
        for n in range(4):
            router.route(session, lead(session, n))  # today, so the replay before saving has them
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(TO_SOUTH, encoding="utf-8")
    saved = run("routing", "set", str(candidate), "--note", "华东交给华南", "--days", "1")
    assert saved.exit_code == 0, saved.output
    assert "4 leads from" in saved.stdout and "Leads that change hands" in saved.stdout
    assert saved.stdout.rstrip().endswith("Saved as version 3.")
    assert versions(engine)[-1] == (3, "华东交给华南", ["lead_distribution"], True)  # what the replay saw move
    again = run("routing", "set", str(candidate))
    assert again.exit_code == 1 and "Nothing to save" in again.output
    candidate.write_text(POLICY, encoding="utf-8")
    declared = run("routing", "set", str(candidate), "--metric", "appeals", "--metric", "conversion_rate")
    assert declared.exit_code == 0, declared.output
    assert versions(engine)[-1] == (4, "", ["appeals", "conversion_rate"], True)
    candidate.write_text(POLICY.replace("label: 华东", "label: [华东"), encoding="utf-8")
    broken = run("routing", "set", str(candidate))
    assert broken.exit_code == 1 and "line" in broken.output
    too_long = run("routing", "set", str(candidate), "--days", "93")
    assert too_long.exit_code != 0 and "--days" in too_long.output
    assert len(versions(engine)) == 4


def test_replay_decision_confirms_a_decision_and_catches_a_tampered_one(run: Run, engine: Engine) -> None:
    with session_scope(engine) as session:
        people = company(session)
        decision = router.route(session, lead(session, 1))
        decision_id, rep_id, seq = decision.id, decision.rep_id, decision.audit_seq
    same = run("routing", "replay-decision", str(decision_id))
    assert same.exit_code == 0, same.output
    assert f"Decision {decision_id} replays exactly: round_robin track, pool east, rep {rep_id}." in same.stdout
    other = next(p.id for name, p in people.items() if name in "abc" and p.id != rep_id)
    with session_scope(engine) as session:  # the evidence edited behind the chain's back: the pick no longer follows
        entry = session.scalars(select(AuditEntry).where(AuditEntry.seq == seq)).one()
        payload = dict(entry.payload)
        payload["decision"] = {**payload["decision"], "rep_id": other}
        session.execute(update(AuditEntry).where(AuditEntry.seq == seq).values(payload=payload))
    changed = run("routing", "replay-decision", str(decision_id))
    assert changed.exit_code == 1 and "does NOT replay" in changed.output
    assert run("routing", "replay-decision", "999").exit_code == 1


def test_holds_lists_the_queue_and_release_routes_it(run: Run, engine: Engine) -> None:
    with session_scope(engine) as session:
        people = company(session)
        for name in "abc":
            people[name].presence = Presence.OFFLINE
        held = router.route(session, lead(session, 1))
        assert held.outcome == "held"
    listed = run("routing", "holds")
    assert listed.exit_code == 0, listed.output
    assert "1 lead waiting" in listed.stdout and "公司1" in listed.stdout and "华东" in listed.stdout
    with session_scope(engine) as session:  # back online without the presence flow, which would release it
        session.execute(update(User).where(User.id == people["b"].id).values(presence=Presence.ONLINE))
    released = run("routing", "release")
    assert released.exit_code == 0, released.output
    assert "1 held lead found a rep; 0 still waiting." in released.stdout
    with session_scope(engine, readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(HeldLead)) == 0
        last = session.scalars(select(RoutingDecision).order_by(RoutingDecision.id.desc())).first()
        assert last is not None and (last.kind, last.rep_id) == ("release", people["b"].id)
