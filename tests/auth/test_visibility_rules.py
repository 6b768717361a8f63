"""The rules of ``auth.visibility`` that are decided on the principal alone: how much of a routing decision
they see, and whose appeals a team's monthly report shows them. Expectations are written out per role."""

from __future__ import annotations

import pytest

from evenhand.auth.principal import Principal
from evenhand.auth.visibility import every_candidate_visible, team_appeals_visible
from evenhand.models import Role

ME, CHOSEN, MY_TEAM, OTHER_TEAM = 7, 8, 1, 2


def principal(role: Role, supervises: frozenset[int] = frozenset()) -> Principal:
    return Principal(user_id=ME, username="me", display_name="Me", role=role, team_id=MY_TEAM,
                     supervised_team_ids=supervises)


STAFF = [Role.ADMIN, Role.OPS, Role.AUDITOR]


@pytest.mark.parametrize("role", STAFF)
def test_staff_see_every_candidate_and_every_appeal(role: Role) -> None:
    who = principal(role)
    assert every_candidate_visible(who, chosen_rep_id=CHOSEN)
    assert team_appeals_visible(who, MY_TEAM) and team_appeals_visible(who, OTHER_TEAM)


def test_a_supervisor_sees_every_candidate_but_the_appeals_of_their_own_teams_only() -> None:
    boss = principal(Role.SUPERVISOR, frozenset({MY_TEAM}))
    assert every_candidate_visible(boss, chosen_rep_id=CHOSEN)
    assert team_appeals_visible(boss, MY_TEAM)
    assert not team_appeals_visible(boss, OTHER_TEAM)


def test_a_supervisor_of_no_team_is_treated_as_a_rep() -> None:
    lone = principal(Role.SUPERVISOR)
    assert not every_candidate_visible(lone, chosen_rep_id=CHOSEN)
    assert not team_appeals_visible(lone, MY_TEAM)


def test_a_rep_sees_every_candidate_only_of_a_decision_that_chose_them() -> None:
    rep = principal(Role.REP)
    assert every_candidate_visible(rep, chosen_rep_id=ME)
    assert not every_candidate_visible(rep, chosen_rep_id=CHOSEN)
    assert not every_candidate_visible(rep, chosen_rep_id=None)  # held: nobody was chosen


def test_a_rep_never_sees_every_appeal_of_a_team() -> None:
    rep = principal(Role.REP)
    assert not team_appeals_visible(rep, MY_TEAM) and not team_appeals_visible(rep, OTHER_TEAM)
