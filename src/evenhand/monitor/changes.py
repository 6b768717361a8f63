"""The change registry (R4.6): every change to the systems the sales process runs on, with the business metrics it
may move and the KPIs watched for it.

evenhand's own configuration records itself (``kit.versions.record_change``: each saved document version, each
notification channel ops save). Ops and admins enter everything else (a CRM release, an app version, a campaign, an
integration) as a planned change with its impact checklist, and release it only once every question is answered,
at least one monitor names a KPI of the active definitions, and every affected metric that is such a KPI has its
monitor. Metrics that are not KPIs (``crm_availability``) are kept as said and watch nothing. A released change can
be rolled back with a reason; a configuration change is rolled back by saving the version before it instead.
Every write is in the audit chain, which is also the change's history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.errors import Conflict, Forbidden, Invalid, NotFound
from evenhand.i18n import N_, t
from evenhand.kit import audit
from evenhand.kit.clock import as_utc, utcnow
from evenhand.kit.text import require_clean
from evenhand.models import ChangeEntry, ChangeStatus
from evenhand.monitor import change_repository as repository
from evenhand.monitor import service as monitor_service
from evenhand.monitor.change_schemas import (
    QUESTIONS,
    ChangeCreate,
    ChangeDetail,
    ChangeRead,
    ChangeUpdate,
    HistoryRead,
    MissingRead,
    Monitor,
)
from evenhand.monitor.kpis import CompiledKpis

MANUAL = "manual"
STATUS_LABELS = {ChangeStatus.PLANNED: N_("Planned"), ChangeStatus.RELEASED: N_("Released"),
                 ChangeStatus.ROLLED_BACK: N_("Rolled back")}
KIND_LABELS = {"release": N_("Release"), "config": N_("Configuration"), "campaign": N_("Campaign"),
               "integration": N_("Integration"), "other": N_("Other")}
DONE_LABELS = {"added": N_("Added"), "edited": N_("Edited"), "released": N_("Released"),
               "rolled_back": N_("Rolled back")}
SOURCE_LABELS = {"manual": N_("Entered by hand"), "config": N_("evenhand configuration")}
# What a configuration change's ``system`` (the table of the document saved) is called.
SYSTEM_LABELS = {"scoring_models": N_("Scoring model"), "routing_policies": N_("Routing policy"),
                 "stage_standards": N_("Stage standards"), "alert_rules": N_("Alert rules"),
                 "qa_rubrics": N_("QA rubric"), "scorecard_templates": N_("Scorecard templates"),
                 "kpi_definitions": N_("KPI definitions"), "notify_endpoints": N_("Notification channels")}
NOT_ANSWERED = N_("{where}: not answered yet")
NO_MONITOR = N_("monitors: name at least one KPI of the active definitions to watch this change")
UNKNOWN_KPI = N_("monitors.{index}.kpi: {kpi} is not a KPI of the active definitions")
UNWATCHED = N_("affected_metrics.{index}: {metric} is a KPI; add a monitor for it")


@dataclass(frozen=True)
class Missing:
    """One thing a planned change lacks before it may be released: the field, and a message naming it."""

    field: str
    message: str
    params: dict[str, Any]

    def text(self, locale: str | None = None) -> str:
        return t(self.message, locale, **self.params)


@dataclass(frozen=True)
class Done:
    """One write to a change, as the audit chain holds it."""

    action: str
    at: datetime
    actor_id: int | None
    actor: str | None
    reason: str | None


def active_kpis(session: Session) -> CompiledKpis:
    """The active KPI definitions: the shipped ones until a version is saved."""
    return monitor_service.active_kpis(session)


def active_kpi_ids(session: Session) -> frozenset[str]:
    """What a monitor may name: the KPIs of the active KPI definitions."""
    return frozenset(k.id for k in active_kpis(session).kpis)


def missing(entry: ChangeEntry, active: frozenset[str]) -> list[Missing]:
    """What keeps a planned change from release (nothing for any other change; see ``lacking``)."""
    if entry.status is not ChangeStatus.PLANNED:
        return []
    return lacking(entry.checklist, entry.monitors, entry.affected_metrics, active)


def lacking(checklist: dict[str, Any], monitors: list[dict[str, Any]], metrics: list[str],
            active: frozenset[str]) -> list[Missing]:
    """Each unanswered question, each monitor on no active KPI, no monitor at all on one, each affected metric
    that is an active KPI but has no monitor. A page checks its form as typed with this."""
    found = [Missing(f"checklist.{key}", NOT_ANSWERED, {"where": f"checklist.{key}"}) for key in QUESTIONS
             if not str(checklist.get(key) or "").strip()]
    watched = [m["kpi"] for m in monitors]
    found += [Missing(f"monitors.{i}.kpi", UNKNOWN_KPI, {"index": i, "kpi": kpi})
              for i, kpi in enumerate(watched) if kpi not in active]
    if not active.intersection(watched):
        found.append(Missing("monitors", NO_MONITOR, {}))
    return found + [Missing(f"affected_metrics.{i}", UNWATCHED, {"index": i, "metric": metric})
                    for i, metric in enumerate(metrics) if metric in active and metric not in watched]


# --- reading -----------------------------------------------------------------------------------------------------


def check_reader(principal: Principal) -> None:
    """Everyone but reps reads the registry (sales ops, admins, supervisors, auditors)."""
    if not principal.sees_team_figures:
        raise Forbidden("Only sales ops, admins, supervisors and auditors read the change registry.")


def listing(principal: Principal, *, status: ChangeStatus | None = None, system: str | None = None,
            source: str | None = None, kind: str | None = None, since: date | None = None,
            until: date | None = None, zone: ZoneInfo) -> Select[ChangeEntry]:
    """The entries matching every filter, newest first (``since``/``until``: whole days in ``zone``)."""
    check_reader(principal)
    return repository.listing(status=status, system=system, source=source, kind=kind, since=since, until=until,
                              zone=zone)


def listed(session: Session, principal: Principal, *, limit: int, zone: ZoneInfo, **filters: Any) -> list[ChangeEntry]:
    """The first ``limit`` entries of ``listing``."""
    return list(session.scalars(listing(principal, zone=zone, **filters).limit(limit)))


def get(session: Session, principal: Principal, change_id: int) -> ChangeEntry:
    check_reader(principal)
    return _entry(session, change_id)


def history(session: Session, principal: Principal, change_id: int) -> list[Done]:
    """What was done with a change, oldest first: added, edited, released, rolled back (with the reason)."""
    check_reader(principal)
    return [Done(e.action.removeprefix("change."), e.at, e.actor_id, name, e.payload.get("reason"))
            for e, name in repository.history(session, change_id)]


def view(entry: ChangeEntry, active: frozenset[str]) -> ChangeRead:
    """The entry as the API and ``--json`` give it, with what keeps it from release in the current language."""
    read = ChangeRead.model_validate(entry)
    read.missing = [MissingRead(field=m.field, message=m.text()) for m in missing(entry, active)]
    return read


def detail(session: Session, principal: Principal, entry: ChangeEntry) -> ChangeDetail:
    done = [HistoryRead(**vars(d)) for d in history(session, principal, entry.id)]
    return ChangeDetail(**view(entry, active_kpi_ids(session)).model_dump(), history=done)


def systems(session: Session, principal: Principal) -> list[str]:
    check_reader(principal)
    return repository.systems(session)


def people(session: Session, entries: list[ChangeEntry]) -> dict[int, str]:
    """The display names of the entries' authors and releasers."""
    ids = {i for e in entries for i in (e.author_id, e.released_by_id) if i is not None}
    return repository.user_names(session, ids)


