"""Peer review over the API on both databases: opening a cycle (who may, the threshold, a draw the teams make
impossible), a rep's own assignments, submitting once, the aggregate from the third review, raising the threshold,
closing — and the tries to learn who wrote a review: every answer, the audit log and the log lines."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from evenhand.db import session_scope
from evenhand.models import AuditEntry, PeerReview, PeerReviewAssignment
from tests.builders import Org

PERIOD = "2026-03"
EN = {"Accept-Language": "en"}
REPS = ("rep_n1", "rep_n2", "rep_s1", "rep_e1", "rep_e2", "rep_solo")


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """Answers in English, so the messages below read as written."""
    with TestClient(app, headers=EN) as english:
        yield english


def opened(client: TestClient, org: Org, **body: object) -> dict[str, object]:
    answer = client.post("/api/v1/peer/cycles", json={"period": PERIOD, "seed": 7, **body}, headers=org.headers("ops"))
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def reviewers_of(engine: Engine, org: Org, reviewee: str) -> list[tuple[str, int]]:
    """(reviewer's username, assignment id) for ``reviewee``, read from the database as only a test may."""
    with session_scope(engine, readonly=True) as session:
        rows = session.execute(select(PeerReviewAssignment.reviewer_id, PeerReviewAssignment.id)
                               .where(PeerReviewAssignment.reviewee_id == org.id(reviewee))).all()
    names = {u.id: name for name, u in org.users.items()}
    return sorted((names[r], a) for r, a in rows)


def submit(client: TestClient, org: Org, reviewer: str, assignment: int, prof: int = 4, collab: int = 5,
           comment: str = "") -> int:
    body = {"assignment_id": assignment, "professionalism": prof, "collaboration": collab, "comment": comment}
    return client.post("/api/v1/peer/reviews", json=body, headers=org.headers(reviewer)).status_code


def test_opening_a_cycle(client: TestClient, org: Org) -> None:
    body = {"period": PERIOD, "seed": 7}
    assert client.post("/api/v1/peer/cycles", json=body, headers=org.headers("sup_a")).status_code == 403
    assert client.post("/api/v1/peer/cycles", json=body, headers=org.headers("auditor")).status_code == 403
    low = client.post("/api/v1/peer/cycles", json={**body, "threshold": 2}, headers=org.headers("ops"))
    assert low.status_code == 422 and low.json()["error"]["field"] == "threshold"
    high = client.post("/api/v1/peer/cycles", json={**body, "threshold": 4}, headers=org.headers("ops"))
    assert high.status_code == 422 and high.json()["error"]["field"] == "threshold"
    quarter = client.post("/api/v1/peer/cycles", json={**body, "period": "2026-Q1"}, headers=org.headers("ops"))
    assert quarter.status_code == 422 and "period" in quarter.json()["error"]["field"]
    too_many = client.post("/api/v1/peer/cycles", json={**body, "per_reviewer": 5}, headers=org.headers("ops"))
    assert too_many.status_code == 422 and too_many.json()["error"]["field"] == "per_reviewer"
    assert "only 4 reps outside it" in too_many.json()["error"]["message"]
    cycle = opened(client, org)
    assert cycle == {"period": PERIOD, "status": "open", "seed": 7, "per_reviewer": 3, "threshold": 3, "reps": 6,
                     "assignments": 18, "done": 0}
    again = client.post("/api/v1/peer/cycles", json=body, headers=org.headers("admin"))
    assert again.status_code == 409 and again.json()["error"]["field"] == "period"
    as_rep = client.get(f"/api/v1/peer/cycles/{PERIOD}", headers=org.headers("rep_n1")).json()
    assert as_rep["seed"] is None and as_rep["assignments"] == 18


def test_each_rep_reads_their_own_assignments_only(client: TestClient, org: Org) -> None:
    opened(client, org)
    teams = {"rep_n1": "North", "rep_n2": "North", "rep_s1": "South", "rep_e1": "East", "rep_e2": "East"}
    for rep in REPS:
        mine = client.get("/api/v1/peer/assignments", params={"period": PERIOD}, headers=org.headers(rep)).json()
        assert len(mine) == 3 and all(a["done"] is False and a["open"] is True for a in mine)
        assert all(a["reviewee_id"] != org.id(rep) for a in mine)
        assert all(a["team"] is None or a["team"] != teams.get(rep) for a in mine)
        assert '"reviewer' not in json.dumps(mine)
    assert client.get("/api/v1/peer/assignments", params={"period": PERIOD},
                      headers=org.headers("sup_a")).json() == []
    missing = client.get("/api/v1/peer/assignments", params={"period": "2026-04"}, headers=org.headers("rep_n1"))
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "period"


def test_the_aggregate_shows_from_the_third_review_and_names_nobody(client: TestClient, org: Org, engine: Engine,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    opened(client, org)
    three = reviewers_of(engine, org, "rep_n1")
    assert len(three) == 3
    url = f"/api/v1/peer/aggregates/{org.id('rep_n1')}"
    outsider = next(r for r in REPS if r not in {name for name, _ in three} and r != "rep_n1")
    assert submit(client, org, outsider, three[0][1]) == 404  # someone else's assignment reads as missing
    bad = client.post("/api/v1/peer/reviews", json={"assignment_id": three[0][1], "professionalism": 6,
                                                   "collaboration": 3}, headers=org.headers(three[0][0]))
    assert bad.status_code == 422 and "professionalism" in bad.json()["error"]["field"]
    with caplog.at_level(logging.DEBUG):
        for (reviewer, assignment), (prof, collab, comment) in zip(three, [(5, 4, "准备充分"), (3, 3, ""),
                                                                            (4, 5, "乐于分享客户资料")], strict=True):
            before = client.get(url, params={"period": PERIOD}, headers=org.headers("rep_n1")).json()
            assert before == {"user_id": org.id("rep_n1"), "name": "Rep N1", "team": "North", "period": PERIOD,
                              "threshold": 3, "enough": False, "reviews": None, "professionalism": None,
                              "collaboration": None, "trimmed": False, "comments": []}
            assert submit(client, org, reviewer, assignment, prof, collab, comment) == 201
            assert submit(client, org, reviewer, assignment) == 409
    shown = client.get(url, params={"period": PERIOD}, headers=org.headers("rep_n1")).json()
    assert shown["enough"] is True and shown["reviews"] == 3 and shown["trimmed"] is False
    assert (shown["professionalism"], shown["collaboration"]) == (4.0, 4.0)
    with session_scope(engine, readonly=True) as session:
        by_id = [c for c in session.scalars(select(PeerReview.comment).order_by(PeerReview.id)) if c]
    assert shown["comments"] == by_id and sorted(by_id) == sorted(["准备充分", "乐于分享客户资料"])
    writers = [org.users[name] for name, _ in three]
    for who in ("rep_n1", "sup_a", "auditor", "admin", "ops"):
        one = client.get(url, params={"period": PERIOD}, headers=org.headers(who)).text
        assert not any(w.username in one or w.display_name in one for w in writers)
        for path in ("/api/v1/peer/aggregates", f"/api/v1/peer/cycles/{PERIOD}", "/api/v1/peer/cycles"):
            text = client.get(path, params={"period": PERIOD}, headers=org.headers(who)).text
            assert '"reviewer' not in text  # no field such as reviewer_id or reviewer_name
            for entry in json.loads(text) if text.startswith("[") else [json.loads(text)]:
                named = [w.id for w in writers if w.display_name in json.dumps(entry, ensure_ascii=False)]
                assert named in ([], [entry.get("user_id")])  # a writer named only as the reviewee of their own row
    assert not any(w.username in caplog.text or w.display_name in caplog.text for w in writers)


def test_who_reads_which_aggregate(client: TestClient, org: Org) -> None:
    opened(client, org)

    def names(who: str) -> list[str]:
        found = client.get("/api/v1/peer/aggregates", params={"period": PERIOD}, headers=org.headers(who)).json()
        return sorted(str(name) for name in org.usernames({a["user_id"] for a in found}))

    assert names("rep_n1") == ["rep_n1"]
    assert names("sup_b") == ["rep_e1", "rep_e2"]
    assert names("auditor") == sorted(REPS)
    other = client.get(f"/api/v1/peer/aggregates/{org.id('rep_e1')}", params={"period": PERIOD},
                       headers=org.headers("rep_n1"))
    assert other.status_code == 404


def test_the_audit_log_knows_a_review_exists_not_who_wrote_it(client: TestClient, org: Org, engine: Engine) -> None:
    opened(client, org)
    for reviewer, assignment in reviewers_of(engine, org, "rep_e1"):
        assert submit(client, org, reviewer, assignment, comment="专业") == 201
    with session_scope(engine, readonly=True) as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action.like("peer.%"))
                                  .order_by(AuditEntry.seq)).all()
        actions = Counter(e.action for e in entries)
        submitted = [(e.actor_id, e.payload) for e in entries if e.action == "peer.review_submitted"]
    assert actions == {"peer.cycle_opened": 1, "peer.review_submitted": 3}
    assert submitted == [(None, {"period": PERIOD, "reviewee_id": org.id("rep_e1")})] * 3


