"""Training, versioning and loading predictive models. Callers commit.

``train`` first measures the model on a held-out part (those figures are stored with the version),
then fits it again on every row and stores that as the new active version. The rule scorer blends
``predict(load_active(session).model, leads)`` into its total; a missing model means rules only.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import joblib
import sklearn
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from evenhand.errors import Invalid
from evenhand.i18n import N_, plural
from evenhand.kit import audit
from evenhand.kit.clock import as_utc, utcnow
from evenhand.kit.tables import read_table
from evenhand.leads.predict import repository
from evenhand.leads.predict.data import Dataset, from_leads, from_table
from evenhand.leads.predict.evaluate import Step, evaluate
from evenhand.leads.predict.model import Contribution, LeadModel, explain, fit, predict, scores
from evenhand.models import Lead, PredictiveModelVersion

__all__ = ["ActiveModel", "Contribution", "LeadModel", "explain", "file_dataset", "history_dataset", "intake_rows",
           "load_active", "predict", "scores", "train"]

DEFAULT_HORIZON_DAYS = 60
_CACHE: dict[tuple[str, int, str], ActiveModel] = {}
_CACHE_SIZE = 4


@dataclass(frozen=True)
class ActiveModel:
    id: int
    version: int
    algorithm: str
    trained_on: str
    metrics: dict[str, Any]
    model: LeadModel


NO_OUTCOME = N_("No leads with a known outcome yet (converted, disqualified, or older than {days} days).")
NO_OUTCOME_ONE_DAY = N_("No leads with a known outcome yet (converted, disqualified, or older than {days} day).")


def history_dataset(session: Session, *, horizon_days: int = DEFAULT_HORIZON_DAYS,
                    now: datetime | None = None) -> Dataset:
    """evenhand's own leads with a known outcome, as they were at intake (see ``repository.history``)."""
    when = as_utc(now or utcnow())
    rows, outcome = repository.history(session, now=when, horizon_days=horizon_days)
    if not rows:
        raise Invalid(plural(horizon_days, NO_OUTCOME_ONE_DAY, NO_OUTCOME), field="leads", days=horizon_days)
    description = (f"leads to {when.date().isoformat()}: {len(rows)} with an outcome, {sum(outcome)} converted "
                   f"(open > {horizon_days} days = not converted)")
    return from_leads(rows, outcome, description)


def intake_rows(session: Session, lead_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Rows for ``predict`` as the leads were at intake (behaviour up to creation), in the order given.

    A model trained on history learned from exactly these; scoring a lead's current row instead (an ORM
    ``Lead``) also works, but counts behaviour that came later, which the model never saw at training.
    """
    rows = {r["id"]: r for r in repository.intake_rows(session, Lead.id.in_(list(lead_ids)))}
    return [rows[i] for i in lead_ids if i in rows]


def file_dataset(path: Path, *, target: str, id_column: str | None = None, exclude: Sequence[str] = (),
                 mapping: Path | None = None) -> Dataset:
    """A CSV or XLSX export with an outcome column; errors name the file, the option or the column."""
    if mapping is not None and not mapping.exists():
        raise Invalid("No such file: {path}", field="mapping", path=str(mapping))
    header, rows = read_table(path)
    text = mapping.read_text(encoding="utf-8") if mapping is not None else None
    return from_table(header, rows, target=target, id_column=id_column, exclude=exclude, mapping_text=text,
                      description=f"{path.name}, target {target}")


def train(session: Session, dataset: Dataset, *, seed: int = 42, test_size: float = 0.3,
          author_id: int | None = None, step: Step | None = None) -> PredictiveModelVersion:
    """Evaluate on a holdout, fit on everything, store as the only active version, audit it."""
    report = evaluate(dataset, test_size=test_size, seed=seed, step=step)
    if step is not None:
        step(N_("Training on every row"))
    model = fit(dataset, seed=seed)
    row = PredictiveModelVersion(
        version=repository.next_version(session), algorithm=model.algorithm, trained_on=dataset.description[:200],
        features=model.schema.describe(), metrics={**report, "sklearn": sklearn.__version__},
        artifact=artifact(model), author_id=author_id)
    repository.add_active(session, row)
    audit.append(session, action="scoring.predictive_model_trained", subject_type="predictive_models",
                 subject_id=row.id, actor_id=author_id,
                 payload={"version": row.version, "trained_on": row.trained_on, "auc": report["auc"],
                          "n_train": report["n_train"], "n_test": report["n_test"]})
    return row


def load_active(session: Session) -> ActiveModel | None:
    """The active model, deserialised once per process and version; None when none was trained."""
    found = repository.active_key(session)
    if found is None:
        return None
    model_id, created = found
    key = (_database_of(session), model_id, created)
    if key not in _CACHE:
        row = session.get_one(PredictiveModelVersion, model_id)
        while len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = ActiveModel(row.id, row.version, row.algorithm, row.trained_on, row.metrics, _load(row.artifact))
    return _CACHE[key]


def _database_of(session: Session) -> str:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    return engine.url.render_as_string(hide_password=True)


def artifact(model: LeadModel) -> bytes:
    """The stored form of a model (joblib, compressed)."""
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    return buffer.getvalue()


def _load(artifact: bytes) -> LeadModel:
    """Artifacts are written only by ``train`` into evenhand's own database; unpickling trusts that."""
    model = joblib.load(io.BytesIO(artifact))
    if not isinstance(model, LeadModel):
        raise Invalid("The stored model artifact is not a lead model.", field="artifact")
    return model