# --- writing -----------------------------------------------------------------------------------------------------


def add(session: Session, data: ChangeCreate, *, actor: Principal | None) -> ChangeEntry:
    """A planned change entered by hand (``actor`` None: the command line). It takes effect at ``effective_at``
    (default now) once released."""
    _check_manager(actor)
    entry = ChangeEntry(title=data.title, kind=data.kind, system=data.system, description=data.description,
                        effective_at=as_utc(data.effective_at or utcnow()), author_id=_id(actor),
                        affected_metrics=_distinct(data.affected_metrics), status=ChangeStatus.PLANNED,
                        source=MANUAL, checklist=_answers({}, data.checklist), monitors=_monitors(data.monitors))
    session.add(entry)
    session.flush()
    _audit(session, "change.added", entry, actor, _fields(entry))
    return entry


def edit(session: Session, change_id: int, data: ChangeUpdate, *, actor: Principal | None) -> ChangeEntry:
    """Change what a planned change says; checklist answers are merged into those it had."""
    _check_manager(actor)
    entry = _planned(session, change_id)
    given = _stored(entry, data)
    for name, value in given.items():
        setattr(entry, name, value)
    session.flush()
    _audit(session, "change.edited", entry, actor, {k: _plain(v) for k, v in given.items()})
    return entry


