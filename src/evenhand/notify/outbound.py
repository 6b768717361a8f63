"""Where notifications may connect: public addresses only, unless ops allowed a host or network explicitly
(``EVENHAND_OUTBOUND_ALLOWED_HOSTS``).

A URL typed into a channel makes the worker send a lead's details to its host, so loopback, link-local,
private, unspecified, multicast, reserved and cloud-metadata addresses are refused — when a channel is saved,
right before each send, and on every connection the send opens (redirect hops included): while ``guarded`` is
active, the thread's name lookups return only addresses that passed the check, so the connection goes to what
was checked even if DNS answered differently a moment before. Caveat: behind an HTTP proxy (``HTTPS_PROXY``) the
check applies to the proxy, which must then be allowed itself.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from evenhand.i18n import N_, t

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# AWS, GCP and Azure answer on 169.254.169.254 (AWS also on fd00:ec2::254), Alibaba Cloud on 100.100.100.200.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "fd00:ec2::254", "100.100.100.200"))
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog", "metadata"})
NAT64 = ipaddress.ip_network("64:ff9b::/96")

LOOPBACK = N_("a loopback address")
LINK_LOCAL = N_("a link-local address")
PRIVATE = N_("a private address")
UNSPECIFIED = N_("the unspecified address")
MULTICAST = N_("a multicast address")
METADATA = N_("a cloud metadata address")
NOT_PUBLIC = N_("not a public address")


class Refused(OSError):
    """A host notifications may not reach. An ``OSError``, so a refused connection fails the send like any other
    connection error; ``message`` is an ``N_`` template whose ``reason`` parameter is one too. ``transient``: the
    host did not resolve, which may pass."""

    def __init__(self, message: str, *, transient: bool = False, **params: str) -> None:
        super().__init__(message)
        self.message, self.params, self.transient = message, params, transient

    def __str__(self) -> str:
        return self.text("en")

    def text(self, locale: str | None = None) -> str:
        params = {k: t(v, locale) if k == "reason" else v for k, v in self.params.items()}
        return t(self.message, locale, **params)


@dataclass(frozen=True)
class Allowed:
    """Hosts (by name) and networks ops allowed although they are not public."""

    names: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, entries: str | Iterable[str]) -> Allowed:
        """From the setting's entries (see ``allow_list``)."""
        names, networks = set(), []
        for entry in allow_list(entries):
            network = _network(entry)
            if network is None:
                names.add(entry)
            else:
                networks.append(network)
        return cls(frozenset(names), tuple(networks))

    def host(self, host: str) -> bool:
        return _name(host) in self.names

    def address(self, address: IPAddress) -> bool:
        return any(a in n for a in {address, embedded(address)} for n in self.networks if a.version == n.version)


def allow_list(value: Any) -> list[str]:
    """The setting as host names and CIDRs: a list, or a string (comma- or space-separated, or a JSON list).
    A malformed entry raises ``ValueError``."""
    if isinstance(value, str):
        value = json.loads(value) if value.strip().startswith("[") else value.replace(",", " ").split()
    out = []
    for entry in value or []:
        name = _name(str(entry))
        if not name:
            continue
        if "/" in name and _network(name) is None:
            raise ValueError(f"{entry!r} is neither a host name nor a network like 10.0.0.0/8")
        out.append(name)
    return out


def _name(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _network(entry: str) -> Network | None:
    try:
        return ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return None


def embedded(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one stands for (IPv4-mapped, NAT64, 6to4), else the address itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def address_problem(address: IPAddress) -> str | None:
    """Why notifications may not reach this address (an ``N_`` phrase), or None for a public one."""
    address = embedded(address)
    if address in METADATA_ADDRESSES:
        return METADATA
    for test, reason in (("is_unspecified", UNSPECIFIED), ("is_loopback", LOOPBACK), ("is_link_local", LINK_LOCAL),
                         ("is_multicast", MULTICAST), ("is_private", PRIVATE)):
        if getattr(address, test):
            return reason
    if address.is_reserved or not address.is_global:
        return NOT_PUBLIC
    return None


_resolve = socket.getaddrinfo  # the real resolver, kept before ``guarded`` wraps the module's


def resolve(host: str, port: int | None) -> list[IPAddress]:
    """Every address ``host`` resolves to (numeric forms like 2130706433 and 0177.0.0.1 included)."""
    try:
        found = _resolve(host, port or 0, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Refused(N_("{host} cannot be resolved."), host=host, transient=True) from exc
    return [ipaddress.ip_address(str(info[4][0]).partition("%")[0]) for info in found]


def check_host(host: str, port: int | None, allowed: Allowed) -> None:
    """Refuse a host that is (or resolves to) an address notifications may not reach."""
    name = _name(host)
    if allowed.host(name):
        return
    if name in METADATA_HOSTS:
        raise Refused(N_("{host} is a cloud metadata host."), host=name)
    _check_addresses(name, resolve(name, port), allowed)


def _check_addresses(name: str, addresses: Sequence[IPAddress], allowed: Allowed) -> None:
    for address in addresses:
        problem = None if allowed.address(address) else address_problem(address)
        if problem is None:
            continue
        if _literal(name) == address:
            raise Refused(N_("{address} is {reason}; notifications reach it only if EVENHAND_OUTBOUND_ALLOWED_HOSTS "
                             "allows it."), address=str(address), reason=problem)
        raise Refused(N_("{host} resolves to {address}, {reason}; notifications reach it only if "
                         "EVENHAND_OUTBOUND_ALLOWED_HOSTS allows it."), host=name, address=str(address),
                      reason=problem)


# --- every connection a send opens ---------------------------------------------------------------------


@dataclass
class _Guard:
    allowed: Allowed
    refused: list[Refused] = field(default_factory=list)


_local = threading.local()
_install_lock = threading.Lock()


def _guarded_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
    found = _resolve(host, port, *args, **kwargs)
    guard: _Guard | None = getattr(_local, "guard", None)
    if guard is None or host is None:
        return found
    name = _name(host.decode() if isinstance(host, bytes) else str(host))
    try:
        if not guard.allowed.host(name):
            if name in METADATA_HOSTS:
                raise Refused(N_("{host} is a cloud metadata host."), host=name)
            _check_addresses(name, [ipaddress.ip_address(str(i[4][0]).partition("%")[0]) for i in found],
                             guard.allowed)
    except Refused as exc:
        guard.refused.append(exc)
        raise
    return found


@contextmanager
def guarded(allowed: Allowed) -> Iterator[list[Refused]]:
    """While active, this thread's name lookups (HTTP through urllib3, SMTP through the socket module) answer only
    with addresses that pass ``check_host``; a refused lookup fails the connection and is listed in the yielded
    list. Other threads are unaffected."""
    with _install_lock:
        if socket.getaddrinfo is not _guarded_getaddrinfo:
            socket.getaddrinfo = _guarded_getaddrinfo
    guard = _Guard(allowed)
    _local.guard = guard
    try:
        yield guard.refused
    finally:
        _local.guard = None
