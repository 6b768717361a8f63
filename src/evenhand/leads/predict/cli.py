"""``evenhand scoring train|evaluate``: the predictive model from the command line; ``scoring suggest``: rule points
learned from the same outcomes.

Heavy imports (scikit-learn) happen inside the commands, so mounting this app costs the CLI nothing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import Progress, TaskID
from rich.table import Table

from evenhand.errors import DomainError
from evenhand.i18n import N_, plural, t
from evenhand.kit import terminal
from evenhand.kit.clihelp import Typer

if TYPE_CHECKING:
    from evenhand.leads.predict.data import Dataset

# Help texts are English sources marked N_; clihelp.Typer translates them as --help is rendered.
scoring_app = Typer(help=N_("Lead scoring: the rule model, and the predictive model learned from history."),
                    no_args_is_help=True)
console = Console()

Csv = Annotated[Path | None, typer.Option("--csv", help=N_("A .csv or .xlsx export to learn from instead of the "
                                                           "leads in evenhand's database"))]
Target = Annotated[str | None, typer.Option("--target", help=N_("The outcome column of --csv (1/0, yes/no, "
                                                                 "converted/lost …)"))]
IdColumn = Annotated[str | None, typer.Option("--id-column", help=N_("A column that names rows; never a feature"))]
Exclude = Annotated[str, typer.Option("--exclude", help=N_("Columns to leave out, comma-separated"))]
MappingFile = Annotated[Path | None, typer.Option("--mapping", help=N_("An import mapping file: lead field names, "
                                                                       "placeholders that mean missing"))]
Horizon = Annotated[int, typer.Option("--horizon-days", min=1, help=N_("Open leads older than this many days count "
                                                                        "as not converted (database only)"))]
TestSize = Annotated[float, typer.Option("--test-size", min=0.05, max=0.9, help=N_("Share of rows held out"))]
Seed = Annotated[int, typer.Option("--seed", help=N_("Random seed: the same seed and data give the same model"))]
AsJson = Annotated[bool, typer.Option("--json", help=N_("Print one JSON object instead of tables"))]
Months = Annotated[int, typer.Option("--months", min=1, max=120, help=N_("Learn from the leads created in this many "
                                                                          "past months"))]
Out = Annotated[Path | None, typer.Option("--out", help=N_("Where to write the suggested model; default: "
                                                           "suggested-model-<time>.yaml in the data directory"))]

_READING = N_("Reading the data")
_SAVING = N_("Saving the model version")
_DROPPED = {"constant": N_("one value only"), "id_like": N_("{distinct} different values: an ID or free text"),
            "id_number": N_("a different whole number on every row: a record number")}
_BASELINE_NAMES = {"logistic": N_("Logistic regression"), "naive_bayes": N_("Naive Bayes (Odoo)")}


@scoring_app.command("evaluate", help=N_("Train on a stratified split and report on the held-out part, beside both "
                                          "baselines."))
def evaluate_command(csv: Csv = None, target: Target = None, id_column: IdColumn = None, exclude: Exclude = "",
                     mapping: MappingFile = None, horizon_days: Horizon = 60, test_size: TestSize = 0.3,
                     seed: Seed = 42, as_json: AsJson = False) -> None:
    from evenhand.leads.predict.evaluate import STEPS, evaluate

    _check_options(csv, target, id_column, exclude, mapping)
    with _failing_cleanly(), _steps(as_json, [_READING, *STEPS]) as step:
        dataset = _dataset(csv, target, id_column, exclude, mapping, horizon_days, step)
        report = evaluate(dataset, test_size=test_size, seed=seed, step=step)
        if csv is None:
            report["rule_scores"] = _stored_spread()
    _show(report, as_json)


@scoring_app.command("train", help=N_("Train on every row and store the model as the new active version (its "
                                       "figures come from a holdout)."))
def train_command(csv: Csv = None, target: Target = None, id_column: IdColumn = None, exclude: Exclude = "",
                  mapping: MappingFile = None, horizon_days: Horizon = 60, test_size: TestSize = 0.3,
                  seed: Seed = 42, as_json: AsJson = False) -> None:
    from evenhand.db import session_scope
    from evenhand.leads.predict import service
    from evenhand.leads.predict.evaluate import STEPS

    _check_options(csv, target, id_column, exclude, mapping)
    with _failing_cleanly(), _steps(as_json, [_READING, *STEPS, N_("Training on every row"), _SAVING]) as step:
        dataset = _dataset(csv, target, id_column, exclude, mapping, horizon_days, step)
        with session_scope() as session:
            row = service.train(session, dataset, seed=seed, test_size=test_size, step=step)
            step(_SAVING)
    _show({**row.metrics, "version": row.version}, as_json)
    if not as_json:
        _warn_unknown_columns(row.metrics)
        console.print(t("Stored predictive model version {version}; it is now the active one.", version=row.version))


_READING_LEADS = N_("Reading the leads whose outcome is known")
_WRITING = N_("Writing the suggested model")


@scoring_app.command("suggest", help=N_("Learn the rule model's points from your own leads' outcomes and write them "
                                         "as a rule model to review and make active with 'evenhand scoring set'."))
def suggest_command(months: Months = 12, horizon_days: Horizon = 60, test_size: TestSize = 0.3, seed: Seed = 42,
                    out: Out = None, as_json: AsJson = False) -> None:
    from evenhand.config import get_settings
    from evenhand.db import session_scope
    from evenhand.kit.clock import utcnow
    from evenhand.leads import scoring_suggest
    from evenhand.leads.scoring import suggest

    now = utcnow()
    target = out or get_settings().data_dir / f"suggested-model-{now:%Y%m%d-%H%M%S}.yaml"
    with _failing_cleanly(), _steps(as_json, [_READING_LEADS, *suggest.STEPS, _WRITING]) as step:
        step(_READING_LEADS)
        with session_scope() as session:  # not read-only: a new database installs its first rule model here
            found = scoring_suggest.inputs(session, now=now, months=months, horizon_days=horizon_days)
        result = suggest.suggest(found.active, found.history, seed=seed, test_size=test_size, step=step)
        step(_WRITING)
        _write(target, result.text)
    _show_suggestion({**result.report(), "active_version": found.active_version, "months": months,
                      "since": found.since.date().isoformat(), "horizon_days": horizon_days, "file": str(target)},
                     as_json)


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        _fail(t("Cannot write {path}: {error}", path=str(path), error=exc.strerror or str(exc)))


def _stored_spread() -> dict[str, Any] | None:
    from evenhand.db import session_scope
    from evenhand.leads import scoring_suggest

    with session_scope(readonly=True) as session:
        found = scoring_suggest.stored_spread(session)
    return None if found is None else found.as_dict()


def _dataset(csv: Path | None, target: str | None, id_column: str | None, exclude: str, mapping: Path | None,
             horizon_days: int, step: Callable[[str], None]) -> Dataset:
    from evenhand.leads.predict import service

    step(_READING)
    if csv is None:
        from evenhand.db import session_scope

        with session_scope(readonly=True) as session:
            return service.history_dataset(session, horizon_days=horizon_days)
    excluded = [c.strip() for c in exclude.split(",") if c.strip()]
    return service.file_dataset(csv, target=target or "", id_column=id_column, exclude=excluded, mapping=mapping)


def _check_options(csv: Path | None, target: str | None, id_column: str | None, exclude: str,
                   mapping: Path | None) -> None:
    if csv is None and (target or id_column or exclude or mapping):
        _fail(t("--target, --id-column, --exclude and --mapping go with --csv."))
    if csv is not None and not target:
        _fail(t("--csv needs --target, the column that says whether the lead converted."))


def _fail(message: str) -> NoReturn:
    terminal.fail(Console(stderr=True), message)


@contextmanager
def _failing_cleanly() -> Iterator[None]:
    """Bad input and an unusable database end in one red line and exit 1, not a traceback."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except DomainError as exc:
        _fail(t(exc.message, **exc.params))
    except SQLAlchemyError as exc:
        _fail(t("The database cannot be used: {error}", error=str(exc.orig if hasattr(exc, "orig") else exc)))