def release(session: Session, change_id: int, *, actor: Principal | None) -> ChangeEntry:
    """Mark a planned change released, refused (naming every missing field) unless its checklist is answered and
    its monitors are active (see ``missing``)."""
    _check_manager(actor)
    entry = _planned(session, change_id)
    found = missing(entry, active_kpi_ids(session))
    if found:
        raise Invalid(found[0].message, field=found[0].field, **found[0].params,
                      details=[{"field": m.field, "message": m.text()} for m in found])
    entry.status, entry.released_at, entry.released_by_id = ChangeStatus.RELEASED, utcnow(), _id(actor)
    session.flush()
    _audit(session, "change.released", entry, actor, {"monitors": entry.monitors})
    return entry


def roll_back(session: Session, change_id: int, *, reason: str, actor: Principal | None) -> ChangeEntry:
    """A released change entered by hand, marked rolled back with the reason (kept in its history)."""
    _check_manager(actor)
    require_clean(reason, field="reason")  # a page hands it over as typed
    if not reason.strip():
        raise Invalid("reason: say why the change is rolled back.", field="reason")
    entry = _locked(session, change_id)
    if entry.source != MANUAL:
        raise Conflict("A configuration change is rolled back by saving the version before it, which is recorded as "
                       "a change of its own.", field="change_id")
    if entry.status is not ChangeStatus.RELEASED:
        raise Conflict("Only a released change can be rolled back.", field="status")
    entry.status = ChangeStatus.ROLLED_BACK
    session.flush()
    _audit(session, "change.rolled_back", entry, actor, {"reason": reason.strip()})
    return entry


def _check_manager(actor: Principal | None) -> None:
    if actor is not None and not actor.manages_org:
        raise Forbidden("Only sales ops and admins change the change registry.")


def _entry(session: Session, change_id: int, *, lock: bool = False) -> ChangeEntry:
    entry = session.get(ChangeEntry, change_id, with_for_update=lock)
    if entry is None:
        raise NotFound("No change with id {id}.", field="change_id", id=change_id)
    return entry


def _locked(session: Session, change_id: int) -> ChangeEntry:
    audit.lock(session)  # the chain before the row, as every writer that appends to it
    return _entry(session, change_id, lock=True)


def _planned(session: Session, change_id: int) -> ChangeEntry:
    entry = _locked(session, change_id)
    if entry.source != MANUAL:
        raise Conflict("A configuration change is recorded as it was saved and cannot be edited or released.",
                       field="change_id")
    if entry.status is not ChangeStatus.PLANNED:
        raise Conflict("Change {id} is no longer planned: only a planned change can be edited or released.",
                       field="status", id=change_id)
    return entry


def _stored(entry: ChangeEntry, data: ChangeUpdate) -> dict[str, Any]:
    """The fields ``data`` gives, as the entry stores them."""
    given = data.model_dump(exclude_unset=True, exclude_none=True)
    if data.checklist is not None:
        given["checklist"] = _answers(entry.checklist, data.checklist)
    if data.monitors is not None:
        given["monitors"] = _monitors(data.monitors)
    if data.affected_metrics is not None:
        given["affected_metrics"] = _distinct(data.affected_metrics)
    if data.effective_at is not None:
        given["effective_at"] = as_utc(data.effective_at)
    return given


def _answers(before: dict[str, Any], given: dict[str, str]) -> dict[str, str]:
    """The checklist with ``given`` merged in; an empty answer clears one, an unknown question is refused."""
    for key in given:
        if key not in QUESTIONS:
            raise Invalid("checklist.{key}: no such question; the questions are {questions}.",
                          field=f"checklist.{key}", key=key, questions=", ".join(QUESTIONS))
    merged = {**before, **given}
    return {key: merged[key] for key in QUESTIONS if merged.get(key)}


def _monitors(given: list[Monitor]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    for i, monitor in enumerate(given):
        if monitor.kpi in seen:
            raise Invalid("monitors.{index}.kpi: {kpi} is watched twice.", field=f"monitors.{i}.kpi", index=i,
                          kpi=monitor.kpi)
        seen.add(monitor.kpi)
    return [m.model_dump() for m in given]


def _distinct(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _id(actor: Principal | None) -> int | None:
    return actor.user_id if actor is not None else None


def _fields(entry: ChangeEntry) -> dict[str, Any]:
    return {"title": entry.title, "kind": entry.kind, "system": entry.system, "description": entry.description,
            "effective_at": entry.effective_at.isoformat(), "affected_metrics": entry.affected_metrics,
            "monitors": entry.monitors, "checklist": entry.checklist}


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _audit(session: Session, action: str, entry: ChangeEntry, actor: Principal | None,
           payload: dict[str, Any]) -> None:
    audit.append(session, action=action, subject_type=repository.SUBJECT, subject_id=entry.id, actor_id=_id(actor),
                 payload=payload)
