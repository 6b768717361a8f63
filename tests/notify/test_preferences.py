"""Channels and personal settings are checked when saved: bad URLs, hosts that are not public, personal URLs
and unknown people are refused, naming the field, and nothing is written."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from evenhand.config import Settings
from evenhand.db import session_scope
from evenhand.kit.clock import utcnow
from evenhand.models import AuditEntry, NotifyEndpoint, NotifyPreference, User
from evenhand.notify.preferences import get_preferences, targets_for
from tests.notify.conftest import People
from tests.notify.test_service import bearer
from tests.support import error_of, row_counts

EN = {"Accept-Language": "en"}
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
    robot = client.post("/api/v1/notifications/channels", headers=bearer(engine, people.ops), json={
        **ROBOT, "url": "dingtalk://SECsecretsecret@robottoken123/{dingtalk_id}"})
    assert robot.status_code == 201, robot.text
    saved = client.put("/api/v1/notifications/settings", headers=rep, json={
        "channels": ["sms", "dingtalk"], "personal": {"sms": "+8613911112222", "dingtalk": "chen.xy"},
        "quiet_start": "22:00", "quiet_end": "08:00"})
    assert saved.status_code == 200, saved.text
    assert saved.json()["channels"] == ["sms", "dingtalk"] and saved.json()["quiet_end"] == "08:00"
    assert saved.json()["personal"] == {"sms": "+8613911112222", "dingtalk": "chen.xy"}
    with session_scope(engine, readonly=True) as session:
        pref = session.get(NotifyPreference, people.rep.id)
        assert pref is not None and pref.personal == {"sms": "+8613911112222", "dingtalk": "chen.xy"}
        user = session.get(User, people.rep.id)
        assert user is not None
        assert [tg.url for tg in targets_for(session, user)] == [
            "json://127.0.0.1:9/sms?:to=%2B8613911112222", "dingtalk://SECsecretsecret@robottoken123/chen.xy"]


def test_a_personal_url_stored_before_is_ignored_for_the_organisations_channel(engine: Engine,
                                                                              people: People) -> None:
    with session_scope(engine) as session:
        session.add(NotifyPreference(user_id=people.rep.id, channels=["webhook"],
                                     personal={"webhook": "json://169.254.169.254/latest/meta-data"},
                                     updated_at=utcnow()))
        session.flush()
        user = session.get(User, people.rep.id)
        assert user is not None
        assert [tg.url for tg in targets_for(session, user)] == [people.endpoints["hook"].url]
        assert get_preferences(session, people.rep.id)["personal"] == {}


def test_settings_that_cannot_reach_the_person_are_refused(client: TestClient, engine: Engine, people: People) -> None:
    before = row_counts(engine)
    cases = [
        (people.rep, {"channels": ["wecom"]}, "channels.0", "wecom"),
        (people.nophone, {"channels": ["webhook", "sms"]}, "channels.1", "phone"),
        (people.rep, {"channels": ["dingtalk"], "personal": {"dingtalk": "chen"}}, "channels.0", "dingtalk"),
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


URL_REFUSED = "a personal setting is an address of your own"


def test_a_rep_cannot_aim_notifications_at_a_url_or_smuggle_one_into_an_address(
        client: TestClient, engine: Engine, people: People) -> None:
    before = row_counts(engine)
    cases = [
        ({"channels": ["webhook"], "personal": {"webhook": "json://127.0.0.1:8799/x"}}, "personal.webhook",
         URL_REFUSED),
        ({"channels": ["webhook"], "personal": {"webhook": "json://169.254.169.254/latest/meta-data"}},
         "personal.webhook", URL_REFUSED),
        ({"channels": ["webhook"], "personal": {"webhook": "jsons://hooks.example.com/mine"}}, "personal.webhook",
         URL_REFUSED),
        ({"channels": ["sms"], "personal": {"sms": "json://10.0.0.1/send?:to=1"}}, "personal.sms", URL_REFUSED),
        ({"channels": ["dingtalk"], "personal": {"dingtalk": "dingtalk://SECmine@mytoken1234/"}},
         "personal.dingtalk", URL_REFUSED),
        ({"channels": ["webhook"], "personal": {"webhook": "team-hook"}}, "personal.webhook",
         "webhook takes no personal address"),
        ({"channels": ["sms"], "personal": {"sms": "139 0000 0002"}}, "personal.sms", "is not a phone number"),
        ({"channels": [], "personal": {"email": "me@example.com?smtp=127.0.0.1"}}, "personal.email",
         "is not an e-mail address"),
        ({"channels": [], "personal": {"wecom": "me/../../hook"}}, "personal.wecom", "is not a WeCom user id"),
    ]
    for body, field, mention in cases:
        response = client.put("/api/v1/notifications/settings", headers={**bearer(engine, people.rep), **EN},
                              json=body)
        error = error_of(response)
        assert response.status_code == 422 and error["field"] == field, (body, error)
        assert mention in error["message"], error
    ops = client.put(f"/api/v1/notifications/users/{people.rep.id}/settings", headers={
        **bearer(engine, people.ops), **EN}, json={"personal": {"webhook": "json://127.0.0.1:8799/x"}})
    assert ops.status_code == 422 and error_of(ops)["field"] == "personal.webhook"  # ops configure channels instead
    after = row_counts(engine)
    after["api_tokens"] = before["api_tokens"]
    assert after == before


SSRF = [
    ("webhook", "json://127.0.0.1:8799/x", "127.0.0.1 is a loopback address"),
    ("webhook", "json://localhost:8799/x", "localhost resolves to 127.0.0.1, a loopback address"),
    ("webhook", "json://169.254.169.254/latest/meta-data", "169.254.169.254 is a cloud metadata address"),
    ("webhook", "json://[fd00:ec2::254]/latest/meta-data", "fd00:ec2::254 is a cloud metadata address"),
    ("webhook", "json://metadata.google.internal/computeMetadata/v1", "metadata.google.internal is a cloud metadata"),
    ("webhook", "json://169.254.10.10/x", "169.254.10.10 is a link-local address"),
    ("webhook", "json://[fe80::1]/x", "fe80::1 is a link-local address"),
    ("webhook", "forms://10.1.2.3/x", "10.1.2.3 is a private address"),
    ("webhook", "xml://172.16.5.4/x", "172.16.5.4 is a private address"),
    ("webhook", "json://192.168.1.1/x", "192.168.1.1 is a private address"),
    ("webhook", "json://[fd12::1]/x", "fd12::1 is a private address"),
    ("webhook", "json://0.0.0.0:8799/x", "0.0.0.0 is the unspecified address"),
    ("webhook", "json://224.0.0.1/x", "224.0.0.1 is a multicast address"),
    ("webhook", "jsons://2130706433/x", "2130706433 resolves to 127.0.0.1, a loopback address"),
    ("webhook", "json://[::ffff:169.254.169.254]/x", "is a cloud metadata address"),
    ("sms", "json://10.0.0.5/send?:to={phone}", "10.0.0.5 is a private address"),
    ("email", "mailtos://bot:pw@example.com?smtp=127.0.0.1&to={email}", "127.0.0.1 is a loopback address"),
]


def test_ops_channels_reach_only_public_hosts(client: TestClient, app: FastAPI, settings: Settings, engine: Engine,
                                              people: People) -> None:
    app.state.settings = settings.model_copy(update={"outbound_allowed_hosts": []})
    ops = {**bearer(engine, people.ops), **EN}
    before = row_counts(engine)
    for channel, url, mention in SSRF:
        response = client.post("/api/v1/notifications/channels", headers=ops,
                               json={"name": "内部", "channel": channel, "url": url})
        error = error_of(response)
        assert response.status_code == 422 and error["field"] == "url", (url, error)
        assert error["message"].startswith(f"url: {mention}") or mention in error["message"], error
        assert "EVENHAND_OUTBOUND_ALLOWED_HOSTS" in error["message"] or "metadata host" in error["message"]
    replaced = client.put(f"/api/v1/notifications/channels/{people.endpoints['hook'].id}", headers=ops,
                          json={"name": "webhook", "channel": "webhook", "url": "json://127.0.0.1:8799/x"})
    assert replaced.status_code == 422 and error_of(replaced)["field"] == "url"
    after = row_counts(engine)
    after["api_tokens"] = before["api_tokens"]
    assert after == before


def test_ops_reach_a_private_host_only_when_it_is_allowed(client: TestClient, app: FastAPI, settings: Settings,
                                                          engine: Engine, people: People) -> None:
    app.state.settings = settings.model_copy(update={"outbound_allowed_hosts": ["127.0.0.1", "10.0.0.0/8"]})
    ops = {**bearer(engine, people.ops), **EN}
    for i, url in enumerate(["json://127.0.0.1:8799/x", "forms://10.1.2.3/x", "json://[::ffff:10.9.9.9]/x"]):
        created = client.post("/api/v1/notifications/channels", headers=ops,
                              json={"name": f"内部{i}", "channel": "webhook", "url": url})
        assert created.status_code == 201, created.text
    for url in ("json://127.0.0.2:8799/x", "json://192.168.1.1/x", "json://169.254.169.254/latest/meta-data"):
        refused = client.post("/api/v1/notifications/channels", headers=ops,
                              json={"name": "内部", "channel": "webhook", "url": url})
        assert refused.status_code == 422 and error_of(refused)["field"] == "url", refused.text


def test_a_refused_host_is_explained_in_the_readers_language(client: TestClient, app: FastAPI, settings: Settings,
                                                             engine: Engine, people: People) -> None:
    app.state.settings = settings.model_copy(update={"outbound_allowed_hosts": []})
    response = client.post("/api/v1/notifications/channels", headers=bearer(engine, people.ops),
                           json={"name": "内部", "channel": "webhook", "url": "json://169.254.169.254/x"})
    assert error_of(response)["message"].startswith("url：169.254.169.254 是云元数据地址")


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
    from evenhand.models import Channel

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
