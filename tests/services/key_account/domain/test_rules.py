from services.key_account.domain.coverage import violations
from services.key_account.domain.plans import (
    PlanFacts,
    completeness,
    incubation_summary,
    relationship_gap,
    transition_error,
)
from services.key_account.domain.relationship_map import build_map


def test_coverage_rule_applies_to_strategic_and_key_only():
    assert [v.code for v in violations("strategic", [])] == ["no_account_owner", "no_solution_role"]
    assert [v.code for v in violations("key", ["account_owner", "account_owner", "solution_consultant"])] == [
        "several_account_owners"
    ]
    assert violations("key", ["account_owner", "solution_consultant", "delivery"]) == []
    assert violations("growth", []) == []
    assert violations(None, []) == []


def test_incubation_transitions():
    assert transition_error("idea", "validated") is None
    assert transition_error("validated", "qualified") is None
    assert transition_error("idea", "qualified") == "an item that is idea can move to dropped, validated, not qualified"
    assert "only by promoting" in transition_error("qualified", "promoted")
    assert transition_error("promoted", "idea") is not None


def test_relationship_gap():
    assert relationship_gap("trusted_advisor", "credible_source") == {
        "current_level": "credible_source",
        "target_level": "trusted_advisor",
        "gap_steps": 2,
        "met": False,
    }
    assert relationship_gap("credible_source", None)["gap_steps"] == 2
    assert relationship_gap("vendor", "problem_solver")["met"] is True


def facts(**kw) -> PlanFacts:
    base = {
        "has_goal": False,
        "has_value_proposition": False,
        "critical_success_factors": 0,
        "objectives": 0,
        "objectives_without_actions": 0,
        "relationship_targets": 0,
        "guiding_team_members": 0,
        "whitespace_cells": 0,
        "competitor_facts": 0,
        "incubation_items": 0,
    }
    return PlanFacts(**{**base, **kw})


def test_completeness_scores_and_names_what_is_missing():
    empty = completeness(facts())
    assert empty["score"] == 0 and empty["status"] == "incomplete" and len(empty["missing"]) == 10
    half = completeness(
        facts(
            has_goal=True,
            has_value_proposition=True,
            critical_success_factors=2,
            objectives=1,
            objectives_without_actions=1,
            relationship_targets=1,
        )
    )
    assert half["score"] == 50 and half["status"] == "partial"
    assert [m["check"] for m in half["missing"]] == [
        "actions",
        "solution_guiding_team",
        "competitors",
        "whitespace",
        "incubation",
    ]
    full = completeness(
        facts(
            has_goal=True,
            has_value_proposition=True,
            critical_success_factors=1,
            objectives=1,
            relationship_targets=1,
            guiding_team_members=2,
            whitespace_cells=3,
            competitor_facts=1,
            incubation_items=1,
        )
    )
    assert full == {"score": 100, "status": "complete", "missing": []}


def test_incubation_summary():
    s = incubation_summary({"idea": 2, "promoted": 3, "dropped": 1}, 10.0, 12.345)
    assert s["items"] == 6 and s["conversion_rate"] == 0.75 and s["pipeline_rate"] == 0.5
    assert s["incubation_days_mean"] == 12.3
    assert incubation_summary({}, None, None)["conversion_rate"] is None


def test_map_edges_name_existing_nodes():
    drawn = build_map(
        {"id": "a1", "name": "Acme"},
        [{"id": "c1", "name": "CEO", "reports_to_id": None}, {"id": "c2", "name": "CIO", "reports_to_id": "c1"}],
        [
            {
                "id": "r1",
                "contact_id": "c2",
                "employee_id": "e1",
                "level": "vendor",
                "strength": 40,
                "last_interaction_on": None,
            },
            {"id": "r2", "contact_id": "gone", "employee_id": "e1", "level": "vendor", "strength": 40},
        ],
        [{"id": "i1", "from_contact_id": "c1", "to_contact_id": "c2", "strength": 70}],
    )
    ids = {n["id"] for n in drawn["nodes"]}
    assert ids == {"account:a1", "contact:c1", "contact:c2", "employee:e1"}
    assert {(e["kind"], e["source"], e["target"]) for e in drawn["edges"]} == {
        ("works_at", "contact:c1", "account:a1"),
        ("reports_to", "contact:c2", "contact:c1"),
        ("relationship", "employee:e1", "contact:c2"),
        ("influence", "contact:c1", "contact:c2"),
    }
