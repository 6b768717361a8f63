"""Channels and personal settings are checked when saved: bad URLs and unknown people are refused, naming
the field, and nothing is written."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from evenhand.db import session_scope
from evenhand.models import AuditEntry, NotifyEndpoint, NotifyPreference
from tests.notify.conftest import People
from tests.notify.test_service import bearer
from tests.support import error_of, row_counts

ROBOT = {"name": "华东一组钉钉群", "channel": "dingtalk", "url": "dingtalk://SECsecretsecret@robottoken123/"}


def test_ops_configure_a_channel_and_read_it_back_without_its_secrets(client: TestClient, engine: Engine,
                                                                      people: People) -> None:
    ops = bearer(engine, people.ops)
    created = client.post("/api/v1/notifications/channels", headers=ops, json={**ROBOT, "team_id": people.team.id})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["team_id"] == people.team.id
    assert "secretsecret" not in body["url"] and "robottoken123" not in body["url"]
    listed = client.get("/api/v1/notifications/channels", headers=ops).json()
    assert [c["name"] for c in listed] == ["webhook", "sms", "华东一组钉钉群"]
    replaced = client.put(f"/api/v1/notifications/channels/{body['id']}", headers=ops,
                          json={**ROBOT, "rate_per_minute": 10, "active": False}).json()
    assert (replaced["team_id"], replaced["rate_per_minute"], replaced["active"]) == (None, 10, False)
    assert client.delete(f"/api/v1/notifications/channels/{body['id']}", headers=ops).status_code == 204
    with session_scope(engine, readonly=True) as session:
        actions = [a for a in session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq))]
        assert actions[-3:] == ["notify.endpoint_saved", "notify.endpoint_saved", "notify.endpoint_deleted"]
        payload = session.scalars(select(AuditEntry.payload).order_by(AuditEntry.seq)).all()[-1]
        assert "secretsecret" not in str(payload)
    assert client.get("/api/v1/notifications/channels", headers=bearer(engine, people.rep)).status_code == 403


def test_bad_channel_configuration_is_refused_naming_the_field(client: TestClient, engine: Engine,
                                                               people: People) -> None:
    ops = bearer(engine, people.ops)
    before = row_counts(engine)
    cases = [
        ({**ROBOT, "url": "dingtalk://"}, "url", "Apprise"),
        ({**ROBOT, "url": "json://host/hook"}, "url", "dingtalk://"),
        ({**ROBOT, "channel": "sms", "url": "json://gw/send?:to={mobile}"}, "url", "{mobile}"),
        ({**ROBOT, "team_id": 9999}, "team_id", "9999"),
        ({**ROBOT, "user_ids": [people.rep.id, 8888]}, "user_ids.1", "8888"),
        ({**ROBOT, "name": "webhook"}, "name", "webhook"),
        ({**ROBOT, "channel": "in_app", "url": "json://host/x"}, "url", "in_app"),
    ]
    for body, field, mention in cases:
        response = client.post("/api/v1/notifications/channels", headers=ops, json=body)
        error = error_of(response)
        assert response.status_code in (409, 422) and error["field"] == field, (body, error)
        assert mention in error["message"], error
    assert row_counts(engine) == before


def test_a_person_chooses_channels_that_can_reach_them_and_quiet_hours(client: TestClient, engine: Engine,
                                                                       people: People) -> None:
    rep = bearer(engine, people.rep)
    mine = client.get("/api/v1/notifications/settings", headers=rep).json()
    assert mine["channels"] == ["webhook"] and mine["available"] == ["sms", "webhook"]
    saved = client.put("/api/v1/notifications/settings", headers=rep, json={
        "channels": ["sms", "dingtalk"], "personal": {"dingtalk": "dingtalk://SECmine@mytoken1234/"},
        "quiet_start": "22:00", "quiet_end": "08:00"})
    assert saved.status_code == 200, saved.text
    assert saved.json()["channels"] == ["sms", "dingtalk"] and saved.json()["quiet_end"] == "08:00"
    with session_scope(engine, readonly=True) as session:
        pref = session.get(NotifyPreference, people.rep.id)
        assert pref is not None and pref.personal == {"dingtalk": "dingtalk://SECmine@mytoken1234/"}


def test_settings_that_cannot_reach_the_person_are_refused(client: TestClient, engine: Engine, people: People) -> None:
    before = row_counts(engine)
    cases = [
        (people.rep, {"channels": ["wecom"]}, "channels.0", "wecom"),
        (people.nophone, {"channels": ["webhook", "sms"]}, "channels.1", "phone"),
        (people.rep, {"channels": ["dingtalk"], "personal": {"dingtalk": "json://x/y"}}, "personal.dingtalk",
         "dingtalk://"),
        (people.rep, {"channels": ["in_app"]}, "channels.0", "in_app"),
        (people.rep, {"quiet_start": "22:00"}, "quiet_end", "免打扰"),
        (people.rep, {"quiet_start": "25:00", "quiet_end": "07:00"}, "quiet_start", ""),
    ]
    for user, body, field, mention in cases:
        response = client.put("/api/v1/notifications/settings", headers=bearer(engine, user), json=body)
        error = error_of(response)
        assert response.status_code == 422 and error["field"] == field, (body, error)
        assert mention in error["message"], error
    after = row_counts(engine)
    after["api_tokens"] = before["api_tokens"]
    assert after == before


def test_ops_set_someones_settings_and_unknown_people_are_named(client: TestClient, engine: Engine,
                                                                people: People) -> None:
    ops = bearer(engine, people.ops)
    done = client.put(f"/api/v1/notifications/users/{people.rep2.id}/settings", headers=ops,
                      json={"channels": ["sms"]})
    assert done.status_code == 200 and done.json()["channels"] == ["sms"]
    missing = client.put("/api/v1/notifications/users/9999/settings", headers=ops, json={"channels": []})
    assert missing.status_code == 404 and error_of(missing)["field"] == "user_id"
    refused = client.put(f"/api/v1/notifications/users/{people.rep2.id}/settings", headers=bearer(engine, people.rep),
                         json={"channels": []})
    assert refused.status_code == 403


def test_named_users_get_their_channel_before_their_teams_and_the_organisations(engine: Engine,
                                                                                people: People) -> None:
    from evenhand.models import Channel, User
    from evenhand.notify.preferences import targets_for

    with session_scope(engine) as session:
        session.add_all([
            NotifyEndpoint(name="org", channel=Channel.DINGTALK, url="dingtalk://SECa@orgtoken/"),
            NotifyEndpoint(name="team", channel=Channel.DINGTALK, url="dingtalk://SECb@teamtoken/",
                           team_id=people.team.id),
            NotifyEndpoint(name="named", channel=Channel.DINGTALK, url="dingtalk://SECc@mytoken/",
                           user_ids=[people.rep.id]),
        ])
        session.flush()
        pick = {u: targets_for(session, session.get(User, uid), channels=[Channel.DINGTALK])[0].url  # type: ignore[arg-type]
                for u, uid in (("rep", people.rep.id), ("rep2", people.rep2.id), ("ops", people.ops.id))}
    assert pick == {"rep": "dingtalk://SECc@mytoken/", "rep2": "dingtalk://SECb@teamtoken/",
                    "ops": "dingtalk://SECa@orgtoken/"}


def test_escalation_policies_are_readable(client: TestClient, engine: Engine, people: People) -> None:
    policies = {p["kind"]: p for p in client.get("/api/v1/notifications/policies",
                                                 headers=bearer(engine, people.rep)).json()}
    assert policies["lead_assigned"] == {"kind": "lead_assigned", "ack_within_minutes": 15.0, "fallback": "sms",
                                         "supervisor_after_minutes": 15.0, "reassign": True}
