"""Notifications reach public addresses only, unless ops allowed a host: checked on the address, right before
sending and on every connection a send opens; a refused delivery fails for good with the reason, and
redirects are not followed."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from evenhand.config import Settings
from evenhand.db import session_scope
from evenhand.i18n import N_
from evenhand.models import Channel, DeliveryAttempt, NotificationStatus
from evenhand.notify import jobs, outbound, service
from evenhand.notify.channels import AppriseSender, Envelope, check_reach
from evenhand.notify.outbound import Allowed, Refused, address_problem, check_host
from evenhand.notify.worker import Worker
from tests.notify.conftest import ALLOW_LOCAL, Clock, People, worker_settings
from tests.notify.sink import Sink
from tests.notify.test_service import bearer, rows

EN = {"Accept-Language": "en"}


@pytest.fixture(autouse=True)
def _no_health_job() -> Iterator[None]:
    yield
    jobs.unregister("notify.health")


# --- the address classifier --------------------------------------------------------------------------


@pytest.mark.parametrize(("address", "reason"), [
    ("127.0.0.1", outbound.LOOPBACK), ("127.255.0.9", outbound.LOOPBACK), ("::1", outbound.LOOPBACK),
    ("169.254.169.254", outbound.METADATA), ("fd00:ec2::254", outbound.METADATA),
    ("100.100.100.200", outbound.METADATA), ("169.254.1.1", outbound.LINK_LOCAL), ("fe80::1", outbound.LINK_LOCAL),
    ("10.1.2.3", outbound.PRIVATE), ("172.16.0.1", outbound.PRIVATE), ("172.31.255.255", outbound.PRIVATE),
    ("192.168.1.1", outbound.PRIVATE), ("fc00::1", outbound.PRIVATE), ("fd12:3456::1", outbound.PRIVATE),
    ("0.0.0.0", outbound.UNSPECIFIED), ("::", outbound.UNSPECIFIED), ("224.0.0.1", outbound.MULTICAST),
    ("239.1.2.3", outbound.MULTICAST), ("ff02::1", outbound.MULTICAST),
    ("100.64.0.1", outbound.NOT_PUBLIC), ("192.0.2.1", outbound.PRIVATE), ("240.0.0.1", outbound.PRIVATE),
    # IPv6 forms of IPv4 addresses: mapped, NAT64, 6to4, IPv4-compatible.
    ("::ffff:127.0.0.1", outbound.LOOPBACK), ("::ffff:169.254.169.254", outbound.METADATA),
    ("::ffff:10.0.0.1", outbound.PRIVATE), ("64:ff9b::7f00:1", outbound.LOOPBACK),
    ("64:ff9b::a9fe:a9fe", outbound.METADATA), ("2002:c0a8:101::1", outbound.PRIVATE),
    ("::7f00:1", outbound.NOT_PUBLIC),
    ("8.8.8.8", None), ("114.114.114.114", None), ("2001:4860:4860::8888", None), ("::ffff:8.8.8.8", None),
    ("64:ff9b::808:808", None),
])
def test_each_kind_of_address_that_is_not_public_is_named(address: str, reason: str | None) -> None:
    assert address_problem(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(("host", "shown"), [
    ("2130706433", "127.0.0.1"),  # http://2130706433/
    ("0177.0.0.1", "127.0.0.1"),  # octal
    ("0x7f.0.0.1", "127.0.0.1"),  # hexadecimal
    ("0x7f000001", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("0251.0376.0251.0376", "169.254.169.254"),
    ("localhost", "127.0.0.1"),
    ("[::1]", "::1"),
    ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
    ("[::ffff:a9fe:a9fe]", "::ffff:a9fe:a9fe"),
])
def test_hosts_are_judged_by_what_they_resolve_to_in_any_notation(host: str, shown: str) -> None:
    with pytest.raises(Refused) as caught:
        check_host(host, 80, Allowed())
    assert caught.value.params["address"] == shown and not caught.value.transient


def test_metadata_host_names_are_refused_without_asking_dns() -> None:
    for host in ("metadata.google.internal", "METADATA.google.internal.", "metadata.goog"):
        with pytest.raises(Refused, match="metadata"):
            check_host(host, 80, Allowed())


def test_public_addresses_pass_and_ops_allow_hosts_by_name_or_network() -> None:
    check_host("8.8.8.8", 443, Allowed())
    check_host("[2001:4860:4860::8888]", 443, Allowed())
    allowed = Allowed.parse("sms-gw.internal, 10.0.0.0/8 fd00::/8")
    assert allowed.host("SMS-GW.internal.") and not allowed.host("other.internal")
    check_host("10.20.30.40", 80, allowed)
    check_host("[::ffff:10.20.30.40]", 80, allowed)
    check_host("[fd00:ec2::254]", 80, allowed)  # metadata too, because ops said so
    with pytest.raises(Refused, match=r"192\.168\.0\.1 is a private"):
        check_host("192.168.0.1", 80, allowed)
    assert Allowed.parse('["127.0.0.1"]') == ALLOW_LOCAL
    with pytest.raises(ValueError, match=r"10\.0\.0\.0/33"):
        Allowed.parse(["10.0.0.0/33"])


def test_a_name_that_does_not_resolve_is_refused_for_now_only() -> None:
    with pytest.raises(Refused) as caught:
        check_host("no-such-host.invalid", 80, Allowed())
    assert caught.value.transient


def test_the_hosts_an_apprise_url_reaches_are_checked() -> None:
    refused = {
        "jsons://2130706433/x": "127.0.0.1",
        "json://[::ffff:127.0.0.1]/x": "::ffff:7f00:1",
        "form://169.254.169.254/latest/meta-data": "169.254.169.254",
        "xml://10.0.0.5/hook": "10.0.0.5",
        "mailtos://bot:pw@example.com?smtp=127.0.0.1&to=a@b.cn": "127.0.0.1",
        "mailto://bot:pw@192.168.3.4?to=a@b.cn": "192.168.3.4",
    }
    for url, address in refused.items():
        with pytest.raises(Refused) as caught:
            check_reach(url, Allowed())
        assert caught.value.params["address"] == address, url
    check_reach("json://127.0.0.1:8799/x", ALLOW_LOCAL)
    check_reach("dingtalk://SECsecret@robottoken/", Allowed())  # the vendor's own host, not one typed here


# --- sending -----------------------------------------------------------------------------------------


@pytest.fixture
def elsewhere() -> Iterator[Sink]:
    """A second endpoint on another loopback address, which nothing allows."""
    with Sink(host="127.0.0.2") as s:
        yield s


def test_the_sender_refuses_a_target_that_is_not_allowed_for_good(sink: Sink) -> None:
    outcome = AppriseSender(timeout=2).send(Envelope(sink.url(), "t", "b", "k1", "x"))
    assert not outcome.ok and outcome.permanent
    assert outcome.error == ("127.0.0.1 is a loopback address; notifications reach it only if "
                             "EVENHAND_OUTBOUND_ALLOWED_HOSTS allows it.")
    assert sink.received == []


def test_the_sender_does_not_follow_a_redirect(elsewhere: Sink) -> None:
    with Sink(redirect_to=elsewhere.url("/stolen", scheme="http")) as redirecting:
        outcome = AppriseSender(timeout=2, allowed=ALLOW_LOCAL).send(Envelope(redirecting.url(), "t", "b", "k", "x"))
        assert [r.outcome for r in redirecting.received] == ["redirect"]
    assert not outcome.ok and outcome.error and "307" in outcome.error
    assert elsewhere.received == []


def test_every_connection_of_a_send_is_checked_redirect_hops_included(elsewhere: Sink) -> None:
    """Beneath the sender's own refusal to follow redirects: any hop a library follows is checked too."""
    with Sink(redirect_to=elsewhere.url("/stolen", scheme="http")) as redirecting, \
            outbound.guarded(ALLOW_LOCAL) as refused, pytest.raises(requests.ConnectionError):
        requests.post(redirecting.url(scheme="http"), json={"lead": "苏州精密"}, timeout=2, allow_redirects=True)
    assert [r.params["address"] for r in refused] == ["127.0.0.2"]
    assert elsewhere.received == []
    assert requests.post(elsewhere.url(scheme="http"), json={}, timeout=2).status_code == 200  # unguarded: reached


