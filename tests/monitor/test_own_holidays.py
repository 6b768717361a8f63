"""A company's own history across its National Day week (R4.1, R4.2 on own data): no lead comes in and nobody
converts from 1 to 8 October, nor on weekends, so the leads of late September convert later by the calendar. With
the holidays in its stage standards (``calendar.holidays``) the scan sees no conversion drop; without them, it takes
the week for one.
(Built with fifteen other seeds, the company gave the same: a drop starting 7–26 September without the holidays,
none with them.)"""

from __future__ import annotations

import json
import random
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import select

import evenhand.standards
from evenhand.auth.principal import Principal
from evenhand.db import make_engine, session_scope
from evenhand.i18n import translator
from evenhand.models import Anomaly, Role, User
from evenhand.monitor import pages, service, views
from evenhand.monitor.series import DaysOff, day_number
from tests.files import write_csv
from tests.monitor.test_own_company import LEAD_MAPPING, TEAM_MAPPING, email, import_history, stamp
from tests.support import Run

DAY0 = date(2025, 7, 28)  # a Monday
DAYS = 112
ZONE = ZoneInfo("Asia/Shanghai")
HOLIDAYS = [date(2025, 10, 1) + timedelta(days=n) for n in range(8)]
AGENTS = [f"Agent {n}" for n in range(8)]


def _converted(created: datetime, worked: int) -> datetime:
    """``worked`` working days after ``created``: nobody closes a deal on a weekend or a holiday."""
    moment = created
    while worked:
        moment += timedelta(days=1)
        worked -= moment.weekday() < 5 and moment.date() not in HOLIDAYS
    return moment


def lead_rows(end: datetime) -> list[list[object]]:
    rng = random.Random(0)
    rows: list[list[object]] = []
    for day in range(DAYS):
        on = DAY0 + timedelta(days=day)
        if on in HOLIDAYS:
            continue
        for k in range(60 if on.weekday() < 5 else 10):
            created = datetime.combine(on, time(9)) + timedelta(minutes=rng.randrange(0, 540))
            won = rng.random() < 0.15
            closed = _converted(created, rng.randint(2, 10)) if won else created + timedelta(days=rng.uniform(3, 15))
            status = ("Won" if won else "Lost") if closed <= end else "Open"
            rows.append([f"H{day:03d}{k:02d}", f"Prospect {day}-{k}", "web", status,
                         stamp(closed) if status != "Open" else "", stamp(created),
                         stamp(created + timedelta(hours=rng.lognormvariate(0.2, 0.6))),
                         email(AGENTS[(day + k) % len(AGENTS)])])
    return rows


@pytest.fixture
def exported(tmp_path: Path) -> dict[str, Path]:
    end = datetime.combine(DAY0 + timedelta(days=DAYS - 1), time(18))
    (tmp_path / "team.yaml").write_text(TEAM_MAPPING, encoding="utf-8")
    (tmp_path / "leads.yaml").write_text(LEAD_MAPPING, encoding="utf-8")
    standards = yaml.safe_load((Path(evenhand.standards.__file__).parent / "default.yaml").read_text("utf-8"))
    standards["calendar"]["holidays"] = [day.isoformat() for day in HOLIDAYS]
    (tmp_path / "standards.yaml").write_text(yaml.safe_dump(standards, allow_unicode=True), encoding="utf-8")
    team = [[agent, email(agent), "Nora Manager", "North"] for agent in AGENTS]
    return {"team": write_csv(tmp_path / "team.csv", ["sales_agent", "email", "manager", "regional_office"], team),
            "leads": write_csv(tmp_path / "leads.csv", ["Lead Number", "Company", "Lead Source", "Status", "Closed On",
                                                        "Created On", "First Response", "Owner Email"],
                               lead_rows(end)),
            "standards": tmp_path / "standards.yaml"}


def test_a_holiday_week_is_no_conversion_drop_once_the_company_lists_it(run: Run, exported: dict[str, Path],
                                                                        tmp_path: Path) -> None:
    import_history(run, exported, tmp_path)
    last = DAY0 + timedelta(days=DAYS - 1)
    assert run("monitor", "refresh", "--until", last.isoformat(), "--json").exit_code == 0

    def conversion_drops() -> list[dict[str, object]]:
        scanned = run("monitor", "scan", "--until", (last - timedelta(days=1)).isoformat(), "--json")
        assert scanned.exit_code == 0, scanned.output
        return [a for a in json.loads(scanned.output)["anomalies"]
                if a["kpi"] == "lead_conversion" and a["direction"] == "down"]

    unaware = conversion_drops()
    assert unaware, "without the holidays the late-September leads look like a drop"
    assert any(HOLIDAYS[0] - timedelta(days=21) <= date.fromisoformat(str(a["started"])) <= HOLIDAYS[-1]
               for a in unaware), unaware
    done = run("standards", "set", str(exported["standards"]), "--note", "National Day")
    assert done.exit_code == 0, done.output
    assert conversion_drops() == []


