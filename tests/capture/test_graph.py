"""Microsoft Graph (Outlook) through the HTTP API and the worker, against a local stand-in for Graph and its login
endpoint, on SQLite and PostgreSQL: the URL check, the clientState check, the queue, activities linked by e-mail,
replays, subscriptions and their renewal, lifecycle notifications, backfill and failing fetches."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from evenhand.capture import graph
from evenhand.capture.graph_client import GraphClient, stamp
from evenhand.config import Settings, forget_settings
from evenhand.db import session_scope
from evenhand.kit.clock import utcnow
from evenhand.models import (
    Activity,
    ActivityType,
    CaptureQueueItem,
    Direction,
    GraphSubscription,
    Lead,
    SourceSystem,
    UnmatchedActivity,
)
from tests.builders import make_lead, make_user
from tests.capture.support import health, stored_counts
from tests.capture.test_graph_client import GraphStandIn, configured, stand_in  # noqa: F401 (fixture)
from tests.support import error_of

URL = "/api/v1/capture/graph"
MAILBOX = "anna@contoso.com"
MESSAGES, EVENTS = f"users/{MAILBOX}/messages", f"users/{MAILBOX}/events"
STATE, EVENT_STATE = "s" * 64, "e" * 64
USER_GUID = "9f4c7b1e-0000-4000-8000-000000000001"
LONG_ID = "AAMkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OABGAAAAAAAiQ8W967B7TKBjgx9rVEURBwAiIsqMbYjsT5e-" \
          "T7KzowPTAAAAAAEMAAAiIsqMbYjsT5e-T7KzowPTAAAYbvZDAAA="
T = datetime(2026, 3, 1, tzinfo=UTC)


def person(address: str, name: str = "") -> dict[str, Any]:
    return {"emailAddress": {"name": name or address, "address": address}}


PROPOSAL = {  # sent by the mailbox's owner, answering the customer, with a proposal and a logo inline
    "id": LONG_ID, "subject": "Proposal", "from": person(MAILBOX), "sender": person(MAILBOX),
    "toRecipients": [person("bob@contoso.com"), person("Li.Lei@Customer.cn")], "ccRecipients": [person(MAILBOX)],
    "sentDateTime": "2026-03-02T02:00:00Z", "receivedDateTime": "2026-03-02T02:00:01Z", "hasAttachments": True,
    "attachments": [{"id": "a1", "isInline": False}, {"id": "a2", "isInline": True}],
    "internetMessageHeaders": [{"name": "In-Reply-To", "value": "<q1@customer.cn>"}],
    "conversationIndex": base64.b64encode(bytes(27)).decode(), "isDraft": False}
QUESTION = {  # received from another customer, starting a conversation
    "id": "AAMk-question", "subject": "Price?", "from": person("wang.fang@other.cn"), "toRecipients": [person(MAILBOX)],
    "sentDateTime": "2026-03-02T01:00:00Z", "receivedDateTime": "2026-03-02T01:00:05Z", "hasAttachments": False,
    "attachments": [], "conversationIndex": base64.b64encode(bytes(22)).decode()}
STRANGER = {"id": "AAMk-stranger", "subject": "Hello", "from": person("someone@nowhere.cn"),
            "toRecipients": [person(MAILBOX)], "receivedDateTime": "2026-03-02T03:00:00Z", "hasAttachments": False}
MEETING = {"id": "AAMk-meeting", "subject": "Needs analysis", "organizer": person(MAILBOX),
           "attendees": [{"type": "required", **person(MAILBOX)}, {"type": "required", **person("li.lei@customer.cn")}],
           "start": {"dateTime": "2026-03-03T06:00:00.0000000", "timeZone": "UTC"},
           "end": {"dateTime": "2026-03-03T06:45:00.0000000", "timeZone": "UTC"}, "isCancelled": False}
CANCELLED = {**MEETING, "id": "AAMk-cancelled", "isCancelled": True}


@pytest.fixture
def outlook(app: FastAPI, settings: Settings, engine: Engine, stand_in: GraphStandIn) -> Settings:  # noqa: F811
    """Graph pointed at the stand-in; Anna's mailbox holds the messages and events above; two customers' leads."""
    app.state.settings = ready = configured(settings, stand_in)
    for item in (PROPOSAL, QUESTION, STRANGER):
        stand_in.messages[(MAILBOX, str(item["id"]))] = item
    for item in (MEETING, CANCELLED):
        stand_in.events[(MAILBOX, str(item["id"]))] = item
    with session_scope(engine) as session:
        make_user(session, username="anna", email="Anna@Contoso.com")
        for address in ("li.lei@customer.cn", "wang.fang@other.cn"):
            make_lead(session, email=address, email_key=address)
    return ready


def subscription(engine: Engine, sub_id: str = "sub-1", resource: str = MESSAGES, state: str = STATE) -> None:
    with session_scope(engine) as session:
        session.add(GraphSubscription(subscription_id=sub_id, resource=resource, client_state=state,
                                      expires_at=T + graph.LIFETIME))


def change(item: dict[str, Any], *, sub: str = "sub-1", state: str = STATE, etag: str = 'W/"v1"',
           kind: str = "Messages", change_type: str = "created") -> dict[str, Any]:
    """A change notification as Graph sends it (without resource data but its id and version)."""
    return {"subscriptionId": sub, "clientState": state, "changeType": change_type, "tenantId": "t-1",
            "subscriptionExpirationDateTime": "2026-03-07T00:00:00Z",
            "resource": f"Users/{USER_GUID}/{kind}/{item['id']}",
            "resourceData": {"@odata.type": f"#Microsoft.Graph.{kind[:-1]}", "@odata.etag": etag,
                             "@odata.id": f"Users/{USER_GUID}/{kind}/{item['id']}", "id": item["id"]}}


def lifecycle(event: str, *, sub: str = "sub-1", state: str = STATE) -> dict[str, Any]:
    return {"subscriptionId": sub, "clientState": state, "lifecycleEvent": event, "tenantId": "t-1",
            "subscriptionExpirationDateTime": "2026-03-07T00:00:00Z"}


def post(client: TestClient, *items: dict[str, Any]) -> Any:
    return client.post(URL, json={"value": list(items)}, headers={"Accept-Language": "en"})


def outlook_activities(engine: Engine) -> dict[str, Activity]:
    with session_scope(engine, readonly=True) as session:
        return {a.subject or "": a for a in session.scalars(
            select(Activity).where(Activity.source_system == SourceSystem.OUTLOOK))}


def queue(engine: Engine) -> list[CaptureQueueItem]:
    with session_scope(engine, readonly=True) as session:
        return list(session.scalars(select(CaptureQueueItem).order_by(CaptureQueueItem.id)))


def lead_by_email(engine: Engine, address: str) -> int:
    with session_scope(engine, readonly=True) as session:
        return session.scalars(select(Lead.id).where(Lead.email == address)).one()


# --- the webhook ------------------------------------------------------------------------------------------

def test_the_url_check_is_answered_with_the_token_in_plain_text(client: TestClient, outlook: Settings,
                                                                engine: Engine) -> None:
    before = stored_counts(engine)
    answer = client.post(f"{URL}?validationToken=Validation%3A%20Testing%20client%20application%20%26%20more")
    assert answer.status_code == 200
    assert answer.text == "Validation: Testing client application & more"
    assert answer.headers["content-type"].startswith("text/plain")
    assert stored_counts(engine) == before


@pytest.mark.parametrize(("item", "field"), [
    (change(QUESTION, state="wrong"), "clientState"),
    (change(QUESTION, sub="sub-unknown"), "subscriptionId"),
    (change(QUESTION, sub="evenhand-test-subscription", state=STATE), "clientState"),
])
def test_a_notification_that_fails_the_client_state_check_is_refused_and_queues_nothing(
        client: TestClient, outlook: Settings, engine: Engine, stand_in: GraphStandIn,  # noqa: F811
        item: dict[str, Any], field: str) -> None:
    subscription(engine)
    before = stored_counts(engine)
    answer = post(client, change(STRANGER), item)  # one forged item refuses the whole collection
    assert answer.status_code == 401
    assert error_of(answer)["field"] == field
    assert stored_counts(engine) == before
    assert health(engine, "outlook").errors == 1 and "401" in (health(engine, "outlook").last_error or "")
    assert stand_in.requests == []


@pytest.mark.parametrize("body", [b"not json", b'{"value": []}', b'{"value": "x"}', b"[1]"])
def test_a_body_that_is_no_notification_collection_is_422(client: TestClient, outlook: Settings, engine: Engine,
                                                          body: bytes) -> None:
    answer = client.post(URL, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422 and error_of(answer)["field"] == "value"
    assert queue(engine) == []


def test_a_valid_notification_is_queued_and_answered_202_without_calling_graph(
        client: TestClient, outlook: Settings, engine: Engine, stand_in: GraphStandIn) -> None:  # noqa: F811
    subscription(engine)
    answer = post(client, change(QUESTION), change(STRANGER))
    assert answer.status_code == 202 and answer.content == b""
    assert stand_in.requests == []  # no token, no fetch: the worker does that
    assert [i.payload for i in queue(engine)] == [
        {"subscription": "sub-1", "mailbox": MAILBOX, "kind": "messages", "change": "created", "id": item["id"],
         "etag": 'W/"v1"'} for item in (QUESTION, STRANGER)]
    assert outlook_activities(engine) == {}
    assert health(engine, "outlook").events == 2


def test_the_sample_request_is_acknowledged_and_stores_nothing(client: TestClient, outlook: Settings,
                                                               engine: Engine, stand_in: GraphStandIn  # noqa: F811
                                                               ) -> None:
    sample = graph.sample_request(outlook)
    before = stored_counts(engine)
    answer = client.request(sample.method, sample.path, params=sample.query, content=sample.body,
                            headers=sample.headers)
    assert answer.status_code == 202, answer.text
    assert stored_counts(engine) == before and stand_in.requests == []
    assert health(engine, "outlook").events == 1


# --- the worker ---------------------------------------------------------------------------------------------

def test_the_worker_captures_mail_and_meetings_linked_to_leads_by_email(client: TestClient, outlook: Settings,
                                                                       engine: Engine,
                                                                       stand_in: GraphStandIn) -> None:  # noqa: F811
    subscription(engine)
    subscription(engine, "sub-2", EVENTS, EVENT_STATE)
    assert post(client, change(PROPOSAL), change(QUESTION), change(STRANGER), change(CANCELLED, sub="sub-2",
                state=EVENT_STATE, kind="Events"), change(MEETING, sub="sub-2", state=EVENT_STATE,
                                                          kind="Events")).status_code == 202
    drained = graph.drain(engine, outlook, now=utcnow())
    assert (drained.done, drained.retried, drained.given_up) == (5, 0, 0)
    acts = outlook_activities(engine)
    li, wang = lead_by_email(engine, "li.lei@customer.cn"), lead_by_email(engine, "wang.fang@other.cn")
    proposal, question, meeting = acts["Proposal"], acts["Price?"], acts["Needs analysis"]
    assert (proposal.type, proposal.direction, proposal.lead_id, proposal.attachment_count, proposal.replied) == (
        ActivityType.EMAIL, Direction.OUTBOUND, li, 1, True)  # Bob is a colleague: Li Lei's lead is named
    assert proposal.external_id.startswith("sha256:") and len(proposal.external_id) == 71  # the id is 152 long
    assert proposal.occurred_at == datetime(2026, 3, 2, 2, tzinfo=UTC)
    assert (question.direction, question.lead_id, question.attachment_count, question.replied) == (
        Direction.INBOUND, wang, 0, False)
    assert question.occurred_at == datetime(2026, 3, 2, 1, 0, 5, tzinfo=UTC)  # received, for inbound mail
    assert (meeting.type, meeting.direction, meeting.duration_seconds, meeting.lead_id) == (
        ActivityType.MEETING, Direction.OUTBOUND, 2700, li)
    assert len({a.rep_id for a in acts.values()}) == 1 and len(acts) == 3  # the cancelled one is no meeting
    with session_scope(engine, readonly=True) as session:
        [waiting] = session.scalars(select(UnmatchedActivity))
    assert (waiting.external_id, waiting.reason) == ("AAMk-stranger", "no_link")
    assert all(i.done_at is not None and i.attempts == 1 for i in queue(engine))
    token, *fetches = stand_in.requests
    assert token.path.endswith("/oauth2/v2.0/token") and len(fetches) == 5
    assert all(f.headers["Authorization"] == "Bearer token-1" for f in fetches)
    assert fetches[0].query["$expand"] == "attachments($select=id,isInline)"


def test_a_replayed_notification_changes_nothing(client: TestClient, outlook: Settings, engine: Engine) -> None:
    subscription(engine)
    post(client, change(QUESTION))
    post(client, change(QUESTION))  # Graph delivering it again: same resource, same version
    assert len(queue(engine)) == 1 and health(engine, "outlook").events == 2
    graph.drain(engine, outlook, now=utcnow())
    before = stored_counts(engine)
    post(client, change(QUESTION, etag='W/"v2"', change_type="updated"))  # a new version, nothing that matters
    drained = graph.drain(engine, outlook, now=utcnow())
    assert (drained.done, drained.tally.unchanged, drained.tally.created) == (1, 1, 0)
    after = stored_counts(engine)
    assert (after.pop("capture_queue"), after.pop("capture_receipts")) == (2, 2)
    assert after == {k: v for k, v in before.items() if k not in ("capture_queue", "capture_receipts")}


def test_a_failing_fetch_is_tried_again_then_given_up(client: TestClient, outlook: Settings, engine: Engine,
                                                      stand_in: GraphStandIn) -> None:  # noqa: F811
    subscription(engine)
    stand_in.fail(f"/v1.0/users/{MAILBOX}/messages/AAMk-question", 503)
    post(client, change(QUESTION))
    [item] = queue(engine)
    came = item.received_at
    tried = []
    for minutes in (0, 0.5, 1, 2, 3, 7, 15, 31, 600):
        calls = len(stand_in.graph_calls())
        graph.drain(engine, outlook, now=came + timedelta(minutes=minutes))
        tried.append(len(stand_in.graph_calls()) > calls)
    assert tried == [True, False, True, False, True, True, True, True, False]
    [item] = queue(engine)
    assert (item.attempts, item.done_at) == (graph.MAX_ATTEMPTS, None)
    assert "503" in (item.error or "") and "try later" in (item.error or "")
    status = health(engine, "outlook")
    assert status.errors == 1 and "given up after 6 attempts" in (status.last_error or "")
    assert outlook_activities(engine) == {}


def test_a_resource_graph_no_longer_has_is_given_up_at_once(client: TestClient, outlook: Settings,
                                                            engine: Engine) -> None:
    subscription(engine)
    post(client, change({"id": "AAMk-deleted-meanwhile"}))
    drained = graph.drain(engine, outlook, now=utcnow())
    assert (drained.given_up, queue(engine)[0].attempts) == (1, graph.MAX_ATTEMPTS)
    assert "404" in (queue(engine)[0].error or "")


# --- subscriptions ------------------------------------------------------------------------------------------

def rows(engine: Engine) -> dict[str, GraphSubscription]:
    with session_scope(engine, readonly=True) as session:
        return {s.subscription_id: s for s in session.scalars(select(GraphSubscription))}


def test_subscriptions_are_created_and_renewed_before_they_expire(outlook: Settings, engine: Engine,
                                                                  stand_in: GraphStandIn) -> None:  # noqa: F811
    with GraphClient(outlook) as client:
        assert graph.subscribe(engine, outlook, client, now=T) == ["sub-1", "sub-2"]
        assert graph.subscribe(engine, outlook, client, now=T) == []  # both are live
        sent = [r.body for r in stand_in.requests if (r.method, r.path) == ("POST", "/v1.0/subscriptions")]
        assert [s["resource"] for s in sent] == [MESSAGES, EVENTS]
        assert {(s["changeType"], s["notificationUrl"], s["lifecycleNotificationUrl"], s["expirationDateTime"])
                for s in sent} == {("created,updated", outlook.graph_notification_url, outlook.graph_notification_url,
                                    stamp(T + graph.LIFETIME))}
        stored = rows(engine)
        assert [stored[f"sub-{n}"].client_state for n in (1, 2)] == [s["clientState"] for s in sent]
        assert len({s["clientState"] for s in sent}) == 2 and all(len(s["clientState"]) >= 64 for s in sent)

        assert graph.renew(engine, outlook, client, now=T + timedelta(days=5)) == []  # more than a day left
        assert not [r for r in stand_in.requests if r.method == "PATCH"]
        later = T + timedelta(days=6)
        assert graph.renew(engine, outlook, client, now=later) == ["sub-1", "sub-2"]
        patched = [r for r in stand_in.requests if r.method == "PATCH"]
        assert [(r.path, r.body) for r in patched] == [
            (f"/v1.0/subscriptions/sub-{n}", {"expirationDateTime": stamp(later + graph.LIFETIME)}) for n in (1, 2)]
        assert {s.expires_at for s in rows(engine).values()} == {later + graph.LIFETIME}
        assert {s.renewed_at for s in rows(engine).values()} == {later}

        del stand_in.subscriptions["sub-1"]  # Graph dropped it
        assert graph.renew(engine, outlook, client, now=later + timedelta(days=6)) == ["sub-3", "sub-2"]
    stored = rows(engine)
    assert (stored["sub-1"].active, stored["sub-3"].active, stored["sub-3"].resource) == (False, True, MESSAGES)


def test_lifecycle_notifications_renew_recreate_and_pull_again(client: TestClient, outlook: Settings,
                                                               engine: Engine,
                                                               stand_in: GraphStandIn) -> None:  # noqa: F811
    with GraphClient(outlook) as graph_client:
        graph.subscribe(engine, outlook, graph_client, now=T)
    states = {s.subscription_id: s.client_state for s in rows(engine).values()}
    stand_in.folders[(MAILBOX, "inbox")] = [QUESTION]
    stand_in.calendars[MAILBOX] = [MEETING]
    stand_in.requests.clear()
    assert post(client, lifecycle("reauthorizationRequired", state=states["sub-1"]),
                lifecycle("subscriptionRemoved", sub="sub-2", state=states["sub-2"])).status_code == 202
    assert stand_in.requests == []
    now = utcnow()
    drained = graph.drain(engine, outlook, now=now)
    assert drained.done == 2 and drained.tally.created == 2  # the last day pulled again: the question, the meeting
    calls = [(r.method, r.path) for r in stand_in.graph_calls()]
    assert ("PATCH", "/v1.0/subscriptions/sub-1") in calls
    assert ("POST", "/v1.0/subscriptions") in calls  # sub-2 made again
    assert (("GET", f"/v1.0/users/{MAILBOX}/mailFolders/inbox/messages/delta") in calls
            and ("GET", f"/v1.0/users/{MAILBOX}/calendarView/delta") in calls)
    stored = rows(engine)
    assert stored["sub-1"].renewed_at == now.replace(tzinfo=UTC)
    assert (stored["sub-2"].active, stored["sub-3"].active, stored["sub-3"].resource) == (False, True, EVENTS)

    stand_in.folders[(MAILBOX, "sentitems")] = [{k: v for k, v in PROPOSAL.items() if k != "attachments"}]
    assert post(client, lifecycle("missed", state=states["sub-1"])).status_code == 202
    drained = graph.drain(engine, outlook, now=utcnow())
    assert (drained.tally.created, drained.tally.unchanged) == (1, 1)
    assert outlook_activities(engine)["Proposal"].attachment_count == 1  # hasAttachments, without the list


# --- backfill -----------------------------------------------------------------------------------------------

def test_a_delta_pull_backfills_through_the_same_normalisation_once(outlook: Settings, engine: Engine,
                                                                    stand_in: GraphStandIn) -> None:  # noqa: F811
    stand_in.folders[(MAILBOX, "inbox")] = [QUESTION, STRANGER, {"id": "gone", "@removed": {"reason": "deleted"}}]
    stand_in.folders[(MAILBOX, "sentitems")] = [PROPOSAL, {**PROPOSAL, "id": "draft-1", "isDraft": True}]
    stand_in.calendars[MAILBOX] = [MEETING, CANCELLED]
    with GraphClient(outlook) as client:
        tally = graph.pull(engine, outlook, client, since=T, now=T + timedelta(days=3))
        assert (tally.created, tally.waiting["no_link"]) == (3, 1)
        before = stored_counts(engine)
        again = graph.pull(engine, outlook, client, since=T, now=T + timedelta(days=3))
    assert (again.created, again.unchanged) == (0, 3)
    assert stored_counts(engine) == before
    assert set(outlook_activities(engine)) == {"Proposal", "Price?", "Needs analysis"}
    view = next(r for r in stand_in.requests if r.path.endswith("/calendarView/delta"))
    assert (view.query["startDateTime"], view.query["endDateTime"]) == ("2026-03-01T00:00:00Z", "2026-03-04T00:00:00Z")


# --- the commands -------------------------------------------------------------------------------------------

def test_the_commands_subscribe_show_status_renew_and_pull(run: Any, engine: Engine, stand_in: GraphStandIn,  # noqa: F811
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"TENANT_ID": "contoso.onmicrosoft.com", "CLIENT_ID": "app-1", "CLIENT_SECRET": "s3cret",
                        "NOTIFICATION_URL": "https://evenhand.example.com/api/v1/capture/graph",
                        "API_BASE": stand_in.api, "LOGIN_BASE": stand_in.login, "MAILBOXES": MAILBOX}.items():
        monkeypatch.setenv(f"EVENHAND_GRAPH_{name}", value)
    monkeypatch.setenv("EVENHAND_OUTBOUND_ALLOWED_HOSTS", "127.0.0.1")
    forget_settings()
    done = run("capture", "graph", "subscribe")
    assert done.exit_code == 0, done.output
    assert "2 subscriptions created." in done.output and "sub-1" in done.output
    shown = run("capture", "graph", "status")
    assert "sub-2" in shown.output and EVENTS in shown.output and "Queued: 0; given up: 0." in shown.output
    renewed = run("capture", "graph", "renew", "--within-hours", "1000")
    assert "2 subscriptions renewed." in renewed.output
    stand_in.folders[(MAILBOX, "inbox")] = [QUESTION]
    with session_scope(engine) as session:
        make_user(session, username="anna", email=MAILBOX)
        make_lead(session, email="wang.fang@other.cn", email_key="wang.fang@other.cn")
    pulled = run("capture", "graph", "pull", "--since", "2026-03-01")
    assert pulled.exit_code == 0, pulled.output
    assert "Pulled since 2026-03-01: 1 created, 0 updated, 0 unchanged, 0 waiting" in pulled.output


def test_a_command_without_the_settings_names_the_missing_one(run: Any) -> None:
    forget_settings()
    done = run("capture", "graph", "subscribe")
    assert done.exit_code == 1 and "graph_tenant_id" in done.output


# --- the worker's jobs ----------------------------------------------------------------------------------------

def test_the_jobs_subscribe_and_drain_with_the_workers_settings(client: TestClient, outlook: Settings,
                                                                engine: Engine,
                                                                stand_in: GraphStandIn) -> None:  # noqa: F811
    from evenhand.capture import tasks
    from evenhand.config import bound

    with bound(outlook.model_copy(update={"graph_mailboxes": []})), session_scope(engine) as session:
        tasks.graph_subscriptions(session, T)  # nothing to subscribe to: Graph is not even asked for a token
    assert stand_in.requests == []
    with bound(outlook), session_scope(engine) as session:
        tasks.graph_subscriptions(session, T)
    assert sorted(s.resource for s in rows(engine).values()) == [EVENTS, MESSAGES]
    state = rows(engine)["sub-1"].client_state
    assert post(client, change(QUESTION, state=state)).status_code == 202
    with bound(outlook), session_scope(engine) as session:
        tasks.graph_queue(session, utcnow())
    assert list(outlook_activities(engine)) == ["Price?"]
