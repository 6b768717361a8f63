"""Stage standards endpoints: the versioned document, validation and a 30-day preview, and compliance of a
lead, an opportunity, and per rep and team."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from evenhand.deps import DbSession, DocumentEditor, Reader
from evenhand.kit.clock import utcnow
from evenhand.kit.schema import DbId, IsoDatetime
from evenhand.kit.versions import DocumentText, Note, VersionRead
from evenhand.standards import service
from evenhand.standards.service import RecordCompliance
from evenhand.web import document_routes

router = APIRouter(tags=["standards"])


class StandardsDetail(VersionRead):
    body: str


class StandardsSave(DocumentText):
    note: Note = ""


document_routes.add(router, "/standards", service.STANDARDS, noun="standards", detail=StandardsDetail,
                    save_body=StandardsSave, save=service.save, saved="A new active version; the change is audited "
                    "with its diff. Compliance is judged under it from now on.")


class PreviewRequest(DocumentText):
    days: Annotated[int, Field(ge=1, le=92)] = service.PREVIEW_DAYS


class TallyRead(BaseModel):
    entries: int
    judged: int
    met: int
    late: int
    open: int
    overdue: int
    missed: int
    share_on_time: float | None = Field(description="Met on time among the judged (open entries are not judged)")


class TeamTally(TallyRead):
    team_id: int | None
    team: str | None


class RepTally(TallyRead):
    rep_id: int
    rep: str
    team: str | None


class Summary(BaseModel):
    overall: TallyRead
    stages: dict[str, TallyRead]
    teams: list[TeamTally]
    reps: list[RepTally]


class Figures(Summary):
    since: datetime
    until: datetime
    now: datetime
    version: int | None


class Preview(BaseModel):
    days: int
    since: datetime
    until: datetime
    version: int
    current: Summary
    candidate: Summary


class LineRead(BaseModel):
    requirement: str = Field(description="Its path in the document, e.g. needs_analysis.all_of.1")
    label: str | None
    actions: list[str]
    activity_id: int | None
    activity_type: str | None
    activity_at: datetime | None
    activity_rep: str | None
    on_time: bool


class EntryRead(BaseModel):
    kind: str
    record_id: int
    stage: str
    rep_id: int
    start: datetime
    deadline: datetime
    ended: datetime | None
    status: str
    done_at: datetime | None
    lines: list[LineRead]


class RecordRead(BaseModel):
    version: int
    current: EntryRead | None
    entries: list[EntryRead]


def record_read(record: RecordCompliance) -> RecordRead:
    entries = [EntryRead(kind=e.kind, record_id=e.record_id, stage=e.result.stage, rep_id=e.rep_id,
                         start=e.result.start, deadline=e.result.deadline, ended=e.result.ended,
                         status=e.result.status.value, done_at=e.result.done_at,
                         lines=[_line(line, record.names) for line in e.result.lines]) for e in record.entries]
    return RecordRead(version=record.version, current=entries[-1] if entries else None, entries=entries)


def _line(line: Any, names: dict[int, str]) -> LineRead:
    act = line.activity
    return LineRead(requirement=line.requirement.key, label=line.requirement.label,
                    actions=[a.type for a in line.requirement.actions], activity_id=act.id if act else None,
                    activity_type=act.type if act else None, activity_at=act.at if act else None,
                    activity_rep=names.get(act.rep_id) if act else None, on_time=line.on_time)


@router.post("/standards/preview", response_model=Preview)
def preview_standards(data: PreviewRequest, session: DbSession, principal: DocumentEditor) -> dict[str, Any]:
    """The last ``days`` days judged under this text and under the active standards, per team and overall."""
    return service.preview(session, principal, data.body, days=data.days)


@router.get("/standards/compliance", response_model=Figures)
def compliance(session: DbSession, principal: Reader, since: IsoDatetime | None = None,
               until: IsoDatetime | None = None,
               rep_id: DbId | None = None, team_id: DbId | None = None,
               days: Annotated[int, Query(ge=1, le=366)] = service.PREVIEW_DAYS) -> dict[str, Any]:
    """The share of first contacts and stage entries met on time, per stage, team and rep, for clocks started in
    [since, until) (default: the last ``days`` days), over the records the caller reads."""
    until = until or utcnow()
    return service.figures(session, principal, since=since or until - timedelta(days=days), until=until,
                           rep_id=rep_id, team_id=team_id)


@router.get("/opportunities/{opportunity_id}/compliance", response_model=RecordRead)
def opportunity_compliance(opportunity_id: DbId, session: DbSession, principal: Reader) -> RecordRead:
    """Every entry of the deal into a stage with a standard, the current one last: each requirement met (by which
    activity, when) or missing, and the deadline."""
    return record_read(service.for_opportunity(session, principal, opportunity_id))


@router.get("/leads/{lead_id}/compliance", response_model=RecordRead)
def lead_compliance(lead_id: DbId, session: DbSession, principal: Reader) -> RecordRead:
    """The lead's first contact since its assignment to its current owner, against the standard."""
    return record_read(service.for_lead(session, principal, lead_id))
