"""Where a person's notifications go: the organisation's channels, each person's choice and quiet hours.

Only ops configure URLs (the organisation's channels); a person chooses among the channels that serve them and
may give addresses of their own (a phone number, an e-mail address, a DingTalk or WeCom user id), never a URL.
Everything is checked when it is saved — an unparseable URL, a host that is not public, a channel nobody
configured, an unknown team or user, an address the person does not have — so nothing is discovered at send
time. What can still change later (a phone number removed, DNS) fails that delivery visibly, with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, NamedTuple, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.errors import Conflict, Invalid, NotFound
from evenhand.i18n import N_, t
from evenhand.kit import audit, revision, versions
from evenhand.kit.clock import utcnow
from evenhand.kit.revision import Revision, Revisioned
from evenhand.models import Channel, NotifyEndpoint, NotifyPreference, Team, User
from evenhand.notify import channels as ch
from evenhand.notify import outbound
from evenhand.notify.policy import quiet_until as quiet_end_at
from evenhand.notify.schemas import EndpointWrite, PreferencesUpdate

GROUP_CHANNELS = (Channel.DINGTALK, Channel.WECOM, Channel.WEBHOOK)
NO_CHANNEL = N_("No {channel} channel is configured for this person")
NO_ADDRESS = N_("The recipient has no {field}, which the {channel} channel needs")
UNSUPPORTED = "-"


@dataclass(frozen=True)
class Target:
    """Where one delivery goes. Without ``url`` it cannot go anywhere: no channel of that kind serves the
    person, or they lack the ``missing`` field (phone, e-mail) the URL needs."""

    channel: Channel
    url: str | None
    endpoint_id: int | None = None
    missing: str | None = None

    @property
    def key(self) -> str | None:
        return ch.target_key(self.url) if self.url else None

    @property
    def problem(self) -> str | None:
        """Why it cannot go, in English (stored with the failed delivery for ops)."""
        if self.url is not None:
            return None
        if self.missing:
            return t(NO_ADDRESS, "en", field=self.missing, channel=self.channel.value)
        return t(NO_CHANNEL, "en", channel=self.channel.value)


class Person(Protocol):
    """What a person's targets are filled from: a ``User`` row, or a ``Profile`` kept between transactions."""

    @property
    def id(self) -> int: ...
    @property
    def team_id(self) -> int | None: ...
    @property
    def phone(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...
    @property
    def username(self) -> str: ...


def _fields(user: Person, channel: Channel, address: str | None) -> dict[str, Any]:
    """What fills a channel's URL for this person: their profile, and their own address for that channel."""
    fields = {"phone": user.phone, "email": user.email, "username": user.username, "user_id": user.id}
    kind = ch.ADDRESSES.get(channel)
    if kind is not None and address:
        fields[kind.placeholder] = address
    return fields


def own_addresses(personal: Mapping[str, str]) -> dict[str, str]:
    """A person's own addresses. A URL stored before personal URLs were refused is ignored: the organisation's
    channel serves instead, and the person reaches nothing they aimed themselves."""
    return {channel: value for channel, value in personal.items() if not ch.is_url(value)}


@dataclass(frozen=True)
class Endpoint:
    """An organisation channel as the directory keeps it between transactions: a copy of its active row."""

    id: int
    channel: Channel
    url: str
    team_id: int | None
    user_ids: tuple[int, ...]
    is_default: bool


@dataclass(frozen=True)
class Preference:
    """A person's settings as the directory keeps them between transactions: a copy of their row."""

    channels: tuple[str, ...]
    personal: Mapping[str, str]
    quiet_start: str | None
    quiet_end: str | None


def _serves(endpoint: Endpoint, user: Person) -> int:
    """How closely an endpoint serves a person: 3 named, 2 their team, 1 everyone, 0 not at all."""
    if endpoint.user_ids:
        return 3 if user.id in endpoint.user_ids else 0
    if endpoint.team_id is not None:
        return 2 if endpoint.team_id == user.team_id else 0
    return 1


def _endpoints(session: Session, user: User) -> list[Endpoint]:
    return _serving(_active_endpoints(session, revision.current(session)), user)


_ACTIVE_ENDPOINTS = select(NotifyEndpoint).where(NotifyEndpoint.active.is_(True)).order_by(NotifyEndpoint.id)
_PREFERENCES = select(NotifyPreference).where(NotifyPreference.user_id.in_(bindparam("ids", expanding=True)))
# Both kept for the configuration revision (``kit.revision``): a message per lead reads neither table.
_ENDPOINTS: Revisioned[None, tuple[Endpoint, ...]] = Revisioned(keep=4)
_CHOICES: Revisioned[tuple[int, ...], dict[int, Preference]] = Revisioned(keep=1024)


def _active_endpoints(session: Session, at: Revision | None) -> tuple[Endpoint, ...]:
    return _ENDPOINTS.get(session, at, None, lambda: tuple(
        Endpoint(e.id, e.channel, e.url, e.team_id, tuple(e.user_ids), e.is_default)
        for e in session.scalars(_ACTIVE_ENDPOINTS)))


def _preferences(session: Session, at: Revision | None, user_ids: tuple[int, ...]) -> dict[int, Preference]:
    return _CHOICES.get(session, at, user_ids, lambda: {
        p.user_id: Preference(tuple(p.channels), dict(p.personal), p.quiet_start, p.quiet_end)
        for p in session.scalars(_PREFERENCES, {"ids": list(user_ids)})} if user_ids else {})


def _serving(endpoints: Sequence[Endpoint], user: Person) -> list[Endpoint]:
    return sorted((e for e in endpoints if _serves(e, user)), key=lambda e: -_serves(e, user))


def _target(channel: Channel, endpoint: Endpoint | None, user: Person, address: str | None) -> Target:
    if endpoint is None:
        return Target(channel, None)
    try:
        return Target(channel, ch.fill(endpoint.url, _fields(user, channel, address)), endpoint.id)
    except KeyError as missing:
        return Target(channel, None, endpoint.id, missing=str(missing.args[0]))


def _targets(active: Sequence[Endpoint], user: Person, pref: Preference | None,
             channels: Sequence[Channel] | None) -> list[Target]:
    endpoints = _serving(active, user)
    if channels is None:
        channels = [Channel(c) for c in pref.channels] if pref else [e.channel for e in endpoints if e.is_default]
    own = own_addresses(pref.personal) if pref else {}
    return [_target(channel, next((e for e in endpoints if e.channel == channel), None), user,
                    own.get(channel.value)) for channel in dict.fromkeys(channels)]


def targets_for(session: Session, user: User, *, channels: Sequence[Channel] | None = None) -> list[Target]:
    """The person's channels (their choice, else the organisation's default channels that serve them), each
    through the closest organisation channel, filled with the person's own address for it if they gave one."""
    return Directory(session, [user.id]).targets(user, channels=channels)


class Directory:
    """Everyone's notification settings a batch of messages needs: the recipients' own preferences and the
    organisation's active channels, kept in process for the configuration revision read first."""

    def __init__(self, session: Session, user_ids: Sequence[int]) -> None:
        at = revision.current(session)
        self._prefs = _preferences(session, at, tuple(sorted(set(user_ids))))
        self._endpoints = _active_endpoints(session, at)

    def targets(self, user: User, *, channels: Sequence[Channel] | None = None) -> list[Target]:
        return _targets(self._endpoints, user, self._prefs.get(user.id), channels)

    def quiet_until(self, user: User, now: datetime) -> datetime | None:
        pref = self._prefs.get(user.id)
        if pref is None:
            return None
        return quiet_end_at(now, ZoneInfo(user.timezone), pref.quiet_start, pref.quiet_end)


class Profile(NamedTuple):
    """The fields of a person's row that fill a channel's URL and choose the endpoints serving them."""

    id: int
    team_id: int | None
    phone: str | None
    email: str | None
    username: str


@dataclass(frozen=True)
class Recipient:
    """What sending a message needs of a person, kept in process for a configuration revision (``users``,
    ``notify_preferences`` and ``notify_endpoints`` are all cached tables): their language (None: the
    organisation's) and zone, their settings, and where their messages go by default (``Directory.targets``
    without ``channels``)."""

    profile: Profile
    locale: str | None
    timezone: str
    preference: Preference | None
    targets: tuple[Target, ...]

    def quiet_until(self, now: datetime) -> datetime | None:
        """When the person's quiet hours around ``now`` end (aware), or None outside them."""
        pref = self.preference
        if pref is None:
            return None
        return quiet_end_at(now, ZoneInfo(self.timezone), pref.quiet_start, pref.quiet_end)


_RECIPIENT_ROWS = (
    select(User.id, User.team_id, User.phone, User.email, User.username, User.locale, User.timezone,
           NotifyPreference.user_id, NotifyPreference.channels, NotifyPreference.personal, NotifyPreference.quiet_start,
           NotifyPreference.quiet_end)
    .outerjoin(NotifyPreference, NotifyPreference.user_id == User.id)
    .where(User.id.in_(bindparam("ids", expanding=True))))
# One value per person and revision; enough for every person of a large organisation at a few revisions.
_RECIPIENTS: Revisioned[int, Recipient] = Revisioned(keep=16_384)


class _Unknown(Exception):
    """No user with the id asked for (nothing is kept for it)."""


def recipients(session: Session, user_ids: Iterable[int]) -> dict[int, Recipient]:
    """The recipients among ``user_ids`` by id, at the revision this transaction works with (its own pending
    changes flushed first); an id that names no user is left out. Only ids this process has no value for at that
    revision are read, together, in one statement."""
    at = revision.current(session)
    wanted = list(dict.fromkeys(user_ids))
    loaded: dict[int, Recipient] | None = None

    def build(user_id: int) -> Recipient:
        nonlocal loaded
        if loaded is None:
            loaded = _load_recipients(session, at, wanted)
        if user_id not in loaded:
            raise _Unknown(user_id)
        return loaded[user_id]

    out: dict[int, Recipient] = {}
    for user_id in wanted:
        try:
            out[user_id] = _RECIPIENTS.get(session, at, user_id, partial(build, user_id))
        except _Unknown:
            continue
    return out


def _load_recipients(session: Session, at: Revision | None, user_ids: list[int]) -> dict[int, Recipient]:
    endpoints = _active_endpoints(session, at)
    out = {}
    for row in session.connection().execute(_RECIPIENT_ROWS, {"ids": user_ids}):
        who = Profile(row[0], row[1], row[2], row[3], row[4])
        pref = None if row[7] is None else Preference(tuple(row[8]), dict(row[9]), row[10], row[11])
        out[who.id] = Recipient(who, row[5], row[6], pref, tuple(_targets(endpoints, who, pref, None)))
    return out


def team_targets(session: Session, team_id: int) -> list[Target]:
    """The group channels (robots, webhooks) configured for a team."""
    rows = session.scalars(select(NotifyEndpoint).where(
        NotifyEndpoint.team_id == team_id, NotifyEndpoint.active.is_(True),
        NotifyEndpoint.channel.in_(GROUP_CHANNELS)).order_by(NotifyEndpoint.id))
    return [Target(e.channel, e.url, e.id) for e in rows if not ch.placeholders(e.url)]


def rate_limits(session: Session, rows: Sequence[tuple[str, Channel, int | None]]) -> dict[str, int]:
    """Sends per minute allowed for each (target key, channel, endpoint) that has a limit."""
    ids = {e for _, _, e in rows if e is not None}
    configured = dict(session.execute(select(NotifyEndpoint.id, NotifyEndpoint.rate_per_minute)
                                      .where(NotifyEndpoint.id.in_(ids))).all()) if ids else {}
    out = {}
    for key, channel, endpoint_id in rows:
        limit = configured.get(endpoint_id) if endpoint_id is not None else None
        limit = limit or ch.DEFAULT_RATE.get(channel)
        if limit:
            out[key] = limit
    return out


# --- a person's settings ---------------------------------------------------------------------------


def get_preferences(session: Session, user_id: int) -> dict[str, Any]:
    user = _user(session, user_id, field="user_id")
    pref = session.get(NotifyPreference, user_id)
    available = sorted({e.channel for e in _endpoints(session, user)}, key=list(Channel).index)
    return {"user_id": user_id, "channels": pref.channels if pref else [e.value for e in _defaults(session, user)],
            "personal": own_addresses(pref.personal) if pref else {}, "quiet_start": pref.quiet_start if pref else None,
            "quiet_end": pref.quiet_end if pref else None, "available": available}


def _defaults(session: Session, user: User) -> list[Channel]:
    return list(dict.fromkeys(e.channel for e in _endpoints(session, user) if e.is_default))


def save_preferences(session: Session, user_id: int, data: PreferencesUpdate, *, actor: Principal) -> NotifyPreference:
    """Store a person's channels, own addresses and quiet hours after checking each channel can reach them."""
    user = _user(session, user_id, field="user_id")
    for channel, value in data.personal.items():
        _check_address(channel, value, field=f"personal.{channel.value}")
    problems = [(i, target) for i, target in enumerate(
        _preview(session, user, data)) if target.url is None]
    if problems:
        i, target = problems[0]
        raise Invalid(N_("channels.{index}: {problem}"), field=f"channels.{i}", index=i,
                      problem=_reason(target))
    pref = session.get(NotifyPreference, user_id) or NotifyPreference(user_id=user_id)
    pref.channels = [c.value for c in dict.fromkeys(data.channels)]
    pref.personal = {c.value: value for c, value in data.personal.items()}
    pref.quiet_start, pref.quiet_end, pref.updated_at = data.quiet_start, data.quiet_end, utcnow()
    session.add(pref)
    session.flush()
    audit.append(session, action="notify.preferences_saved", subject_type="users", subject_id=user_id,
                 actor_id=actor.user_id, payload={"channels": pref.channels, "personal": sorted(pref.personal),
                                                  "quiet": [pref.quiet_start, pref.quiet_end]})
    return pref


def _preview(session: Session, user: User, data: PreferencesUpdate) -> list[Target]:
    """The targets these settings would give, without storing them."""
    endpoints = _endpoints(session, user)
    return [_target(channel, next((e for e in endpoints if e.channel == channel), None), user,
                    data.personal.get(channel)) if channel in ch.CONFIGURABLE
            else Target(channel, None, missing=UNSUPPORTED) for channel in data.channels]


def _reason(target: Target) -> str:
    if target.missing == UNSUPPORTED:
        return t(N_("{channel} cannot be chosen; the in-app inbox is always on."), channel=target.channel.value)
    if target.missing:
        return t(N_("your profile has no {field}, which {channel} needs"), field=target.missing,
                 channel=target.channel.value)
    return t(N_("no {channel} channel is configured for you; ask sales ops"), channel=target.channel.value)


def _check_address(channel: Channel, value: str, *, field: str) -> None:
    """A person's own address: a value of the channel's kind, never a URL (only ops aim requests at hosts)."""
    if ch.is_url(value):
        raise Invalid(N_("{where}: a personal setting is an address of your own (a phone number, an e-mail address, "
                         "a user id), not a URL; only sales ops configure where notifications are sent."),
                      field=field, where=field)
    kind = ch.ADDRESSES.get(channel)
    if kind is None:
        raise Invalid(N_("{where}: {channel} takes no personal address; sales ops configure it."), field=field,
                      where=field, channel=channel.value)
    if not kind.shape.fullmatch(value):
        raise Invalid(N_("{where}: {value} is not {what}."), field=field, where=field, value=value, what=t(kind.what))


def _check(channel: Channel, url: str, *, field: str, allowed: outbound.Allowed) -> None:
    """A channel URL Apprise reads, whose host is public or allowed (resolved now, and again at each send)."""
    try:
        ch.check_url(channel, url)
        ch.check_reach(url.format_map(ch.SAMPLE), allowed)
    except ch.UrlProblem as exc:
        raise Invalid(N_("{where}: {problem}"), field=field, where=field, problem=t(exc.message, **exc.params)) from exc
    except outbound.Refused as exc:
        raise Invalid(N_("{where}: {problem}"), field=field, where=field, problem=exc.text()) from exc


def _user(session: Session, user_id: int, *, field: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No user with id {id}.", field=field, id=user_id)
    return user


# --- the organisation's channels -------------------------------------------------------------------


def endpoint_view(endpoint: NotifyEndpoint) -> dict[str, Any]:
    return {"id": endpoint.id, "name": endpoint.name, "channel": endpoint.channel, "url": ch.masked(endpoint.url),
            "team_id": endpoint.team_id, "user_ids": list(endpoint.user_ids), "is_default": endpoint.is_default,
            "rate_per_minute": endpoint.rate_per_minute, "active": endpoint.active}


def list_endpoints(session: Session) -> list[NotifyEndpoint]:
    return list(session.scalars(select(NotifyEndpoint).order_by(NotifyEndpoint.id)))


def save_endpoint(session: Session, data: EndpointWrite, *, actor: Principal, allowed: outbound.Allowed,
                  endpoint_id: int | None = None) -> NotifyEndpoint:
    """Create (or replace) an organisation channel after checking its URL (and the addresses its host resolves
    to, against ``allowed``), team and users."""
    _check(data.channel, data.url, field="url", allowed=allowed)
    if data.team_id is not None and session.get(Team, data.team_id) is None:
        raise Invalid(N_("team_id: no team with id {id}."), field="team_id", id=data.team_id)
    known = set(session.scalars(select(User.id).where(User.id.in_(data.user_ids)))) if data.user_ids else set()
    for i, uid in enumerate(data.user_ids):
        if uid not in known:
            raise Invalid(N_("user_ids.{index}: no user with id {id}."), field=f"user_ids.{i}", index=i, id=uid)
    endpoint = _endpoint(session, endpoint_id) if endpoint_id is not None else NotifyEndpoint()
    for key, value in data.model_dump().items():
        setattr(endpoint, key, list(dict.fromkeys(value)) if key == "user_ids" else value)
    endpoint.updated_at = utcnow()
    try:
        with session.begin_nested():
            session.add(endpoint)
            session.flush()
    except IntegrityError as exc:
        raise Conflict("A channel named {name} already exists.", field="name", name=data.name) from exc
    _audit_endpoint(session, "notify.endpoint_saved", endpoint, actor)
    return endpoint


def delete_endpoint(session: Session, endpoint_id: int, *, actor: Principal) -> None:
    endpoint = _endpoint(session, endpoint_id)
    _audit_endpoint(session, "notify.endpoint_deleted", endpoint, actor)
    session.delete(endpoint)
    session.flush()


def _endpoint(session: Session, endpoint_id: int) -> NotifyEndpoint:
    endpoint = session.get(NotifyEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound("No notification channel with id {id}.", field="endpoint_id", id=endpoint_id)
    return endpoint


def _audit_endpoint(session: Session, action: str, endpoint: NotifyEndpoint, actor: Principal) -> None:
    """Audited, and recorded in the change registry: where notifications go is configuration like any document."""
    view = endpoint_view(endpoint)
    view["channel"] = endpoint.channel.value
    audit.append(session, action=action, subject_type="notify_endpoints", subject_id=endpoint.id,
                 actor_id=actor.user_id, payload=view)
    title = f"notify_endpoints {endpoint.id} {endpoint.name}: {action.removeprefix('notify.endpoint_')}"
    versions.record_change(session, system="notify_endpoints", title=title, author_id=actor.user_id)