def test_the_days_off_are_the_standards_holidays_and_the_weekdays_most_reps_do_not_work(
        run: Run, exported: dict[str, Path], tmp_path: Path, db_url: str) -> None:
    assert run("init", "--starter", "neutral").exit_code == 0
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        assert service.days_off(session).weekdays == frozenset()  # nobody to go by: every day counts
    done = run("import", "org", str(exported["team"]), "--mapping", str(tmp_path / "team.yaml"))
    assert done.exit_code == 0, done.output
    assert run("standards", "set", str(exported["standards"])).exit_code == 0
    with session_scope(engine) as session:
        off = service.days_off(session)
        assert off.weekdays == {5, 6}  # the reps' default hours: Monday to Friday
        assert off.holidays == {day_number(day) for day in HOLIDAYS}
        reps = session.scalars(select(User).where(User.role == Role.REP).order_by(User.id)).all()
        for rep in reps[:5]:  # five of eight work Saturdays now
            rep.working_hours = {**rep.working_hours, "sat": [["09:00", "12:00"]]}
    with session_scope(engine) as session:
        assert service.days_off(session).weekdays == {6}
    engine.dispose()


@pytest.mark.parametrize(("off", "en", "zh"), [
    (DaysOff(frozenset({1, 2}), frozenset({5, 6})),
     "Conversion counts a lead's days to mature in days worked: Saturday, Sunday and the holidays in the stage "
     "standards (2 days) do not count.",
     "转化率按工作日计算线索的成熟天数：周六、周日以及阶段动作标准中的节假日（2 天）不计入。"),
    (DaysOff(frozenset({1}), frozenset()),
     "Conversion counts a lead's days to mature in days worked: the holidays in the stage standards (1 days) do not "
     "count.", "转化率按工作日计算线索的成熟天数：阶段动作标准中的节假日（1 天）不计入。"),
    (DaysOff(frozenset({1, 2}), frozenset({5, 6}), frozenset({7})),
     "Conversion counts a lead's days to mature in days worked: Saturday, Sunday and the holidays in the stage "
     "standards (2 days) do not count. Their make-up working days (1) count.",
     "转化率按工作日计算线索的成熟天数：周六、周日以及阶段动作标准中的节假日（2 天）不计入。"
     "标准中的调休补班日（1 天）计入。"),
    (DaysOff(frozenset(), frozenset({6})),
     "The stage standards list no holidays: a holiday week will look like a drop in conversion.",
     "阶段动作标准中没有列出节假日：节假日所在的一周会被看成转化率下降。")])
def test_the_monitoring_page_says_which_days_conversion_leaves_out(off: DaysOff, en: str, zh: str) -> None:
    assert pages._days_off_text(off, translator("en")) == en
    assert pages._days_off_text(off, translator("zh-CN")) == zh


def test_a_stored_holiday_drop_is_withdrawn_once_the_holidays_are_listed(run: Run, exported: dict[str, Path],
                                                                         tmp_path: Path, db_url: str) -> None:
    """The hourly scan stored (and announced) the late-September drop; the company lists its holidays; the next scan
    judges those days again, no longer finds it, and withdraws it: kept, marked, off the charts and home pages."""
    import_history(run, exported, tmp_path)
    last = DAY0 + timedelta(days=DAYS - 1)
    assert run("monitor", "refresh", "--until", last.isoformat(), "--json").exit_code == 0
    engine = make_engine(db_url)

    def conversion() -> list[tuple[str, date, str]]:
        with session_scope(engine) as session:
            return [(a.kind, a.detected_on, a.status.value) for a in session.scalars(
                select(Anomaly).where(Anomaly.kpi == "lead_conversion").order_by(Anomaly.kind))]

    assert run("monitor", "scan", "--json").exit_code == 0
    stored = conversion()  # the drop, statistical and below the alert line, ended once October's leads converted
    assert [(kind, status) for kind, _, status in stored] == [("alert_line", "closed"), ("statistical", "closed")]
    assert all(HOLIDAYS[0] <= day <= HOLIDAYS[-1] for _, day, _ in stored), stored
    assert run("standards", "set", str(exported["standards"])).exit_code == 0
    assert run("monitor", "scan", "--json").exit_code == 0
    assert conversion() == [(kind, day, "withdrawn") for kind, day, _ in stored]
    with session_scope(engine) as session:
        listed = views.anomalies(session, views.definitions(session), kpi="lead_conversion")
        assert [row.status for row in listed] == ["withdrawn", "withdrawn"]
        principal = Principal(user_id=0, username="ops", display_name="Ops", role=Role.OPS, via="system")
        assert views.kpi_view(session, principal, "lead_conversion", days=365, zone=ZONE).bands == ()
    engine.dispose()