# --- with the database: saved while allowed, refused when sent -----------------------------------------


def _endpoint_to(client: TestClient, engine: Engine, people: People, url: str) -> None:
    ops = bearer(engine, people.ops)
    hook = people.endpoints["hook"]
    saved = client.put(f"/api/v1/notifications/channels/{hook.id}", headers=ops, json={
        "name": hook.name, "channel": "webhook", "url": url, "is_default": True})
    assert saved.status_code == 200, saved.text


def _worker(engine: Engine, tmp_path: Path, db_url: str, clock: Clock, allowed: list[str]) -> Worker:
    return Worker(engine, worker_settings(tmp_path, db_url, outbound_allowed_hosts=allowed), name="w1", clock=clock)


@pytest.mark.parametrize(("host", "error"), [
    ("127.0.0.1", "127.0.0.1 is a loopback address"),
    ("localhost", "localhost resolves to 127.0.0.1, a loopback address"),  # DNS that points inside
])
def test_a_target_allowed_when_saved_but_not_when_sent_fails_for_good_with_the_reason(
        host: str, error: str, engine: Engine, people: People, app: FastAPI, client: TestClient, settings: Settings,
        tmp_path: Path, db_url: str, clock: Clock, sink: Sink) -> None:
    app.state.settings = settings.model_copy(update={"outbound_allowed_hosts": [host]})
    _endpoint_to(client, engine, people, f"json://{host}:{sink.port}/hook")
    with session_scope(engine) as session:
        message_id = service.send(session, recipient_id=people.rep.id, kind="alert", title=N_("Leads")).id
    worker = _worker(engine, tmp_path, db_url, clock, [])  # the allow-list was emptied since
    try:
        tick = worker.tick()
    finally:
        worker.pool.shutdown(wait=True)
    assert (tick.claimed, tick.delivered, tick.failed) == (1, 0, 1)
    (hook,) = rows(engine, message_id=message_id, channel=Channel.WEBHOOK)
    assert hook.status is NotificationStatus.FAILED and hook.attempts == 1 and hook.next_attempt_at is None
    assert hook.last_error is not None and hook.last_error.startswith(error)
    assert sink.received == []
    with session_scope(engine, readonly=True) as session:
        assert session.scalars(select(DeliveryAttempt.outcome).where(
            DeliveryAttempt.notification_id == hook.id)).all() == ["error"]
    seen = client.get(f"/api/v1/notifications/{message_id}/deliveries", headers=bearer(engine, people.rep)).json()
    assert [(d["status"], d["last_error"][:len(error)]) for d in seen if d["channel"] == "webhook"] == [
        ("failed", error)]


def test_a_redirect_from_an_allowed_target_to_a_private_address_is_not_followed(
        engine: Engine, people: People, client: TestClient, tmp_path: Path, db_url: str, clock: Clock,
        elsewhere: Sink) -> None:
    with Sink(redirect_to=elsewhere.url("/stolen", scheme="http")) as redirecting:
        _endpoint_to(client, engine, people, redirecting.url("/hook"))
        with session_scope(engine) as session:
            message_id = service.send(session, recipient_id=people.rep.id, kind="alert", title=N_("Leads")).id
        worker = _worker(engine, tmp_path, db_url, clock, ["127.0.0.1"])
        try:
            tick = worker.tick()
        finally:
            worker.pool.shutdown(wait=True)
        assert len(redirecting.received) == 1
    assert (tick.claimed, tick.delivered) == (1, 0)
    (hook,) = rows(engine, message_id=message_id, channel=Channel.WEBHOOK)
    assert hook.status is NotificationStatus.PENDING and hook.last_error and "307" in hook.last_error
    assert elsewhere.received == []
