"""Schemathesis against every operation of the OpenAPI schema, as an admin, on SQLite.

Bounded on purpose (a fixed number of derandomized examples per operation) so the run is
repeatable and fits in CI; the checks are "no 5xx" and "the response matches its schema".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from evenhand.app import create_app
from evenhand.config import Settings
from evenhand.db import make_engine, session_scope
from evenhand.models import Role
from tests.builders import bearer, build_org, make_user, token_for
from tests.databases import fresh_sqlite

# Far from the small ids the fuzzer favours, so it does not deactivate or demote the caller.
ADMIN_ID = 987_654_321

# Schemathesis reads the schema when the module is collected; the app it calls gets each test's
# database through ``app.state`` (see ``token``). No connection is opened here.
APP = create_app(Settings(database_url="sqlite://", mode="test"), make_engine("sqlite://"), ui=False)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture
def token(sqlite_template: Path, tmp_path: Path) -> Iterator[str]:
    """A fresh database with the standard org behind ``APP``, and an admin's bearer token."""
    engine = make_engine(fresh_sqlite(sqlite_template, tmp_path))
    with session_scope(engine) as session:
        build_org(session)
        admin = make_user(session, username="fuzz-admin", role=Role.ADMIN, id=ADMIN_ID)
        token = token_for(session, admin)
    APP.state.engine = engine
    APP.state.settings = Settings(data_dir=tmp_path, database_url=str(engine.url), mode="test")
    yield token
    engine.dispose()


@pytest.mark.slow
@settings(max_examples=25, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@schema.parametrize()
def test_no_server_errors_and_responses_match_the_schema(case: schemathesis.Case, token: str) -> None:
    # A generous timeout: the fuzzer piles thousands of events onto one lead, each batch rescoring them all, and
    # on a shared machine under load one such call has taken more than the default 10 s.
    case.call_and_validate(headers=bearer(token), checks=[not_a_server_error, response_schema_conformance],
                           timeout=60)
