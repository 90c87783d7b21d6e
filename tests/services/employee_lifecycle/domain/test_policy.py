"""Policy validation: unknown signals, impossible thresholds, overlapping rules."""

from services.employee_lifecycle.domain.policy import DEFAULT_POLICY_DOCUMENT, parse_policy, validate_policy


def doc(*rules):
    return {"currency": "CNY", "hysteresis": 2, "rules": list(rules)}


def rule(rid, stage, *conds):
    return {"id": rid, "stage": stage, "conditions": [{"signal": s, "op": o, "value": v} for s, o, v in conds]}


L2R = rule("l2", "L2_COMFORTABLE", ("wins_12m", ">=", 5))
L3R = rule("l3", "L3_AFFLUENT", ("wins_12m", ">=", 20), ("stable_accounts", ">=", 5))


def test_default_policy_is_valid():
    assert validate_policy(DEFAULT_POLICY_DOCUMENT) == []


def test_unknown_signal_names_the_rule_and_field():
    errors = validate_policy(doc(L2R, rule("l3_bad", "L3_AFFLUENT", ("happiness", ">=", 3))))
    assert errors == [
        {"loc": ["body", "rules", 1, "conditions", 0, "signal"], "msg": "rule l3_bad: unknown signal 'happiness'"}
    ]


def test_rate_above_one_is_impossible():
    errors = validate_policy(doc(rule("l2_rate", "L2_COMFORTABLE", ("win_rate_12m", ">=", 1.5)), L3R))
    assert errors[0]["loc"] == ["body", "rules", 0, "conditions", 0, "value"]
    assert errors[0]["msg"].startswith("rule l2_rate: win_rate_12m >= 1.5 can never hold")


def test_more_than_four_quarters_is_impossible():
    errors = validate_policy(doc(L2R, rule("l3_q", "L3_AFFLUENT", ("quarters_at_quota", ">", 4))))
    assert [e["loc"] for e in errors] == [["body", "rules", 1, "conditions", 0, "value"]]


def test_contradictory_conditions_in_one_rule():
    errors = validate_policy(doc(L2R, rule("l3_x", "L3_AFFLUENT", ("wins_12m", ">=", 10), ("wins_12m", "<", 5))))
    assert errors == [
        {
            "loc": ["body", "rules", 1, "conditions"],
            "msg": "rule l3_x: the conditions on wins_12m contradict each other",
        }
    ]


def test_lower_stage_rule_shadowed_by_higher_overlaps():
    shadowed = rule("l2_big", "L2_COMFORTABLE", ("wins_12m", ">=", 30), ("stable_accounts", ">=", 6))
    errors = validate_policy(doc(shadowed, L3R))
    assert len(errors) == 1 and errors[0]["loc"] == ["body", "rules", 0]
    assert "l2_big: overlaps rule l3" in errors[0]["msg"]


def test_duplicate_rules_in_one_stage_overlap():
    twin = {**L2R, "id": "l2_twin"}
    errors = validate_policy(doc(L2R, twin, L3R))
    assert [e["msg"] for e in errors] == ["rule l2_twin: overlaps rule l2; whoever meets it already meets l2"]


def test_l1_takes_no_rules_and_each_upper_stage_needs_one():
    errors = validate_policy(doc(rule("l1", "L1_SUBSISTENCE", ("wins_12m", "<", 3)), L2R))
    msgs = [e["msg"] for e in errors]
    assert any("L1_SUBSISTENCE takes no rules" in m for m in msgs)
    assert "L3_AFFLUENT needs at least one rule" in msgs


def test_condition_that_always_holds_is_refused():
    errors = validate_policy(doc(rule("l2_zero", "L2_COMFORTABLE", ("wins_12m", ">=", 0)), L3R))
    assert errors[0]["msg"] == "rule l2_zero: wins_12m >= 0 always holds"


def test_confirm_after_days_lies_between_0_and_365():
    for bad in (-1, 366, 1.5):
        errors = validate_policy({**DEFAULT_POLICY_DOCUMENT, "confirm_after_days": bad})
        assert errors == [
            {
                "loc": ["body", "confirm_after_days"],
                "msg": "confirm_after_days must be a whole number of days from 0 to 365",
            }
        ]
    assert validate_policy({**DEFAULT_POLICY_DOCUMENT, "confirm_after_days": 0}) == []
    assert parse_policy({**DEFAULT_POLICY_DOCUMENT, "confirm_after_days": 30}).dwell.days == 30
    old = {k: v for k, v in DEFAULT_POLICY_DOCUMENT.items() if k != "confirm_after_days"}
    assert parse_policy(old).confirm_after_days == 14  # versions stored before the setting
