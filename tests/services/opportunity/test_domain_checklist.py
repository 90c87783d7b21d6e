"""The TAS plan checklist as pure rules: section scores, weighted completeness,
warnings (no database)."""

import uuid

import pytest

from services.opportunity.domain.checklist import (
    ASSESSMENT_QUESTIONS,
    completeness,
    has_decision_maker,
    section_score,
    warnings,
)
from services.opportunity.domain.plan import Action, Assessment, Competitor, KeyPlayer, PlanSections
from services.opportunity.domain.policy import DEFAULT_CHECKLIST, ChecklistItem
from services.opportunity.domain.stages import CLOSED_STAGES, OPEN_STAGES, Stage


def player(role: str = "evaluator") -> KeyPlayer:
    return KeyPlayer(contact_id=uuid.uuid4(), buying_role=role)  # type: ignore[arg-type]


def filled_plan() -> PlanSections:
    return PlanSections(
        profile="Regional logistics leader",
        business_issues=["Peak-season throughput"],
        solution_value="Cuts picking latency by 40%",
        assessment=Assessment(
            is_there_an_opportunity="yes", can_we_compete="yes", can_we_win="no", is_it_worth_winning="yes"
        ),
        competitors=[Competitor(name="Incumbent")],
        competitive_strategy="flanking",
        key_players=[player("decision_maker"), player("evaluator")],
        relationship_strategy="Through the IT director",
        decision_criteria=["Total cost over 5 years"],
        customer_milestones=[{"name": "Budget approval"}],
        action_plan=[Action(action="Run the proof of concept")],
        reviews=[{"held_on": "2026-11-20", "findings": "A discount from the incumbent"}],
    )


def test_an_empty_plan_scores_zero_everywhere():
    plan = PlanSections()
    assert completeness(plan, DEFAULT_CHECKLIST) == (0.0, {item.section: 0.0 for item in DEFAULT_CHECKLIST})


def test_a_filled_plan_is_complete():
    total, scores = completeness(filled_plan(), DEFAULT_CHECKLIST)
    assert total == 1.0
    assert set(scores.values()) == {1.0}


@pytest.mark.parametrize("answered", range(len(ASSESSMENT_QUESTIONS) + 1))
def test_the_assessment_counts_per_answered_question(answered: int):
    # "no" is an answer; only "unknown" is not.
    assessment = Assessment(**dict.fromkeys(ASSESSMENT_QUESTIONS[:answered], "no"))
    assert section_score(PlanSections(assessment=assessment), "assessment") == answered / 4


def test_lists_count_when_not_empty_and_text_when_present():
    assert section_score(PlanSections(competitors=[]), "competitors") == 0.0
    assert section_score(PlanSections(competitors=[Competitor(name="X")]), "competitors") == 1.0
    assert section_score(PlanSections(profile=None), "profile") == 0.0
    assert section_score(PlanSections(profile="Known"), "profile") == 1.0
    assert section_score(PlanSections(competitive_strategy="frontal"), "competitive_strategy") == 1.0


def test_completeness_is_weighted_by_the_checklist_and_rounded():
    checklist = [
        ChecklistItem(section="profile", weight=1),
        ChecklistItem(section="key_players", weight=2),
        ChecklistItem(section="assessment", weight=3),
    ]
    plan = PlanSections(profile="Known", assessment=Assessment(is_there_an_opportunity="yes"))
    total, scores = completeness(plan, checklist)
    assert scores == {"profile": 1.0, "key_players": 0.0, "assessment": 0.25}
    assert total == round((1 * 1.0 + 2 * 0.0 + 3 * 0.25) / 6, 4) == 0.2917


def test_only_the_sections_on_the_checklist_count():
    total, scores = completeness(PlanSections(profile="Known"), [ChecklistItem(section="profile")])
    assert (total, scores) == (1.0, {"profile": 1.0})


def test_an_empty_checklist_is_zero_not_a_division_error():
    assert completeness(filled_plan(), []) == (0.0, {})


def test_decision_maker_is_a_key_player_with_that_buying_role():
    assert not has_decision_maker(PlanSections())
    assert not has_decision_maker(PlanSections(key_players=[player("approver"), player("influencer")]))
    assert has_decision_maker(PlanSections(key_players=[player("approver"), player("decision_maker")]))


def codes(plan: PlanSections, stage: Stage, compelling_event: str | None = None) -> list[str]:
    return [w.code for w in warnings(plan, stage=stage, compelling_event=compelling_event)]


def test_an_empty_lead_warns_about_the_plan_but_not_the_compelling_event():
    assert codes(PlanSections(), Stage.LEAD) == ["no_decision_maker", "single_threaded", "no_known_opponent"]


@pytest.mark.parametrize("stage", [s for s in OPEN_STAGES if s is not Stage.LEAD])
def test_from_qualified_on_a_missing_compelling_event_is_a_warning(stage: Stage):
    assert "no_compelling_event" in codes(filled_plan(), stage)
    assert codes(filled_plan(), stage, compelling_event="Contract ends in April") == []


def test_one_key_player_is_single_threaded_even_when_the_decision_maker():
    plan = PlanSections(key_players=[player("decision_maker")], competitors=[Competitor(name="X")])
    assert codes(plan, Stage.LEAD) == ["single_threaded"]


@pytest.mark.parametrize("stage", CLOSED_STAGES)
def test_closed_deals_get_no_warnings(stage: Stage):
    assert codes(PlanSections(), stage) == []
