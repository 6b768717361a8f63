"""``evenhand import org``: a sales-team export (agents, their managers, regional offices) and a Chinese HR export
(工号 … 上级工号, as a workbook) build the organisation; the same file again changes nothing; a re-org updates
people and teams in place; bad rows are named by row and field and nothing is written unless --skip-invalid."""

from __future__ import annotations

import csv
from pathlib import Path

from click.testing import Result
from sqlalchemy import Engine, select

from evenhand.db import session_scope
from evenhand.models import Department, Level, Region, Role, Team, User
from tests.builders import make_user
from tests.files import write_csv, write_xlsx
from tests.support import Run, audit_entries, row_counts

# The sales-team file of an "opportunities pipeline" export: 35 agents, 6 managers, 3 regional offices.
# What an import writes besides its own records: the audit trail, and the marks the alert scan reads next.
BOOKKEEPING = {"audit_log", "alert_marks"}
SALES_TEAMS = {
    ("Dustin Brinkmann", "Central"): ["Anna Snelling", "Cecily Lampkin", "Versie Hillebrand", "Lajuana Vencill",
                                      "Moses Frase"],
    ("Melvin Marxen", "Central"): ["Jonathan Berthelot", "Marty Freudenburg", "Gladys Colclough", "Niesha Huffines",
                                   "Darcel Schlecht"],
    ("Cara Losch", "East"): ["Violet Mclelland", "Corliss Cosme", "Rosie Papadopoulos", "Garret Kinder",
                             "Wilburn Farren", "Elizabeth Anderson"],
    ("Rocco Neubert", "East"): ["Daniell Hammack", "Cassey Cress", "Donn Cantrell", "Reed Clapper", "Boris Faz",
                                "Natalya Ivanova"],
    ("Summer Sewald", "West"): ["James Ascencio", "Kary Hendrixson", "Kami Bicknell", "Zane Levy",
                                "Maureen Marcano", "Carl Lin"],
    ("Celia Rouche", "West"): ["Vicki Laflamme", "Rosalina Dieter", "Hayden Neloms", "Markita Hansen",
                               "Elease Gluck", "Carol Thompson", "José Núñez"],
}
SALES_MAPPING = """\
fields:
  display_name: sales_agent
  manager_name: manager
  region: regional_office
"""
HR_HEADER = ["工号", "姓名", "邮箱", "手机", "部门", "团队", "区域", "职级", "上级工号"]
HR_ROWS = [
    ["E001", "赵敏", "zhaomin@corp.cn", "13800000001", "销售部", None, "华东", "销售总监", None],
    ["E002", "王强", "wangqiang@corp.cn", "13800000002", "销售部", "华东一组", "华东", "销售主管", "E001"],
    ["E003", "张伟", "ZhangWei@corp.cn", "13800000003", "销售部", "华东一组", "华东", "高级销售", "E002"],
    ["E004", "李娜", "lina@corp.cn", "13800000004", "销售部", "华东一组", "华东", "销售代表", "E002"],
    ["E005", "刘洋", "liuyang@corp.cn", "13800000005", "销售部", "华东二组", "华东", "销售主管", "E001"],
    ["E006", "陈静", "chenjing@corp.cn", "13800000006", "销售部", "华东二组", "华东", "销售代表", "E005"],
    ["E007", "张伟", "zhangwei2@corp.cn", "13800000007", "销售部", "华东二组", "华东", "销售代表", "E005"],
    ["E008", "欧阳娜娜", "ouyang@corp.cn", "13800000008", "大客户部", "华南大客户组", "华南", "销售代表", "E009"],
    ["E009", "孙丽", "sunli@corp.cn", "13800000009", "大客户部", "华南大客户组", "华南", "销售主管", "E001"],
]
HR_MAPPING = """\
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


def sales_rows(moves: dict[str, tuple[str, str]] | None = None) -> list[list[str]]:
    rows = [[agent, manager, office] for (manager, office), agents in SALES_TEAMS.items() for agent in agents]
    return [[agent, *(moves or {}).get(agent, (manager, office))] for agent, manager, office in rows]


def mapping(tmp_path: Path, text: str, name: str = "mapping.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def people(engine: Engine) -> dict[str, User]:
    with session_scope(engine, readonly=True) as session:
        return {u.display_name + (f"#{u.external_id}" if u.external_id else ""): u
                for u in session.scalars(select(User))}


def teams(engine: Engine) -> dict[str, Team]:
    with session_scope(engine, readonly=True) as session:
        return {t.name: t for t in session.scalars(select(Team))}


def said(result: Result) -> str:
    """What the command printed, as one line (the console wraps at 80 columns)."""
    return " ".join(result.output.split())


def actions(engine: Engine, after: int = 0) -> list[str]:
    return [e.action for e in audit_entries(engine)[after:]]


class TestSalesTeamExport:
    def test_offices_teams_managers_and_agents_are_created_then_left_alone(self, run: Run, engine: Engine,
                                                                            tmp_path: Path) -> None:
        file = write_csv(tmp_path / "sales_teams.csv", ["sales_agent", "manager", "regional_office"], sales_rows())
        result = run("import", "org", str(file), "--mapping", str(mapping(tmp_path, SALES_MAPPING)))
        assert result.exit_code == 0, result.output
        assert "35 rows read; people created: 41, updated: 0, unchanged: 0" in said(result)
        assert "Created 1 department, 3 regions and 6 teams" in said(result)

        everyone, by_team = people(engine), teams(engine)
        assert len(everyone) == 41 and set(by_team) == {manager for manager, _ in SALES_TEAMS}
        with session_scope(engine, readonly=True) as session:
            regions = {r.id: r.code for r in session.scalars(select(Region))}
            assert [d.name for d in session.scalars(select(Department))] == ["Sales"]
        for (manager, office), agents in SALES_TEAMS.items():
            boss, team = everyone[manager], by_team[manager]
            assert (boss.role, team.supervisor_id, boss.team_id) == (Role.SUPERVISOR, boss.id, team.id)
            assert regions[team.region_id or 0] == office.lower() and regions[boss.region_id or 0] == office.lower()
            for agent in agents:
                assert (everyone[agent].team_id, everyone[agent].role) == (team.id, Role.REP)
        assert everyone["Moses Frase"].username == "moses.frase"
        assert everyone["José Núñez"].username == "jose.nunez"
        assert all(u.password_hash is None for u in everyone.values())
        done = actions(engine)
        assert (done.count("users.create"), done.count("teams.create"), done.count("regions.create"),
                done.count("departments.create"), done.count("org.import")) == (41, 6, 3, 1, 1)

        before = row_counts(engine)
        again = run("import", "org", str(file), "--mapping", str(mapping(tmp_path, SALES_MAPPING)))
        assert again.exit_code == 0, again.output
        assert "people created: 0, updated: 0, unchanged: 35" in said(again)
        assert "Created 0 departments, 0 regions and 0 teams; teams updated: 0." in said(again)
        assert row_counts(engine) == before  # not even an audit entry: nothing was taken in

    def test_a_reorg_moves_people_and_duplicates_nobody(self, run: Run, engine: Engine, tmp_path: Path) -> None:
        header = ["sales_agent", "manager", "regional_office"]
        file = write_csv(tmp_path / "sales_teams.csv", header, sales_rows())
        assert run("import", "org", str(file), "--mapping", str(mapping(tmp_path, SALES_MAPPING))).exit_code == 0
        before = people(engine)
        audited = len(audit_entries(engine))

        moved = write_csv(tmp_path / "sales_teams.csv", header, sales_rows({
            "Moses Frase": ("Melvin Marxen", "Central"),  # a new manager, so a new team
            "Anna Snelling": ("Dustin Brinkmann", "East"),  # the same team, another office
        }))
        result = run("import", "org", str(moved), "--mapping", str(mapping(tmp_path, SALES_MAPPING)))
        assert result.exit_code == 0, result.output
        assert "people created: 0, updated: 2, unchanged: 33" in said(result)
        after, by_team = people(engine), teams(engine)
        assert set(after) == set(before) and len(by_team) == 6
        assert after["Moses Frase"].team_id == by_team["Melvin Marxen"].id
        assert after["Anna Snelling"].region_id != before["Anna Snelling"].region_id
        assert by_team["Dustin Brinkmann"].region_id == before["Dustin Brinkmann"].region_id  # most still Central
        assert actions(engine, audited) == ["users.update", "users.update", "org.import"]


class TestChineseHrExport:
    def test_a_workbook_builds_departments_teams_and_supervisors(self, run: Run, engine: Engine,
                                                                 tmp_path: Path) -> None:
        file = write_xlsx(tmp_path / "花名册.xlsx", HR_HEADER, HR_ROWS)
        result = run("import", "org", str(file), "--mapping", str(mapping(tmp_path, HR_MAPPING)))
        assert result.exit_code == 0, result.output
        assert "9 rows read; people created: 9" in said(result)
        assert "Created 2 departments, 2 regions and 3 teams" in said(result)

        everyone, by_team = people(engine), teams(engine)
        assert (everyone["张伟#E003"].username, everyone["张伟#E007"].username) == ("zhang.wei", "zhang.wei2")
        assert everyone["欧阳娜娜#E008"].username == "ouyang.nana"
        assert (everyone["赵敏#E001"].role, everyone["赵敏#E001"].team_id) == (Role.OPS, None)
        assert (everyone["张伟#E003"].role, everyone["张伟#E003"].level) == (Role.REP, Level.SENIOR)
        assert everyone["张伟#E003"].email == "ZhangWei@corp.cn" and everyone["李娜#E004"].phone == "13800000004"
        assert by_team["华东一组"].supervisor_id == everyone["王强#E002"].id
        assert by_team["华南大客户组"].supervisor_id == everyone["孙丽#E009"].id  # she comes after her report
        with session_scope(engine, readonly=True) as session:
            codes = {d.name: d.code for d in session.scalars(select(Department))}
            assert codes == {"销售部": "xiaoshoubu", "大客户部": "dakehubu"}
            assert {r.name: r.code for r in session.scalars(select(Region))} == {"华东": "huadong", "华南": "huanan"}
        assert by_team["华南大客户组"].department_id != by_team["华东一组"].department_id

        again = run("import", "org", str(file), "--mapping", str(mapping(tmp_path, HR_MAPPING)))
        assert "people created: 0, updated: 0, unchanged: 9" in said(again), again.output

    def test_a_team_move_and_a_new_manager_update_in_place(self, run: Run, engine: Engine, tmp_path: Path) -> None:
        file = write_xlsx(tmp_path / "花名册.xlsx", HR_HEADER, HR_ROWS)
        assert run("import", "org", str(file), "--mapping", str(mapping(tmp_path, HR_MAPPING))).exit_code == 0
        before = row_counts(engine)
        rows = [list(r) for r in HR_ROWS]
        rows[3][5] = "华东二组"  # 李娜 moves team
        rows[4][7] = "高级销售"  # 刘洋 steps down; 华东二组 now reports to 王强
        for row in rows[5:7]:
            row[8] = "E002"
        changed = write_xlsx(tmp_path / "花名册-2.xlsx", HR_HEADER, rows)
        result = run("import", "org", str(changed), "--mapping", str(mapping(tmp_path, HR_MAPPING)))
        assert result.exit_code == 0, result.output
        assert "people created: 0, updated: 2, unchanged: 7" in said(result)
        assert "teams updated: 1." in said(result)
        everyone, by_team = people(engine), teams(engine)
        assert everyone["李娜#E004"].team_id == by_team["华东二组"].id
        assert (everyone["刘洋#E005"].role, everyone["刘洋#E005"].level) == (Role.REP, Level.SENIOR)
        assert by_team["华东二组"].supervisor_id == everyone["王强#E002"].id
        after = row_counts(engine)
        kept = lambda counts: {k: v for k, v in counts.items() if k not in BOOKKEEPING}  # noqa: E731
        assert kept(after) == kept(before)
        assert after["alert_marks"] > before["alert_marks"]  # the moved people are judged again by the next scan

    def test_people_are_found_by_email_in_any_case_and_given_their_external_id(self, run: Run, engine: Engine,
                                                                              tmp_path: Path) -> None:
        with session_scope(engine) as session:
            known = make_user(session, username="zw", display_name="张伟", email="zhangwei@corp.cn").id
        file = write_xlsx(tmp_path / "hr.xlsx", HR_HEADER, [[*HR_ROWS[2][:8], None]])
        result = run("import", "org", str(file), "--mapping", str(mapping(tmp_path, HR_MAPPING)))
        assert result.exit_code == 0, result.output
        assert "people created: 0, updated: 1" in said(result)
        user = people(engine)["张伟#E003"]
        assert (user.id, user.username, user.external_id) == (known, "zw", "E003")


class TestRefusals:
    def test_bad_rows_are_named_and_nothing_is_written(self, run: Run, engine: Engine, tmp_path: Path) -> None:
        rows = [list(r) for r in HR_ROWS]
        rows[1][2] = "not-an-email"  # row 3
        rows[3][8] = "E404"  # row 5: a manager nobody is
        file = write_xlsx(tmp_path / "hr.xlsx", HR_HEADER, rows)
        before = row_counts(engine)
        result = run("import", "org", str(file), "--mapping", str(mapping(tmp_path, HR_MAPPING)))
        assert result.exit_code == 1, result.output
        output = " ".join(result.output.split())
        assert "row 3, row 3.email" in output and "row 5, row 5.manager" in output and "E404" in output
        assert "nothing was saved" in said(result)
        assert row_counts(engine) == before

    def test_skip_invalid_keeps_the_good_rows_and_writes_the_rest_under_the_data_dir(
            self, run: Run, engine: Engine, tmp_path: Path) -> None:
        rows = [list(r) for r in HR_ROWS]
        rows[3][8] = "E404"
        (tmp_path / "in").mkdir()
        file = write_xlsx(tmp_path / "in" / "hr.xlsx", HR_HEADER, rows)
        result = run("import", "org", str(file), "--mapping", str(mapping(tmp_path, HR_MAPPING)), "--skip-invalid")
        assert result.exit_code == 0, result.output
        assert "people created: 8" in said(result) and "rows rejected: 1" in said(result)
        written = list((tmp_path / "rejects").glob("hr.*.rejected.csv"))
        assert len(written) == 1 and str(written[0]) in result.output.replace("\n", "")
        with written[0].open(encoding="utf-8-sig") as handle:
            rejected = list(csv.reader(handle))
        assert rejected[0][:3] == ["row", "field", "problem"] and rejected[1][:2] == ["5", "manager"]
        assert rejected[1][3:] == [str(v) for v in rows[3]]  # the row as it was, ready to fix
        assert "李娜" not in {u.display_name for u in people(engine).values()}

    def test_rejects_go_where_named(self, run: Run, engine: Engine, tmp_path: Path) -> None:
        rows = [list(r) for r in HR_ROWS]
        rows[0][3] = "call me"  # row 2: not a phone number
        target = tmp_path / "fix-these.csv"
        result = run("import", "org", str(write_xlsx(tmp_path / "hr.xlsx", HR_HEADER, rows)), "--mapping",
                     str(mapping(tmp_path, HR_MAPPING)), "--skip-invalid", "--rejects", str(target))
        assert result.exit_code == 0, result.output
        with target.open(encoding="utf-8-sig") as handle:
            refused = [r[:3] for r in csv.reader(handle)][1:]
        assert not (tmp_path / "rejects").exists()
        # 赵敏's row is refused, and so are the rows naming her as their manager: none of them is made up
        assert [r[:2] for r in refused] == [["2", "phone"], ["3", "manager"], ["6", "manager"], ["10", "manager"]]
        assert refused[1][2] == "The manager E001 is on row 2, which was refused."
        assert "people created: 5" in said(result) and "rows rejected: 4" in said(result)

    def test_a_username_that_breaks_the_rule_is_refused_with_the_rule_in_words(self, run: Run, engine: Engine,
                                                                                tmp_path: Path) -> None:
        file = write_csv(tmp_path / "people.csv", ["login", "name"], [["Anna Lee", "Anna Lee"]])
        text = "fields:\n  username: login\n  display_name: name\n"
        result = run("import", "org", str(file), "--mapping", str(mapping(tmp_path, text)))
        assert result.exit_code == 1
        assert "2–64 characters: letters, digits" in said(result) and "A-Za-z" not in said(result)

    def test_unknown_mapping_fields_are_listed_with_the_known_ones(self, run: Run, tmp_path: Path) -> None:
        file = write_csv(tmp_path / "people.csv", ["name", "boss"], [["Anna Lee", "Bob"]])
        result = run("import", "org", str(file), "--mapping",
                     str(mapping(tmp_path, "fields:\n  name: name\n  boss: boss\n")))
        assert result.exit_code == 1
        output = " ".join(result.output.split())
        assert "name, boss" in output and "external_id, username, display_name" in output and "manager_name" in output

    def test_two_rows_for_one_person_are_refused(self, run: Run, engine: Engine, tmp_path: Path) -> None:
        file = write_xlsx(tmp_path / "hr.xlsx", HR_HEADER, [*HR_ROWS, HR_ROWS[2]])
        result = run("import", "org", str(file), "--mapping", str(mapping(tmp_path, HR_MAPPING)))
        assert result.exit_code == 1 and "Row 4 already names this person (E003)" in " ".join(result.output.split())


class TestDeactivateMissing:
    def test_people_left_out_stay_unless_asked_and_admins_always_stay(self, run: Run, engine: Engine,
                                                                      tmp_path: Path) -> None:
        with session_scope(engine) as session:
            make_user(session, username="root", role=Role.ADMIN)
        file = write_xlsx(tmp_path / "hr.xlsx", HR_HEADER, HR_ROWS)
        assert run("import", "org", str(file), "--mapping", str(mapping(tmp_path, HR_MAPPING))).exit_code == 0
        fewer = write_xlsx(tmp_path / "hr-2.xlsx", HR_HEADER, [r for r in HR_ROWS if r[0] != "E006"])

        kept = run("import", "org", str(fewer), "--mapping", str(mapping(tmp_path, HR_MAPPING)))
        assert "deactivated: 0" in said(kept) and people(engine)["陈静#E006"].active

        audited = len(audit_entries(engine))
        gone = run("import", "org", str(fewer), "--mapping", str(mapping(tmp_path, HR_MAPPING)), "--deactivate-missing")
        assert gone.exit_code == 0, gone.output
        assert "unchanged: 8, deactivated: 1" in said(gone)
        everyone = people(engine)
        assert not everyone["陈静#E006"].active and everyone["陈静#E006"].left_on is not None
        assert everyone["Root"].active
        assert actions(engine, audited) == ["users.deactivate", "org.import"]

    def test_nobody_is_deactivated_when_rows_were_rejected(self, run: Run, engine: Engine, tmp_path: Path) -> None:
        file = write_xlsx(tmp_path / "hr.xlsx", HR_HEADER, HR_ROWS)
        assert run("import", "org", str(file), "--mapping", str(mapping(tmp_path, HR_MAPPING))).exit_code == 0
        rows = [list(r) for r in HR_ROWS if r[0] != "E006"]
        rows[2][2] = "broken"
        fewer = write_xlsx(tmp_path / "hr-2.xlsx", HR_HEADER, rows)
        result = run("import", "org", str(fewer), "--mapping", str(mapping(tmp_path, HR_MAPPING)),
                     "--deactivate-missing", "--skip-invalid")
        assert result.exit_code == 0, result.output
        assert "Nobody was deactivated" in said(result)
        assert all(u.active for u in people(engine).values())

    def test_a_row_saying_someone_left_deactivates_them(self, run: Run, engine: Engine, tmp_path: Path) -> None:
        file = write_xlsx(tmp_path / "hr.xlsx", HR_HEADER, HR_ROWS)
        assert run("import", "org", str(file), "--mapping", str(mapping(tmp_path, HR_MAPPING))).exit_code == 0
        header = [*HR_HEADER, "离职日期"]
        rows = [[*r, "2026-11-30" if r[0] == "E004" else None] for r in HR_ROWS]
        text = HR_MAPPING + "  left_on: 离职日期\n"
        result = run("import", "org", str(write_xlsx(tmp_path / "hr-2.xlsx", header, rows)), "--mapping",
                     str(mapping(tmp_path, text)))
        assert result.exit_code == 0, result.output
        assert "updated: 0, unchanged: 8, deactivated: 1" in said(result)
        user = people(engine)["李娜#E004"]
        assert (user.active, user.left_on and user.left_on.isoformat()) == (False, "2026-11-30")
