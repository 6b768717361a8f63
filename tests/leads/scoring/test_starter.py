"""``evenhand init --starter``: the demo company's model and policy by default, or neutral ones for a company that
brings its own leads; a database that has versions already keeps them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from evenhand.db import session_scope
from evenhand.leads import scoring_service
from evenhand.leads.scoring import Event, LeadFacts, compile, parse, score
from evenhand.leads.scoring.schema import default_text, starter_text
from evenhand.routing import policy_versions
from evenhand.routing.policy import compile as compile_policy
from evenhand.routing.policy import default_text as default_policy
from evenhand.routing.policy import parse as parse_policy
from evenhand.routing.policy import starter_text as policy_text
from tests.support import Run

NOW = datetime(2026, 6, 1, 9, tzinfo=UTC)


def active_names(engine: Engine) -> tuple[str, str, str, str]:
    with session_scope(engine) as session:
        model, policy = scoring_service.active(session), policy_versions.active(session)
        return model.name, model.note, policy.name, policy.note


def test_init_installs_the_neutral_starter_and_a_second_init_keeps_it(run: Run, engine: Engine) -> None:
    result = run("init", "--starter", "neutral")
    assert result.exit_code == 0, result.output
    assert "Scoring model: installed the neutral starter as version 1." in result.stdout
    assert "Routing policy: installed the neutral starter as version 1." in result.stdout
    assert active_names(engine) == ("Neutral starting model", "the neutral starter shipped with evenhand",
                                    "Neutral starting policy", "the neutral starter shipped with evenhand")
    again = run("init", "--starter", "demo")
    assert again.exit_code == 0, again.output
    assert "Scoring model: version 1 is active and stays as it is." in again.stdout
    assert active_names(engine)[0] == "Neutral starting model"
    shown = run("scoring", "show")
    assert shown.stdout.startswith("# evenhand neutral starting lead-scoring model")


def test_init_without_a_starter_installs_the_demo_model_as_before(run: Run, engine: Engine) -> None:
    result = run("init")
    assert result.exit_code == 0, result.output
    with session_scope(engine) as session:
        assert scoring_service.active(session).body == default_text()
        assert policy_versions.active(session).body == default_policy()
    assert "--starter" in run("init", "--help").stdout


def test_the_demo_starter_is_the_shipped_default() -> None:
    assert starter_text("demo") == default_text() and policy_text("demo") == default_policy()


def test_the_neutral_model_assumes_nothing_about_industry_region_or_source() -> None:
    model = parse(starter_text("neutral"))
    kinds = {rule.type for group in model.groups.values() for rule in group.rules}
    assert not kinds & {"industry", "region", "source", "title", "email_domain"}
    compiled = compile(model)
    plain = score(LeadFacts(industry="制造业", region="east", source="referral", email="a@b.com", phone="1"),
                  compiled, NOW)
    assert plain.total == 0
    busy = LeadFacts(company_size=400, email="a@b.com", phone="1",
                     events=(Event("whitepaper_download", NOW - timedelta(days=1)), Event("webinar", NOW)))
    assert score(busy, compiled, NOW).total >= 30
    assert score(LeadFacts(), compiled, NOW).total == 0  # no contact details: a deduction, kept at 0


def test_the_neutral_policy_is_one_pool_for_everyone() -> None:
    policy = parse_policy(policy_text("neutral"))
    [pool] = policy.pools
    assert pool.condition is None and pool.members.model_dump(exclude_defaults=True) == {}
    assert policy.weighted.quota.favour == "none"
    assert "华" not in policy_text("neutral") and "华" not in starter_text("neutral")
    compile_policy(policy)