@contextmanager
def _steps(as_json: bool, labels: list[str]) -> Iterator[Callable[[str], None]]:
    """A progress bar over the named steps; with --json it draws on stderr so stdout stays one JSON object."""
    bar = terminal.progress_bar(Console(stderr=True) if as_json else console, transient=True)
    with bar:
        task = bar.add_task(t(labels[0]), total=len(labels))
        yield _Advance(bar, task)
        bar.update(task, completed=len(labels))


class _Advance:
    def __init__(self, bar: Progress, task: TaskID) -> None:
        self.bar, self.task, self.started = bar, task, False

    def __call__(self, label: str) -> None:
        self.bar.update(self.task, advance=1 if self.started else 0, description=t(label))
        self.started = True


# --- the report -------------------------------------------------------------------------------------


def _show(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
        return
    console.print(_figures_table(report))
    console.print(_calibration_table(report["calibration"]))
    for name in _BASELINE_NAMES:
        console.print(_verdict(name, report["versus"][name]))
    console.print(t("Model: {algorithm}. Data: {source}.", algorithm=report["algorithm"], source=report["source"]))
    for dropped in report["dropped"]:
        console.print(t("Left out column {column}: {reason}", column=dropped["column"],
                        reason=t(_DROPPED[dropped["reason"]], distinct=dropped["distinct"])))
    if report["skipped_rows"]:
        console.print(t(plural(report["skipped_rows"], N_("{count} row without an outcome was left out."),
                               N_("{count} rows without an outcome were left out.")), count=report["skipped_rows"]))
    _warn_leaks(report)
    if (report.get("rule_scores") or {}).get("narrow"):
        _warn(_narrow(report["rule_scores"]) + " " + t("Run 'evenhand scoring suggest' to learn points from your own "
                                                      "leads' outcomes."))


_LEAKS = {"separates": N_("Column '{column}' alone separates the outcome (AUC {auc}): it is probably recorded after "
                          "the outcome."),
          "after_outcome": N_("Column '{column}' is later than '{outcome}' on {share} of rows: it is recorded after "
                              "the outcome."),
          "post_outcome_name": N_("Column '{column}' is named like a field filled in once the outcome is known.")}
_EXCLUDE = N_("Re-run with --exclude {columns}")


def _warn_leaks(report: dict[str, Any]) -> None:
    """One line per column that looks recorded after the outcome; for a file, the --exclude that leaves it out."""
    leaks = report.get("leakage") or []
    from_file = report.get("origin") == "file"
    for leak in leaks:
        auc, share = leak.get("auc"), leak.get("later_share")
        line = t(_LEAKS[leak["reason"]], column=leak["column"], auc="" if auc is None else f"{auc:.2f}",
                 outcome=leak.get("outcome_column") or "", share="" if share is None else f"{share:.0%}")
        _warn(line + (" " + t(_EXCLUDE, columns=_exclude_value([leak["column"]])) if from_file else ""))
    if from_file and len(leaks) > 1:
        _warn(t(_EXCLUDE, columns=_exclude_value([leak["column"] for leak in leaks])))


def _exclude_value(columns: list[str]) -> str:
    import shlex

    return shlex.quote(",".join(columns))


def _warn(line: str) -> None:
    console.print(line, style="yellow", markup=False, highlight=False, soft_wrap=True)


def _narrow(spread: dict[str, Any]) -> str:
    return t("With the active rule model, {share} of the leads score within {width} points ({low}–{high}): the score "
             "hardly tells them apart.", share=f"{spread['share']:.0%}", width=spread["width"], low=spread["low"],
             high=spread["high"])


def _show_suggestion(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
        return
    table = Table(title=t("Held-out comparison: {n_test} leads (stratified split, seed {seed})",
                          n_test=report["n_test"], seed=report["seed"]))
    table.add_column(t("Figure"))
    table.add_column(t("Suggested model"), justify="right")
    table.add_column(t("Active model (version {version})", version=report["active_version"]), justify="right")
    table.add_row(t("ROC AUC ↑"), f"{report['suggested_auc']:.4f}", f"{report['active_auc']:.4f}")
    table.add_row(t("Leads in the fullest {width}-point band ↓", width=report["active_spread"]["width"]),
                  f"{report['suggested_spread']['share']:.0%}", f"{report['active_spread']['share']:.0%}")
    console.print(table)
    console.print(t("Learned from the leads created since {since} whose outcome is known: {leads} with {positives} "
                    "converted.", since=report["since"], leads=report["leads"], positives=report["positives"]),
                  soft_wrap=True)
    if report["active_spread"]["narrow"]:
        _warn(_narrow(report["active_spread"]))
    console.print(t("Suggested rule model written to {path}", path=report["file"]), soft_wrap=True, markup=False)
    console.print(t("Review it, then make it active with: evenhand scoring set {path}", path=report["file"]),
                  soft_wrap=True, markup=False)


_FIGURES = ((N_("ROC AUC ↑"), "auc", max), (N_("Brier score ↓"), "brier", min), (N_("Log loss ↓"), "log_loss", min),
            (N_("Conversion in the top tenth ↑"), "top_decile_conversion", max),
            (N_("Top tenth against the base rate ↑"), "top_decile_lift", max))


def _figures_table(report: dict[str, Any]) -> Table:
    table = Table(title=t("Held-out evaluation: {n_test} of {n_rows} rows, base rate {rate}", n_test=report["n_test"],
                          n_rows=report["n_rows"], rate=f"{report['base_rate']:.1%}"),
                  caption=t("↑ higher is better, ↓ lower is better; the best of the three in green"))
    table.add_column(t("Figure"))
    for heading in (N_("Model"), *_BASELINE_NAMES.values()):
        table.add_column(t(heading), justify="right")
    blocks = [report, *(report["baselines"][name] for name in _BASELINE_NAMES)]
    for label, key, best in _FIGURES:
        values = [b[key] for b in blocks]
        cells = [_cell(key, v, v == best(values)) for v in values]
        table.add_row(t(label), *cells)
    return table


def _cell(key: str, value: float, best: bool) -> str:
    text = f"{value:.1%}" if key == "top_decile_conversion" else f"{value:.2f}×" if key == "top_decile_lift" \
        else f"{value:.4f}"
    return f"[bold green]{text}[/bold green]" if best else text


def _calibration_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title=t("Calibration on the held-out part, by tenth of predicted probability"))
    for heading in (N_("Tenth"), N_("Leads"), N_("Predicted"), N_("Converted")):
        table.add_column(t(heading), justify="right")
    for row in rows:
        table.add_row(str(row["decile"]), str(row["count"]), f"{row['mean_predicted']:.1%}", f"{row['observed']:.1%}")
    return table


def _verdict(name: str, versus: dict[str, float]) -> str:
    """Better or worse only when DeLong's paired test says the AUC gap is more than noise (p < 0.05)."""
    diff, p = versus["auc_difference"], versus["p_value"]
    verdict, colour = ((N_("tied within noise"), "yellow") if p >= 0.05 else
                       (N_("better"), "green") if diff > 0 else (N_("worse"), "red"))
    line = t("Model against {baseline}: ROC AUC {diff}, DeLong p = {p}: {verdict}.", baseline=t(_BASELINE_NAMES[name]),
             diff=f"{diff:+.4f}", p=f"{p:.3f}", verdict=t(verdict))
    return f"[{colour}]{line}[/{colour}]"


def _warn_unknown_columns(metrics: dict[str, Any]) -> None:
    from evenhand.leads.predict.data import LEAD_FEATURES

    unknown = [f["name"] for f in metrics["features"] if f["name"] not in LEAD_FEATURES]
    if metrics.get("origin") == "file" and unknown:
        console.print("[yellow]" + t("This model reads columns that evenhand's leads do not have ({columns}); "
                                     "scoring leads here, they count as missing. Map columns to lead fields with "
                                     "--mapping to use them.", columns=", ".join(unknown)) + "[/yellow]")
