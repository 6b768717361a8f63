"""``evenhand import accounts`` / ``opportunities``: the Maven "CRM sales opportunities" files and a Salesforce
export with its stage history come in; the same files again create nothing; a changed file updates deals and their
history without duplicating it; bad rows are named by row and field and nothing is written unless --skip-invalid."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from click.testing import Result
from sqlalchemy import Engine, select

from evenhand.db import session_scope
from evenhand.models import Account, Opportunity, ProductLine, Stage, StageChange, User
from tests.files import write_csv, write_xlsx
from tests.opportunities.exports import (
    MAVEN_ACCOUNTS,
    MAVEN_ACCOUNTS_HEADER,
    MAVEN_ACCOUNTS_MAPPING,
    PIPELINE,
    PIPELINE_HEADER,
    PIPELINE_MAPPING,
    SF_ACCOUNTS,
    SF_ACCOUNTS_HEADER,
    SF_ACCOUNTS_MAPPING,
    SF_HEADER,
    SF_HISTORY,
    SF_HISTORY_HEADER,
    SF_HISTORY_MAPPING,
    SF_MAPPING,
    SF_OPPORTUNITIES,
    maven_company,
    salesforce_company,
    write,
)
from tests.support import Run, audit_entries, row_counts

Q, N, P, G, W, L = (Stage.QUALIFICATION, Stage.NEEDS_ANALYSIS, Stage.PROPOSAL, Stage.NEGOTIATION, Stage.WON,
                    Stage.LOST)


def said(result: Result) -> str:
    """What the command printed, as one line (the console wraps at 80 columns)."""
    return " ".join(result.output.split())


def deals(engine: Engine) -> dict[str, Opportunity]:
    with session_scope(engine, readonly=True) as session:
        return {d.external_id or "": d for d in session.scalars(select(Opportunity).where(
            Opportunity.source.is_not(None)))}


def history(engine: Engine, external_id: str) -> list[tuple[Stage | None, Stage, datetime, bool]]:
    with session_scope(engine, readonly=True) as session:
        stmt = select(StageChange).join(Opportunity, Opportunity.id == StageChange.opportunity_id).where(
            Opportunity.external_id == external_id).order_by(StageChange.changed_at, StageChange.id)
        return [(c.from_stage, c.to_stage, c.changed_at, c.derived) for c in session.scalars(stmt)]


def actions(engine: Engine, after: int = 0) -> list[str]:
    return [e.action for e in audit_entries(engine)[after:]]


def ny(day: str) -> datetime:
    """Midnight in New York (the Maven mapping's zone), in UTC."""
    return datetime.fromisoformat(day).replace(tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)


class TestMavenExport:
    def _import(self, run: Run, tmp_path: Path, rows: list[list[str]] = PIPELINE, *extra: str) -> Result:
        file = write_csv(tmp_path / "sales_pipeline.csv", PIPELINE_HEADER, rows)
        return run("import", "opportunities", str(file), "--mapping",
                   str(write(tmp_path / "pipeline.yaml", PIPELINE_MAPPING)), *extra)

    def test_accounts_then_the_pipeline_come_in_once(self, run: Run, engine: Engine, tmp_path: Path) -> None:
        with session_scope(engine) as session:
            agents = {name: u.id for name, u in maven_company(session).items()}
        accounts = write_csv(tmp_path / "accounts.csv", MAVEN_ACCOUNTS_HEADER, MAVEN_ACCOUNTS)
        mapping = str(write(tmp_path / "accounts.yaml", MAVEN_ACCOUNTS_MAPPING))
        result = run("import", "accounts", str(accounts), "--mapping", mapping)
        assert result.exit_code == 0, result.output
        assert "5 rows: accounts created 5, updated 0, unchanged 0; rows rejected 0." in said(result)
        again = run("import", "accounts", str(accounts), "--mapping", mapping)
        assert "accounts created 0, updated 0, unchanged 5" in said(again), again.output

        result = self._import(run, tmp_path)
        assert result.exit_code == 0, result.output
        assert "8 rows: opportunities created 8, updated 0, unchanged 0; rows rejected 0." in said(result)
        assert "1 account created by name." in said(result)  # Isdom is not in accounts.csv
        assert "derived from the dates of 8 deals" in said(result)
        found = deals(engine)
        with session_scope(engine, readonly=True) as session:
            account_of = {a.id: a.name for a in session.scalars(select(Account))}
            products = {p.id: p.name for p in session.scalars(select(ProductLine))}
        won = found["1C1I7A6R"]
        assert (won.stage, won.amount, won.owner_id, account_of[won.account_id or 0],
                products[won.product_line_id or 0]) == (W, Decimal("1054.00"), agents["Moses Frase"], "Cancity",
                                                        "GTX Plus Basic")
        assert (won.created_at, won.engaged_at, won.closed_at) == (ny("2016-10-20"), ny("2016-10-20"),
                                                                   ny("2017-03-01"))
        assert won.name == "Cancity · GTX Plus Basic" and won.stage_changed_at == ny("2017-03-01")
        assert history(engine, "1C1I7A6R") == [(None, Q, ny("2016-10-20"), True),
                                               (Q, N, ny("2016-10-20"), True), (N, W, ny("2017-03-01"), True)]
        assert history(engine, "PE84CX4O")[-1] == (N, L, ny("2017-03-02"), True)
        assert products[found["Z063OYW0"].product_line_id or 0] == "GTX Pro"  # "GTXPro", mended by the map
        assert account_of[found["Z063OYW0"].account_id or 0] == "Isdom"
        engaging, prospect = found["HAXMC4IX"], found["NL3JZH1Z"]
        assert (engaging.stage, engaging.account_id, engaging.closed_at, engaging.name) == (N, None, None,
                                                                                           "MG Advanced")
        assert [s[1] for s in history(engine, "NL3JZH1Z")] == [Q] and prospect.amount == 0
        done = actions(engine)
        assert (done.count("accounts.create"), done.count("opportunities.create")) == (6, 8)

        before = row_counts(engine)
        again = self._import(run, tmp_path)
        assert "opportunities created 0, updated 0, unchanged 8" in said(again), again.output
        assert row_counts(engine) == before  # no deal, account, stage change or audit entry more

    def test_a_changed_pipeline_updates_deals_and_their_history(self, run: Run, engine: Engine,
                                                                tmp_path: Path) -> None:
        with session_scope(engine) as session:
            maven_company(session)
        assert self._import(run, tmp_path).exit_code == 0
        audited = len(audit_entries(engine))
        rows = [list(r) for r in PIPELINE]
        rows[5][4:8] = ["Won", "2016-11-01", "2017-02-01", "1200"]  # OLK9LKZB closes: its dates moved
        rows[7][4] = "Engaging"  # NL3JZH1Z moves on, no date says when
        rows[3][7] = "600"  # MV1LWRNH: a corrected amount
        result = self._import(run, tmp_path, rows)
        assert result.exit_code == 0, result.output
        assert "opportunities created 0, updated 3, unchanged 5" in said(result)
        found = deals(engine)
        assert (found["OLK9LKZB"].stage, found["OLK9LKZB"].amount) == (W, Decimal("1200.00"))
        assert history(engine, "OLK9LKZB") == [(None, Q, ny("2016-11-01"), True), (Q, N, ny("2016-11-01"), True),
                                               (N, W, ny("2017-02-01"), True)]  # rebuilt, not added to
        moved = history(engine, "NL3JZH1Z")
        assert [(s[0], s[1], s[3]) for s in moved] == [(None, Q, True), (Q, N, False)]
        assert found["NL3JZH1Z"].stage_changed_at == moved[-1][2]
        assert found["MV1LWRNH"].amount == Decimal("600.00") and len(history(engine, "MV1LWRNH")) == 3
        assert actions(engine, audited) == ["opportunities.update"] * 3

        before = row_counts(engine)
        again = self._import(run, tmp_path, rows)
        assert "created 0, updated 0, unchanged 8" in said(again), again.output
        assert row_counts(engine) == before

    def test_bad_rows_are_named_and_nothing_is_written(self, run: Run, engine: Engine, tmp_path: Path) -> None:
        with session_scope(engine) as session:
            maven_company(session)
        rows = [list(r) for r in PIPELINE]
        rows[0][1] = "Nobody Here"  # row 2
        rows[1][2] = "GTX Ultra"  # row 3
        rows[2][4] = "Stalled"  # row 4: a stage the map does not know
        rows[3][6] = ""  # row 5: won, but no close date
        rows[4][5:7] = ["2017-04-01", "2017-03-02"]  # row 6: engaged after it closed
        rows.append(list(PIPELINE[6]))  # row 10: HAXMC4IX again
        before = row_counts(engine)
        result = self._import(run, tmp_path, rows)
        assert result.exit_code == 1, result.output
        output = said(result)
        for where in ("row 2, row 2.owner", "row 3, row 3.product", "row 4, row 4.stage", "row 5, row 5.closed_at",
                      "row 6, row 6.closed_at", "row 10, row 10.external_id"):
            assert where in output, where
        assert "Nobody Here" in output and "GTXB (GTX Basic)" in output and "row 8 already" in output
        assert "nothing was saved" in output
        assert row_counts(engine) == before

        result = self._import(run, tmp_path, rows, "--skip-invalid")
        assert result.exit_code == 0, result.output
        assert "9 rows: opportunities created 3" in said(result) and "rows rejected 6" in said(result)
        written = list((tmp_path / "rejects").glob("sales_pipeline.*.rejected.csv"))
        assert len(written) == 1 and str(written[0]) in "".join(result.output.split())
        text = written[0].read_text(encoding="utf-8-sig")
        assert "GTX Ultra" in text and "Nobody Here" in text and text.count("\n") == 7

    def test_unknown_mapping_fields_are_listed_before_a_row_is_read(self, run: Run, engine: Engine,
                                                                    tmp_path: Path) -> None:
        file = write_csv(tmp_path / "sales_pipeline.csv", PIPELINE_HEADER, PIPELINE)
        mapping = write(tmp_path / "m.yaml", "fields:\n  external_id: opportunity_id\n  sales_agent: sales_agent\n"
                                             "  close_value: close_value\n")
        result = run("import", "opportunities", str(file), "--mapping", str(mapping))
        assert result.exit_code == 1
        output = said(result)
        assert "sales_agent, close_value" in output and "account_name" in output and "engaged_at" in output
        accounts = run("import", "accounts", str(file), "--mapping", str(mapping))
        assert accounts.exit_code == 1 and "industry" in said(accounts)


class TestSalesforceExport:
    def _import(self, run: Run, tmp_path: Path, *, with_history: bool = True) -> Result:
        file = write_xlsx(tmp_path / "Opportunity.xlsx", SF_HEADER, SF_OPPORTUNITIES)
        extra = ["--stages", str(write_csv(tmp_path / "OpportunityHistory.csv", SF_HISTORY_HEADER, SF_HISTORY)),
                 "--stages-mapping", str(write(tmp_path / "history.yaml", SF_HISTORY_MAPPING))]
        return run("import", "opportunities", str(file), "--mapping", str(write(tmp_path / "sf.yaml", SF_MAPPING)),
                   *(extra if with_history else []))

    def _accounts(self, run: Run, tmp_path: Path) -> None:
        file = write_csv(tmp_path / "Account.csv", SF_ACCOUNTS_HEADER, SF_ACCOUNTS)
        result = run("import", "accounts", str(file), "--mapping", str(write(tmp_path / "a.yaml",
                                                                                SF_ACCOUNTS_MAPPING)))
        assert result.exit_code == 0, result.output

    def test_a_workbook_with_its_stage_history(self, run: Run, engine: Engine, tmp_path: Path) -> None:
        with session_scope(engine) as session:
            people = {email: u.id for email, u in salesforce_company(session).items()}
        self._accounts(run, tmp_path)
        result = self._import(run, tmp_path)
        assert result.exit_code == 0, result.output
        assert "3 rows: opportunities created 3" in said(result)
        assert "Stage history: 7 rows read, 0 rejected; added to 2 deals." in said(result)
        found = deals(engine)
        won, open_, lost = found["0065g00000AbCdE"], found["0065g00000AbCdF"], found["0065g00000AbCdG"]
        assert (won.stage, won.owner_id, won.amount) == (W, people["li.na@example.com"], Decimal("48000.00"))
        assert won.created_at == datetime(2024, 1, 8, 9, 12, tzinfo=UTC)
        assert won.closed_at == datetime(2024, 3, 14, 16, tzinfo=UTC)  # CloseDate: midnight in Asia/Shanghai
        assert (open_.stage, open_.closed_at, open_.owner_id) == (G, None, people["zhang.wei@example.com"])
        assert won.account_id is not None and open_.account_id == lost.account_id != won.account_id
        assert history(engine, "0065g00000AbCdE") == [
            (None, Q, datetime(2024, 1, 8, 9, 12, tzinfo=UTC), False),
            (Q, N, datetime(2024, 1, 20, 3, tzinfo=UTC), False),
            (N, P, datetime(2024, 2, 12, 6, 45, tzinfo=UTC), False),
            (P, W, datetime(2024, 3, 15, 10, tzinfo=UTC), False)]
        assert won.stage_changed_at == datetime(2024, 3, 15, 10, tzinfo=UTC)
        assert [(s[1], s[3]) for s in history(engine, "0065g00000AbCdG")] == [(Q, True), (L, True)]

        before = row_counts(engine)
        again = self._import(run, tmp_path)
        assert "opportunities created 0, updated 0, unchanged 3" in said(again), again.output
        assert row_counts(engine) == before

    def test_a_history_for_deals_imported_before_replaces_the_derived_one(self, run: Run, engine: Engine,
                                                                          tmp_path: Path) -> None:
        with session_scope(engine) as session:
            salesforce_company(session)
        self._accounts(run, tmp_path)
        assert self._import(run, tmp_path, with_history=False).exit_code == 0
        assert all(s[3] for s in history(engine, "0065g00000AbCdE"))
        lines = write_csv(tmp_path / "OpportunityHistory.csv", SF_HISTORY_HEADER, SF_HISTORY)
        only_history = write_csv(tmp_path / "none.csv", SF_HEADER, [])
        result = run("import", "opportunities", str(only_history), "--mapping", str(write(tmp_path / "sf.yaml",
                                                                                          SF_MAPPING)),
                     "--stages", str(lines), "--stages-mapping", str(write(tmp_path / "h.yaml", SF_HISTORY_MAPPING)))
        assert result.exit_code == 0, result.output
        assert "updated 2" in said(result)
        assert [(s[1], s[3]) for s in history(engine, "0065g00000AbCdE")] == [(Q, False), (N, False), (P, False),
                                                                              (W, False)]

    def test_a_history_line_of_an_unknown_deal_is_refused(self, run: Run, engine: Engine, tmp_path: Path) -> None:
        with session_scope(engine) as session:
            salesforce_company(session)
        self._accounts(run, tmp_path)
        before = row_counts(engine)
        bad = [*SF_HISTORY, ["0065g00000ZZZZZ", "Closed Won", "2024-03-15T10:00:00.000+0000"]]
        file = write_xlsx(tmp_path / "Opportunity.xlsx", SF_HEADER, SF_OPPORTUNITIES)
        result = run("import", "opportunities", str(file), "--mapping", str(write(tmp_path / "sf.yaml", SF_MAPPING)),
                     "--stages", str(write_csv(tmp_path / "OpportunityHistory.csv", SF_HISTORY_HEADER, bad)),
                     "--stages-mapping", str(write(tmp_path / "history.yaml", SF_HISTORY_MAPPING)))
        assert result.exit_code == 1
        assert "stages row 9.opportunity" in said(result) and "0065g00000ZZZZZ" in said(result)
        assert row_counts(engine) == before

    def test_an_unknown_account_id_is_refused_and_a_won_flag_gives_the_stage(self, run: Run, engine: Engine,
                                                                            tmp_path: Path) -> None:
        with session_scope(engine) as session:
            salesforce_company(session)
        mapping = ("fields:\n  source: {value: salesforce}\n  external_id: Id\n  account: AccountId\n"
                   "  owner: OwnerEmail\n  won: IsWon\n  closed: IsClosed\n  created_at: CreatedDate\n"
                   "  closed_at: CloseDate\n")
        file = write_csv(tmp_path / "Opportunity.csv", SF_HEADER, SF_OPPORTUNITIES)
        result = run("import", "opportunities", str(file), "--mapping", str(write(tmp_path / "sf.yaml", mapping)))
        assert result.exit_code == 1
        assert "row 2, row 2.account" in said(result) and "0015g00000XyZ01" in said(result)
        self._accounts(run, tmp_path)
        result = run("import", "opportunities", str(file), "--mapping", str(write(tmp_path / "sf.yaml", mapping)))
        assert result.exit_code == 0, result.output
        found = deals(engine)
        assert [found[k].stage for k in ("0065g00000AbCdE", "0065g00000AbCdF", "0065g00000AbCdG")] == [W, Q, L]


def test_owners_are_found_by_email_in_any_case_or_a_unique_name(engine: Engine) -> None:
    from evenhand.opportunities import lookups
    from tests.builders import make_user

    with session_scope(engine) as session:
        li = make_user(session, username="lina", display_name="Li Na", email="Li.Na@example.com").id
        make_user(session, username="zw1", display_name="Zhang Wei")
        make_user(session, username="zw2", display_name="zhang wei")
        found = lookups.people(session, ["LI.NA@example.com", "li na", "Zhang Wei", "lina"])
        assert found == {"LI.NA@example.com": li, "li na": li, "lina": li}  # two people are called Zhang Wei
        assert session.scalar(select(User.id).where(User.username == "lina")) == li
