"""Stage gates as pure rules: what a move into a stage requires (no database)."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from services.opportunity.domain.gates import MESSAGES, Facts, unmet
from services.opportunity.domain.plan import Action, Assessment, Competitor, KeyPlayer, PlanSections
from services.opportunity.domain.policy import DEFAULT_GATES, Gate, Requirement
from services.opportunity.domain.stages import Stage, is_forward, stages_passed, transition_problem

GATES = DEFAULT_GATES


def facts(**overrides: object) -> Facts:
    """Facts of a bare lead: nothing known yet."""
    values: dict[str, object] = {
        "account_id": None,
        "amount": None,
        "expected_close_date": None,
        "closed_on": None,
        "compelling_event": None,
        "solution_count": 0,
        "plan": PlanSections(),
        "plan_completeness": 0.0,
    }
    values.update(overrides)
    return Facts(**values)  # type: ignore[arg-type]


def full_plan() -> PlanSections:
    return PlanSections(
        assessment=Assessment(
            is_there_an_opportunity="yes", can_we_compete="yes", can_we_win="no", is_it_worth_winning="yes"
        ),
        competitors=[Competitor(name="Incumbent")],
        key_players=[KeyPlayer(contact_id=uuid.uuid4(), buying_role="decision_maker")],
        action_plan=[Action(action="Run the proof of concept")],
    )


def complete_facts() -> Facts:
    return facts(
        account_id=uuid.uuid4(),
        amount=Decimal(120000),
        expected_close_date=dt.date(2027, 3, 31),
        closed_on=dt.date(2027, 3, 1),
        compelling_event="Storage contract ends in April",
        solution_count=1,
        plan=full_plan(),
        plan_completeness=1.0,
    )


def requirements(found: list) -> set[str]:
    return {u.requirement for u in found}


def test_a_bare_lead_cannot_be_qualified_and_every_gap_is_named():
    found = unmet([Stage.QUALIFIED], facts(), GATES)
    assert requirements(found) == {"account", "amount", "expected_close_date", "assessment_opportunity"}
    assert {u.stage for u in found} == {Stage.QUALIFIED}
    by_requirement = {u.requirement: u for u in found}
    assert by_requirement["account"].field == "account_id"
    assert by_requirement["assessment_opportunity"].field == "plan.assessment.is_there_an_opportunity"


def test_complete_facts_pass_every_gate_of_a_move_to_won():
    passed = stages_passed(Stage.LEAD, Stage.WON)
    assert passed == [Stage.QUALIFIED, Stage.SOLUTION_DESIGN, Stage.PROPOSAL, Stage.NEGOTIATION, Stage.WON]
    assert unmet(passed, complete_facts(), GATES) == []


def test_a_jump_checks_the_gates_of_every_stage_it_enters():
    found = unmet(stages_passed(Stage.LEAD, Stage.PROPOSAL), facts(), GATES)
    assert {u.stage for u in found} == {Stage.QUALIFIED, Stage.SOLUTION_DESIGN, Stage.PROPOSAL}
    assert "solution" in requirements(found) and "compelling_event" in requirements(found)


def test_a_requirement_is_reported_once_per_stage_even_when_always_and_configured():
    # Won always needs closed_on and amount; the default gate lists them again.
    found = unmet([Stage.WON], facts(), GATES)
    assert sorted(u.requirement for u in found) == ["amount", "closed_on"]


def test_closing_needs_its_date_even_when_the_organisation_configures_no_gate():
    assert requirements(unmet([Stage.LOST], facts(), {})) == {"closed_on"}
    assert requirements(unmet([Stage.WON], facts(), {})) == {"closed_on", "amount"}
    assert unmet([Stage.ABANDONED], facts(), {}) == []


def test_a_stage_without_a_configured_gate_has_no_requirement():
    assert unmet([Stage.QUALIFIED], facts(), {}) == []


@pytest.mark.parametrize(
    ("requirement", "missing", "present"),
    [
        ("account", {}, {"account_id": uuid.uuid4()}),
        ("amount", {}, {"amount": Decimal(0)}),
        ("expected_close_date", {}, {"expected_close_date": dt.date(2027, 1, 1)}),
        ("closed_on", {}, {"closed_on": dt.date(2027, 1, 1)}),
        ("compelling_event", {"compelling_event": ""}, {"compelling_event": "Budget expires in March"}),
        ("solution", {}, {"solution_count": 2}),
        (
            "key_player",
            {},
            {"plan": PlanSections(key_players=[KeyPlayer(contact_id=uuid.uuid4(), buying_role="user")])},
        ),
        (
            "decision_maker",
            {"plan": PlanSections(key_players=[KeyPlayer(contact_id=uuid.uuid4(), buying_role="evaluator")])},
            {"plan": PlanSections(key_players=[KeyPlayer(contact_id=uuid.uuid4(), buying_role="decision_maker")])},
        ),
        ("competitor", {}, {"plan": PlanSections(competitors=[Competitor(name="Anyone")])}),
        (
            "assessment_opportunity",
            {"plan": PlanSections(assessment=Assessment(is_there_an_opportunity="no"))},
            {"plan": PlanSections(assessment=Assessment(is_there_an_opportunity="yes"))},
        ),
        (
            "assessment_complete",
            {
                "plan": PlanSections(
                    assessment=Assessment(is_there_an_opportunity="yes", can_we_compete="yes", can_we_win="yes")
                )
            },
            {
                "plan": PlanSections(
                    assessment=Assessment(
                        is_there_an_opportunity="no", can_we_compete="no", can_we_win="no", is_it_worth_winning="no"
                    )
                )
            },
        ),
        ("action_plan", {}, {"plan": PlanSections(action_plan=[Action(action="Call the CIO")])}),
    ],
)
def test_each_requirement_is_met_exactly_by_its_fact(requirement: Requirement, missing: dict, present: dict):
    gates = {Stage.PROPOSAL.value: Gate(requires=[requirement])}
    [gap] = unmet([Stage.PROPOSAL], facts(**missing), gates)
    assert (gap.requirement, gap.field, gap.message) == (requirement, *MESSAGES[requirement])
    assert unmet([Stage.PROPOSAL], facts(**present), gates) == []


def test_every_requirement_the_policy_accepts_has_a_message():
    assert set(Requirement.__args__) == set(MESSAGES)  # type: ignore[attr-defined]


def test_plan_completeness_below_the_gate_is_unmet_with_observed_and_required():
    gates = {"negotiation": Gate(min_plan_completeness=0.6)}
    [gap] = unmet([Stage.NEGOTIATION], facts(plan_completeness=0.45), gates)
    assert gap.requirement == "plan_completeness"
    assert gap.details == {"observed": 0.45, "required": 0.6}
    assert gap.message == "plan completeness 45% is below 60%"
    assert unmet([Stage.NEGOTIATION], facts(plan_completeness=0.6), gates) == []


def test_an_unknown_requirement_is_a_programming_error():
    gate = Gate.model_construct(requires=["telepathy"], min_plan_completeness=0.0)
    with pytest.raises(ValueError, match="unknown requirement telepathy"):
        unmet([Stage.QUALIFIED], facts(), {"qualified": gate})


def test_moves_back_and_closing_moves_enter_only_the_target():
    assert stages_passed(Stage.PROPOSAL, Stage.QUALIFIED) == [Stage.QUALIFIED]
    assert stages_passed(Stage.PROPOSAL, Stage.LOST) == [Stage.LOST]
    assert is_forward(Stage.LEAD, Stage.WON) and not is_forward(Stage.PROPOSAL, Stage.LEAD)
    assert not is_forward(Stage.LEAD, Stage.LOST)


def test_transition_problems():
    assert transition_problem(Stage.LEAD, Stage.QUALIFIED) is None
    assert transition_problem(Stage.LEAD, Stage.LEAD) == "The opportunity is already in stage lead."
    assert "closed (won)" in (transition_problem(Stage.WON, Stage.LEAD) or "")
