"""The organisation from a company's own files (``evenhand import org``) and from its HR system
(``PUT /api/v1/users/by-external-id/{id}``): the fields of a person's row, and the small rules that need no
database.

Fields a mapping may name (each optional; a person new to evenhand needs at least ``display_name``):

- ``external_id``: the id the HR system gives the person (工号). People are found again by it, else by e-mail (any
  case), else by username; a row with none of the three is found by its display name, when exactly one person has it.
- ``username``: the name to sign in with; when missing it is derived from the display name (``org.usernames``:
  张伟 → zhang.wei, Anna Lee → anna.lee) or the e-mail, numbered when taken (zhang.wei2). An existing person's
  username never changes.
- ``display_name`` (any script), ``email``, ``phone``, ``role`` (admin, ops, supervisor, rep, auditor; a new person
  is a rep unless the row says otherwise), ``level`` (junior, senior), ``timezone`` (Asia/Shanghai),
  ``monthly_quota``, ``max_open_leads``, ``daily_lead_cap``, ``hired_on``, ``left_on`` and ``active`` (a row with
  ``active`` false or a ``left_on`` date marks someone who has left).
- ``team``: the team's name; created when missing, in the row's ``department`` (by code or name; created when
  missing) or, without one, the organisation's only department, else the department with code ``sales``
  (created as "Sales"). A team found by name alone must be unique across departments.
- ``region``: by code or name, created when missing; the person's region, and their team's (the one most of
  its members name).
- ``manager``: the external id, e-mail, username or (when unique) display name of the person's manager, in the
  file or already in evenhand. ``manager_name``: the manager's display name, as a sales-team export gives it;
  someone of that name is found, or created as a supervisor. A person named as manager may come after their
  reports in the file. A team's supervisor is its member whose role is supervisor, else the manager most of its
  members name. Without a ``team``, a person joins the team their manager supervises (created, named after the
  manager, when the manager supervises none).

Worked examples (``evenhand import org FILE --mapping M.yaml``): a sales-team export
``sales_agent,manager,regional_office``::

    fields:
      display_name: sales_agent
      manager_name: manager
      region: regional_office

and a Chinese HR export ``工号,姓名,邮箱,手机,部门,团队,区域,职级,上级工号``::

    fields:
      external_id: 工号
      display_name: 姓名
      email: 邮箱
      phone: 手机
      department: 部门
      team: 团队
      region: 区域
      role: {column: 职级, map: {销售代表: rep, 高级销售: rep, 销售主管: supervisor, 销售总监: ops}}
      level: {column: 职级, map: {销售代表: junior, 高级销售: senior, 销售主管: senior, 销售总监: senior}}
      manager: 上级工号
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from anyascii import anyascii
from pydantic import Field, StringConstraints, TypeAdapter, field_validator

from evenhand.kit.rows import Kind
from evenhand.kit.schema import Strict
from evenhand.models import Level, Role
from evenhand.org.schemas import Email, ExternalId, Name, Phone, Username, check_zone

H = TypeVar("H")
Key = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class PersonFields(Strict):
    """One person as the HR system states them; every field may be left out, and what is left out stays as it is."""

    username: Username | None = None
    display_name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    role: Role | None = None
    level: Level | None = None
    team: Name | None = Field(None, description="The team's name; created when missing.")
    department: Name | None = Field(None, description="The team's department, by code or name; created when missing.")
    region: Name | None = Field(None, description="By code or name; created when missing.")
    manager: Key | None = Field(None, description="The manager's external id, e-mail, username or display name.")
    manager_name: Name | None = Field(None, description="The manager's display name; created as a supervisor when "
                                                        "nobody has it.")
    timezone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = None
    monthly_quota: Annotated[Decimal, Field(ge=0, le=10**11, decimal_places=2)] | None = None
    max_open_leads: Annotated[int, Field(ge=0, le=100_000)] | None = None
    daily_lead_cap: Annotated[int, Field(ge=0, le=10_000)] | None = None
    hired_on: date | None = None
    left_on: date | None = None
    active: bool | None = None

    _zone = field_validator("timezone")(check_zone)

    @field_validator("role", "level", mode="before")
    @classmethod
    def _any_case(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("hired_on", "left_on", mode="before")
    @classmethod
    def _day(cls, value: Any) -> Any:
        """A file's date arrives as the midnight the mapping read it as (or a workbook's date cell)."""
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}[T ]00:00(:00)?$", value.strip()):
            return value.strip()[:10]
        return value

    def has_left(self) -> bool:
        return self.active is False or (self.left_on is not None and self.active is not True)


class OrgRow(PersonFields):
    external_id: ExternalId | None = None

    def identifiers(self) -> list[tuple[str, str]]:
        """What tells this person apart: (field, value in the case it is compared in)."""
        found = [("external_id", self.external_id), ("email", _fold(self.email)), ("username", _fold(self.username))]
        return [(name, value) for name, value in found if value]


FIELDS = ("external_id", *PersonFields.model_fields)
MOMENTS = ("hired_on", "left_on")  # read as times by the mapping, so a column may give its ``format``
KIND: Kind[OrgRow] = Kind(name="organisation", adapter=TypeAdapter(OrgRow), fields=FIELDS, moments=MOMENTS)
USER_FIELDS = ("display_name", "email", "phone", "role", "level", "timezone", "monthly_quota", "max_open_leads",
               "daily_lead_cap", "hired_on", "left_on", "active")


def _fold(value: str | None) -> str | None:
    return value.casefold() if value else None


def code_for(name: str, taken: Collection[str]) -> str:
    """A code for a department or region the file names by name only: its ASCII folding (华东 → huadong,
    Central → central), numbered when taken (``taken`` in lower case)."""
    base = re.sub(r"[^a-z0-9]+", "-", anyascii(name).lower()).strip("-")[:28] or "x"
    code, n = base, 2
    while code in taken:
        code, n = f"{base}-{n}", n + 1
    return code


def most_named(values: Iterable[H]) -> H | None:
    """The value named most often (ties go to the one named first); None when nothing is named."""
    counts = Counter(v for v in values if v is not None)
    return max(counts, key=counts.__getitem__) if counts else None
