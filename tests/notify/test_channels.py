"""Channel URLs are checked when saved; the Apprise sender carries the idempotency key to a real endpoint."""

from __future__ import annotations

import pytest

from evenhand.models import Channel
from evenhand.notify.channels import AppriseSender, Envelope, UrlProblem, check_url, fill, masked, target_key
from tests.notify.conftest import ALLOW_LOCAL
from tests.notify.sink import Faults, Sink


@pytest.mark.parametrize(("channel", "url"), [
    (Channel.DINGTALK, "dingtalk://SECsecret@a1b2c3d4e5f6/"),
    (Channel.WECOM, "wecombot://0123456789abcdef"),
    (Channel.EMAIL, "mailtos://bot:pw@smtp.example.com?to={email}"),
    (Channel.SMS, "json://sms.example.com:8080/send?:to={phone}"),
    (Channel.WEBHOOK, "jsons://hooks.example.com/evenhand"),
])
def test_each_channel_accepts_its_apprise_urls(channel: Channel, url: str) -> None:
    check_url(channel, url)


@pytest.mark.parametrize(("channel", "url", "problem"), [
    (Channel.DINGTALK, "wecombot://0123456789abcdef", "A {channel} URL starts with {schemes}."),
    (Channel.WEBHOOK, "json://", "Apprise cannot read this URL."),
    (Channel.SMS, "json://gw/send?:to={mobile}", "Unknown placeholder {{{name}}}; use {allowed}."),
    (Channel.SMS, "json://gw/send?:to={phone", "The URL has an unmatched brace."),
    (Channel.IN_APP, "json://gw/send", "The {channel} channel cannot be configured."),
])
def test_unusable_urls_are_refused_with_the_reason(channel: Channel, url: str, problem: str) -> None:
    with pytest.raises(UrlProblem) as caught:
        check_url(channel, url)
    assert caught.value.message == problem


def test_a_recipient_without_the_address_a_url_needs_is_named() -> None:
    assert fill("json://gw/send?:to={phone}", {"phone": "139"}) == "json://gw/send?:to=139"
    with pytest.raises(KeyError, match="phone"):
        fill("json://gw/send?:to={phone}", {"phone": None, "email": "a@b.cn"})


def test_secrets_stay_hidden_and_targets_are_named_by_hash() -> None:
    shown = masked("dingtalk://SECverysecret@tokentokentoken/")
    assert "verysecret" not in shown and "tokentokentoken" not in shown
    assert target_key("dingtalk://a/") != target_key("dingtalk://b/") and len(target_key("x")) == 40


def test_the_idempotency_key_travels_as_header_and_in_the_payload(sink: Sink) -> None:
    sender = AppriseSender(timeout=2, allowed=ALLOW_LOCAL)
    envelope = Envelope(sink.url("/sms") + "?:to=13900000002", "新线索：苏州精密", "评分 88", "m1.s0.sms.abc",
                        "lead_assigned", link="http://crm/leads/1")
    assert sender.send(envelope).ok
    (got,) = sink.accepted()
    assert got.key == "m1.s0.sms.abc"
    assert got.body["idempotency_key"] == "m1.s0.sms.abc" and got.body["to"] == "13900000002"
    assert (got.body["title"], got.body["message"], got.body["link"]) == ("新线索：苏州精密", "评分 88",
                                                                          "http://crm/leads/1")


def test_refusals_and_timeouts_are_failures_with_a_reason() -> None:
    sender = AppriseSender(timeout=0.3, allowed=ALLOW_LOCAL)
    with Sink(Faults(failure_rate=1.0)) as refusing:
        outcome = sender.send(Envelope(refusing.url(), "t", "b", "k1", "x"))
        assert not outcome.ok and outcome.error and "500" in outcome.error
    with Sink(Faults(timeout_rate=1.0, timeout_seconds=1.0)) as slow:
        outcome = sender.send(Envelope(slow.url(), "t", "b", "k2", "x"))
        assert not outcome.ok and outcome.error
    assert not sender.send(Envelope("nonsense://x", "t", "b", "k3", "x")).ok
