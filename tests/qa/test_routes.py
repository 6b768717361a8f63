"""The QA endpoints: draw and verify, the queue, saving a review, the rep's acknowledgement, trends, the rubric,
and the recording stream (who may hear it, and references that would leave the recordings directory)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from evenhand.config import Settings
from evenhand.db import session_scope
from evenhand.models import Activity
from evenhand.qa import audio
from tests.builders import Org
from tests.qa import company
from tests.qa.company import PERIOD

SCORES = {"discovery": 4, "objection_handling": 3, "next_step": 5, "compliance": 4}


@pytest.fixture
def calls(engine: Engine, org: Org) -> dict[str, list[int]]:
    with session_scope(engine) as session:
        return company.build(session, org)


def drawn(client: TestClient, org: Org, seed: int = 11) -> dict[str, object]:
    answer = client.post("/api/v1/qa/samples", json={"period": PERIOD, "seed": seed}, headers=org.headers("ops"))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_ops_draw_and_anyone_verifies(client: TestClient, org: Org, calls: dict[str, list[int]]) -> None:
    refused = client.post("/api/v1/qa/samples", json={"period": PERIOD}, headers=org.headers("sup_a"))
    assert refused.status_code == 403
    bad = client.post("/api/v1/qa/samples", json={"period": "2026-3"}, headers=org.headers("ops"))
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "period"
    sample = drawn(client, org)
    assert sample["seed"] == 11 and sample["drawn"] == 6 and sample["calls"] == 49 and sample["current"] is True
    assert drawn(client, org)["activity_ids"] == sample["activity_ids"]
    check = client.get(f"/api/v1/qa/samples/{PERIOD}/verify", headers=org.headers("rep_n1")).json()
    assert check["matches"] is True and check["stored"] == sample["activity_ids"]
    listed = client.get("/api/v1/qa/samples", params={"period": PERIOD}, headers=org.headers("auditor")).json()
    assert [s["seed"] for s in listed] == [11]


def test_the_supervisor_reviews_the_rep_reads_and_acknowledges(client: TestClient, org: Org,
                                                               calls: dict[str, list[int]]) -> None:
    drawn(client, org)
    queue = client.get("/api/v1/qa/queue", headers=org.headers("sup_a")).json()
    mine = next(r for r in queue if r["rep_id"] == org.id("rep_n1"))
    assert mine["recording"] == f"/api/v1/qa/recordings/{mine['activity_id']}" and mine["may_review"] is True
    url = f"/api/v1/qa/reviews/{mine['id']}"
    body = {"scores": SCORES, "comment": "需求挖掘到位", "coaching": ["约定下一步时间"]}
    assert client.put(url, json=body, headers=org.headers("rep_n1")).status_code == 403
    assert client.put(url, json=body, headers=org.headers("sup_b")).status_code == 404
    wrong = client.put(url, json={**body, "scores": {**SCORES, "discovery": 6}}, headers=org.headers("sup_a"))
    assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "scores.discovery"
    saved = client.put(url, json=body, headers=org.headers("sup_a"))
    assert saved.status_code == 200 and saved.json()["status"] == "reviewed"
    feedback = client.get("/api/v1/qa/reviews", params={"status": "reviewed"}, headers=org.headers("rep_n1")).json()
    assert [(r["id"], r["comment"]) for r in feedback] == [(mine["id"], "需求挖掘到位")]
    coaching = client.get("/api/v1/qa/coaching", headers=org.headers("rep_n1")).json()
    assert [c["text"] for c in coaching] == ["约定下一步时间"]
    ack = client.post(f"{url}/acknowledge", headers=org.headers("rep_n1"))
    assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
    assert client.post(f"{url}/acknowledge", headers=org.headers("rep_n1")).status_code == 409
    done = client.post(f"{url}/coaching/0/done", headers=org.headers("rep_n1"))
    assert done.status_code == 200 and done.json()["coaching"][0]["done"] is True
    assert client.get("/api/v1/qa/coaching", headers=org.headers("rep_n1")).json() == []
    trends = client.get("/api/v1/qa/trends", params={"until": PERIOD, "periods": 1},
                        headers=org.headers("sup_a")).json()
    assert trends["reps"][0]["periods"][0]["averages"]["discovery"] == 4.0


def test_the_rubric_is_read_by_everyone_and_changed_by_ops(client: TestClient, org: Org) -> None:
    active = client.get("/api/v1/qa/rubric", headers=org.headers("rep_n1")).json()
    assert active["version"] == 1 and "discovery" in active["body"]
    broken = ("name: x\ncriteria:\n  discovery:\n    label: {zh-CN: 深度, en: Depth}\n"
              "    anchors: {1: {zh-CN: a, en: b}}\n")
    check = client.post("/api/v1/qa/rubric/validate", json={"body": broken}, headers=org.headers("ops")).json()
    assert check["valid"] is False and check["problems"][0]["field"] == "criteria.discovery.anchors"
    assert check["problems"][0]["line"] == 5
    assert client.put("/api/v1/qa/rubric", json={"body": active["body"] + "\n"},
                      headers=org.headers("sup_a")).status_code == 403
    saved = client.put("/api/v1/qa/rubric", json={"body": active["body"] + "\n", "note": "空行"},
                       headers=org.headers("ops"))
    assert saved.status_code == 200 and saved.json()["version"] == 2


def recorded(settings: Settings, ref: str, content: bytes = b"ID3-audio") -> Path:
    path = settings.data_dir / "recordings" / ref.removeprefix("recordings/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_a_recording_streams_to_those_who_read_the_call(client: TestClient, org: Org, settings: Settings,
                                                        calls: dict[str, list[int]]) -> None:
    call = calls["rep_n1"][0]
    with session_scope(client.app.state.engine) as session:  # type: ignore[attr-defined]
        session.execute(update(Activity).where(Activity.id == call).values(recording_ref="recordings/2026-03/x.mp3"))
    recorded(settings, "recordings/2026-03/x.mp3", b"ID3" + bytes(range(200)))
    url = f"/api/v1/qa/recordings/{call}"
    answer = client.get(url, headers=org.headers("rep_n1"))
    assert answer.status_code == 200 and answer.headers["content-type"] == "audio/mpeg"
    assert answer.content[:3] == b"ID3" and len(answer.content) == 203
    part = client.get(url, headers={**org.headers("sup_a"), "Range": "bytes=0-9"})
    assert part.status_code == 206 and len(part.content) == 10
    assert client.get(url, headers=org.headers("rep_n2")).status_code == 404
    assert client.get(url, headers=org.headers("sup_b")).status_code == 404
    assert client.get(url).status_code == 401
    missing = client.get(f"/api/v1/qa/recordings/{calls['rep_n2'][0]}", headers=org.headers("ops"))
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "recording_ref"


@pytest.mark.parametrize("ref", ["../secret.txt", "recordings/../../secret.txt", "/etc/passwd", "a/../../secret.txt",
                                 "C:/secret.txt", "..\\secret.txt"])
def test_a_reference_leaving_the_recordings_directory_is_refused(client: TestClient, org: Org, settings: Settings,
                                                                 calls: dict[str, list[int]], ref: str) -> None:
    (settings.data_dir / "secret.txt").write_text("TOP-SECRET-CONTENT")
    call = calls["rep_n1"][0]
    with session_scope(client.app.state.engine) as session:  # type: ignore[attr-defined]
        session.execute(update(Activity).where(Activity.id == call).values(recording_ref=ref))
    answer = client.get(f"/api/v1/qa/recordings/{call}", headers=org.headers("ops"))
    assert answer.status_code == 403 and b"TOP-SECRET" not in answer.content


def test_a_link_pointing_out_of_the_directory_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "recordings"
    (root / "2026-03").mkdir(parents=True)
    (tmp_path / "secret.wav").write_bytes(b"RIFF")
    (root / "2026-03" / "call.wav").symlink_to(tmp_path / "secret.wav")
    with pytest.raises(audio.Forbidden):
        audio.locate("2026-03/call.wav", root.resolve())


def test_stand_in_clips_play_for_missing_recordings_the_same_each_time(tmp_path: Path) -> None:
    root = (tmp_path / "recordings").resolve()
    with pytest.raises(audio.NotFound):
        audio.locate("recordings/2026-11/call-000000123.mp3", root)
    (root / audio.STAND_INS).mkdir(parents=True)
    for n in range(4):
        (root / audio.STAND_INS / f"clip-{n}.wav").write_bytes(b"RIFF")
    chosen = {audio.locate(f"recordings/2026-11/call-{i:09d}.mp3", root).name for i in range(40)}
    assert chosen == {f"clip-{n}.wav" for n in range(4)}
    assert audio.locate("2026-11/call-7.mp3", root) == audio.locate("2026-11/call-7.mp3", root)


def test_a_rubric_with_bidi_controls_is_not_saved(client: TestClient, org: Org) -> None:
    body = client.get("/api/v1/qa/rubric", headers=org.headers("ops")).json()["body"]
    refused = client.put("/api/v1/qa/rubric", json={"body": body + "# \u202e reads backwards\n"},
                         headers=org.headers("admin"))
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "body"
    assert client.get("/api/v1/qa/rubric", headers=org.headers("ops")).json()["version"] == 1
    checked = client.post("/api/v1/qa/rubric/validate", json={"body": body + "# \x1b\n"},
                          headers=org.headers("ops")).json()
    assert checked["valid"] is False and checked["problems"][0]["line"] == body.count("\n") + 1
