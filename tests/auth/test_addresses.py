"""The client address sign-in is throttled by: X-Forwarded-For only as far as our own proxies vouch for it."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from evenhand.auth.addresses import client_address

PROXIES = [ip_network("10.0.0.0/8"), ip_network("2001:db8::/32")]


@pytest.mark.parametrize("peer, forwarded, client", [
    ("198.51.100.1", [], "198.51.100.1"),
    ("198.51.100.1", ["192.0.2.7"], "198.51.100.1"),  # not our proxy: its header is its own claim
    ("198.51.100.1", ["10.0.0.1"], "198.51.100.1"),  # claiming to be our proxy changes nothing
    ("10.0.0.2", ["192.0.2.7"], "192.0.2.7"),
    ("10.0.0.2", ["spoofed, 192.0.2.7"], "192.0.2.7"),  # what the client wrote left of our hop is ignored
    ("10.0.0.2", ["203.0.113.5, 192.0.2.7, 10.0.0.3"], "192.0.2.7"),  # through two of ours
    ("10.0.0.2", ["203.0.113.5, 192.0.2.7", "10.0.0.3"], "192.0.2.7"),  # the header repeated
    ("10.0.0.2", ["10.0.0.4, 10.0.0.3"], "10.0.0.4"),  # only proxies: the leftmost
    ("10.0.0.2", ["192.0.2.7, not-an-address"], "10.0.0.2"),  # garbage: stop at the last hop we trust
    ("10.0.0.2", [""], "10.0.0.2"),
    ("10.0.0.2", [], "10.0.0.2"),
    ("2001:db8::1", ["2001:0db8:0:0::9, 2400:cb00::1"], "2400:cb00::1"),
    ("::ffff:10.0.0.2", ["192.0.2.7"], "192.0.2.7"),  # a dual-stack socket's IPv4 peer
    ("testclient", ["192.0.2.7"], "testclient"),  # not an address at all: as it came
    (None, ["192.0.2.7"], "unknown"),
])
def test_client_address(peer: str | None, forwarded: list[str], client: str) -> None:
    assert client_address(peer, forwarded, PROXIES) == client


def test_with_no_trusted_proxies_the_header_never_counts() -> None:
    assert client_address("127.0.0.1", ["192.0.2.7"], []) == "127.0.0.1"
