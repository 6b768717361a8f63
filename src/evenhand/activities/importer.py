"""``evenhand import activities`` (or ``evenhand activities import``): a company's activity exports (a call log, a
CRM's tasks, an e-mail archive) streamed through a mapping file, chunk by chunk, in the caller's one transaction.

The fields a mapping may name (``schemas.FIELDS``)::

    source_system   wecom, dingtalk, outlook, telephony or crm (default crm): with external_id, the activity's key
    external_id     the activity's id in that system (Call ID, a Task's Id)
    type            call, email, message, meeting, visit or note (map the export's words with ``map``)
    direction       inbound, outbound or internal
    occurred_at     when (ISO, or the export's own ``format``); occurred_time: the time of day, when in a column
                    of its own (H:MM or H:MM:SS)
    duration_seconds | duration   whole seconds, or H:MM:SS / MM:SS
    answered, replied             true/false (``map`` an Outcome column's words to them)
    subject, recording_ref
    attachment_count              an e-mail's attachments;  message_count: the messages a chat record stands for
    body | note                   a CRM note's text;  declared_type: the activity a note says it records (notes only)
    rep             the rep's external id, e-mail or username
    opportunity     a deal's CRM id;  lead: a lead's CRM id;  email, phone: the contact's, matched to a lead

A telemarketing call log::

    Call ID,Agent,Customer Phone,Call Date,Call Time,Duration,Direction,Outcome
    C-1001,A007,+86 138 0013 8000,12/03/2024,14:05,0:03:25,Outbound,Answered

    fields:
      source_system: {value: telephony}
      external_id: Call ID
      type: {value: call}
      rep: Agent
      phone: Customer Phone
      occurred_at: {column: Call Date, format: "%d/%m/%Y"}
      occurred_time: Call Time
      duration: Duration
      direction: {column: Direction, case: lower}
      answered: {column: Outcome, map: {Answered: true, No Answer: false, Busy: false}}

The same with Chinese headers (通话编号,坐席,客户电话,通话日期,通话时间,通话时长,呼叫方向,结果)::

    fields:
      source_system: {value: telephony}
      external_id: 通话编号
      type: {value: call}
      rep: 坐席
      phone: 客户电话
      occurred_at: {column: 通话日期, format: "%Y/%m/%d"}
      occurred_time: 通话时间
      duration: 通话时长
      direction: {column: 呼叫方向, map: {呼出: outbound, 呼入: inbound}}
      answered: {column: 结果, map: {已接通: true, 未接通: false}}

Every row is validated (errors name row and field); a file with a bad row is refused whole unless
``--skip-invalid``. Valid rows that match no rep, or no lead or deal, wait in the reconciliation list."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter
from sqlalchemy.orm import Session

from evenhand.activities import service
from evenhand.activities.schemas import FIELDS, ActivityCreate
from evenhand.auth.principal import Principal
from evenhand.kit import audit
from evenhand.kit import rows as rows_kit

Progress = Callable[[str, int, int], None]
KIND = rows_kit.Kind("activity", TypeAdapter(ActivityCreate), FIELDS, moments=("occurred_at",))


@dataclass
class ImportReport:
    file: str
    rows: int = 0
    tally: service.Tally = field(default_factory=service.Tally)
    rejected: int = 0
    rejects_file: Path | None = None

    @property
    def waiting(self) -> int:
        return sum(self.tally.waiting.values())


def import_file(session: Session, path: Path, mapping_text: str, *, zone: ZoneInfo, skip_invalid: bool,
                rejects_to: Path, actor: Principal | None = None, progress: Progress | None = None,
                size: int = service.BATCH) -> ImportReport:
    """Stream the file into activities in the caller's transaction. Refuses the whole file (``Invalid`` naming
    every bad row) unless ``skip_invalid``, which keeps the good rows and writes the rejected ones to
    ``rejects_to``. One audit entry for the import, with its counts, when it changed anything."""
    rejects = rows_kit.Rejects(header=[])
    report = ImportReport(file=path.name)
    for chunk in rows_kit.chunks(path, mapping_text, KIND, zone=zone, rejects=rejects, size=size, progress=progress):
        if rejects.errors and not skip_invalid:
            continue  # it will be refused: read on only to name every bad row
        service.capture_many(session, [row for _, row in chunk], tally=report.tally)
    report.rows, report.rejected = rejects.read, len({e.row for e in rejects.errors})
    if rejects.errors and not skip_invalid:
        raise rows_kit.reject(rejects.errors)
    if rejects.errors:
        rejects.write(rejects_to)
        report.rejects_file = rejects_to
    if report.tally.changed():  # a file imported again writes nothing
        audit.append(session, action="activities.imported", subject_type="imports", subject_id=path.name,
                     payload={"file": path.name, "rows": report.rows, "rejected": report.rejected,
                              **report.tally.as_dict()}, actor_id=actor.user_id if actor else None)
    return report