def test_the_threshold_is_raised_never_lowered_and_a_closed_cycle_takes_nothing(client: TestClient, org: Org,
                                                                                engine: Engine) -> None:
    opened(client, org, per_reviewer=4)
    url = f"/api/v1/peer/cycles/{PERIOD}/threshold"
    for value, field in ((2, "threshold"), (5, "threshold")):
        refused = client.put(url, json={"threshold": value}, headers=org.headers("ops"))
        assert refused.status_code == 422 and refused.json()["error"]["field"] == field
    assert client.put(url, json={"threshold": 4}, headers=org.headers("rep_n1")).status_code == 403
    assert client.put(url, json={"threshold": 4}, headers=org.headers("ops")).json()["threshold"] == 4
    lowered = client.put(url, json={"threshold": 3}, headers=org.headers("ops"))
    assert lowered.status_code == 422 and "never lowered" in lowered.json()["error"]["message"]
    closed = client.post(f"/api/v1/peer/cycles/{PERIOD}/close", headers=org.headers("admin"))
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert client.post(f"/api/v1/peer/cycles/{PERIOD}/close", headers=org.headers("admin")).status_code == 409
    reviewer, assignment = reviewers_of(engine, org, "rep_s1")[0]
    assert submit(client, org, reviewer, assignment) == 409
    mine = client.get("/api/v1/peer/assignments", params={"period": PERIOD}, headers=org.headers(reviewer)).json()
    assert all(a["open"] is False for a in mine)
