"""Plain inputs for the fairness report, with hand-countable figures.

Team 1 (紫金组): reps 1 王芳, 2 李明, 3 赵磊 (left on 03-10), a supervisor who does not sell, and a rep hired
after the month. Rep 2 is on leave on 03-05 and 03-06. Four leads without a routing decision:

    day    rep  score   reps at work (equal share each)
    03-02  1    90      1, 2, 3     (1/3)
    03-05  1    50      1, 3        (1/2)
    03-20  2    85      1, 2        (1/2)
    03-20  1    40      1, 2        (1/2)

so expected is 1 5/6, 1 1/3 and 5/6 leads; rep 1 won a deal from the first lead.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from evenhand.reports.monthly import AppealRow, Inputs, Month, Person, PolicyNote, TeamInfo, Unrouted

MARCH = Month(2026, 3)
GENERATED = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)
POLICY = PolicyNote("测试策略", 3, 80)
FILED = datetime(2026, 3, 12, 2, 0, tzinfo=UTC)


def people() -> list[Person]:
    return [Person(1, "王芳", "wangfang", 1, "senior"), Person(2, "李明", "liming", 1,
                                                               leaves=((date(2026, 3, 5), date(2026, 3, 6)),)),
            Person(3, "赵磊", "zhaolei", 1, left_on=date(2026, 3, 10)),
            Person(9, "主管", "boss", 1, sells=False), Person(7, "新人", "newbie", 1, hired_on=date(2026, 4, 1))]


def unrouted() -> list[Unrouted]:
    return [Unrouted(101, 1, date(2026, 3, 2), 90), Unrouted(102, 1, date(2026, 3, 5), 50),
            Unrouted(103, 2, date(2026, 3, 20), 85), Unrouted(104, 1, date(2026, 3, 20), 40)]


def appeals() -> list[AppealRow]:
    return [AppealRow(1, 1, 2, 103, "open", "wrong_industry", FILED),
            AppealRow(2, 1, 1, 101, "upheld", "duplicate", FILED, FILED + timedelta(hours=3)),
            AppealRow(3, 1, 1, 102, "reassigned", "other", FILED, FILED + timedelta(hours=5)),
            AppealRow(4, 2, 4, 105, "upheld", "other", FILED, FILED + timedelta(hours=1))]


def inputs(**overrides: object) -> Inputs:
    base: dict[str, object] = {
        "month": MARCH, "zone": "Asia/Shanghai", "generated_at": GENERATED, "policy": POLICY,
        "teams": [TeamInfo(1, "紫金组", "中小企业部", 9)], "people": people(), "decisions": [],
        "unrouted": unrouted(), "won": frozenset({(101, 1), (103, 1)}), "appeals": appeals()}
    return Inputs(**(base | overrides))  # type: ignore[arg-type]
