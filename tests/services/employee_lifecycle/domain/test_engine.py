"""The stage rules, needs and gap, without a database."""

import pytest

from services.employee_lifecycle.domain.catalog import L1, L2, L3
from services.employee_lifecycle.domain.engine import evaluate, gap, needs, reasons
from services.employee_lifecycle.domain.policy import DEFAULT_POLICY


def signals(**overrides):
    base = {
        "tenure_months": 30,
        "wins_12m": 10,
        "win_rate_12m": 0.6,
        "revenue_12m": 1_000_000.0,
        "quota_attainment_4q": None,
        "quarters_at_quota": None,
        "stable_accounts": 4,
        "open_pipeline_count": 8,
        "open_pipeline_value": 500_000.0,
        "solution_breadth": 3,
        "influence_score": 0,
    }
    return {**base, **overrides}


def test_l3_by_quota_mastery():
    ev = evaluate(DEFAULT_POLICY, signals(quota_attainment_4q=1.2, quarters_at_quota=3, stable_accounts=5))
    assert (ev.stage, ev.decided_by) == (L3, "l3_quota_mastery")


def test_l3_by_established_influence_without_quotas():
    ev = evaluate(DEFAULT_POLICY, signals(stable_accounts=9, win_rate_12m=0.55, influence_score=25))
    assert (ev.stage, ev.decided_by) == (L3, "l3_established_influence")
    quota_rule = next(r for r in ev.rules if r.rule_id == "l3_quota_mastery")
    assert quota_rule.status == "unknown"  # no quota: the rule steps aside instead of failing


def test_l2_by_repeat_business_when_quota_rules_are_unknown():
    ev = evaluate(DEFAULT_POLICY, signals(stable_accounts=3, wins_12m=6))
    assert (ev.stage, ev.decided_by) == (L2, "l2_repeat_business")


def test_l2_by_quota_comfortable():
    ev = evaluate(DEFAULT_POLICY, signals(quota_attainment_4q=0.85, quarters_at_quota=1, stable_accounts=2, wins_12m=1))
    assert (ev.stage, ev.decided_by) == (L2, "l2_quota_comfortable")


def test_l1_when_no_rule_is_met_with_observed_values_and_thresholds():
    ev = evaluate(DEFAULT_POLICY, signals(stable_accounts=1, wins_12m=2))
    assert ev.stage == L1 and ev.decided_by is None
    repeat = next(r for r in ev.rules if r.rule_id == "l2_repeat_business")
    assert repeat.status == "unmet"
    assert [(c.signal, c.observed, c.threshold, c.met) for c in repeat.conditions] == [
        ("stable_accounts", 1, 3, False),
        ("wins_12m", 2, 6, False),
    ]


def test_quota_known_but_missed_falls_to_other_rules():
    ev = evaluate(DEFAULT_POLICY, signals(quota_attainment_4q=0.3, quarters_at_quota=0, stable_accounts=3, wins_12m=7))
    assert ev.stage == L2 and ev.decided_by == "l2_repeat_business"


def test_gap_in_plain_words_english_and_chinese():
    ev = evaluate(DEFAULT_POLICY, signals(stable_accounts=1, wins_12m=6))
    g = gap(DEFAULT_POLICY, ev, L1)
    assert g is not None and g.target_stage == L2 and g.rule_id == "l2_repeat_business"
    assert g.en == "To reach comfortable: 2 more stable accounts."
    assert g.zh == "进入小康还需：再增加 2 个稳定客户。"


def test_gap_for_a_rate_names_from_and_to():
    ev = evaluate(DEFAULT_POLICY, signals(stable_accounts=9, win_rate_12m=0.4, influence_score=30))
    g = gap(DEFAULT_POLICY, ev, L2)
    assert g is not None and g.rule_id == "l3_established_influence"
    assert g.items[0].en == "win rate over 12 months from 40% to at least 50%"


def test_no_gap_at_the_top():
    ev = evaluate(DEFAULT_POLICY, signals(quota_attainment_4q=1.2, quarters_at_quota=4, stable_accounts=6))
    assert gap(DEFAULT_POLICY, ev, L3) is None


def test_gap_says_when_data_is_missing():
    policy_only_quota = DEFAULT_POLICY.__class__(
        rules=tuple(r for r in DEFAULT_POLICY.rules if r.id in ("l3_quota_mastery", "l2_quota_comfortable"))
    )
    ev = evaluate(policy_only_quota, signals())
    g = gap(policy_only_quota, ev, L1)
    assert g is not None and g.rule_id is None and "quota_attainment_4q" in g.en


@pytest.mark.parametrize(
    ("stage", "overrides", "expected"),
    [
        (
            L1,
            {"wins_12m": 1, "solution_breadth": 1, "tenure_months": 3},
            ["lacks_deals", "lacks_solution_knowledge", "lacks_support"],
        ),
        (L2, {"wins_12m": 20, "open_pipeline_count": 1}, ["lacks_deals"]),
        (L2, {"influence_score": 12}, ["wants_influence"]),
        (L3, {}, ["wants_influence"]),
        (L1, {"tenure_months": 40, "win_rate_12m": 0.7}, []),
    ],
)
def test_needs(stage, overrides, expected):
    assert needs(stage, signals(**overrides)) == expected


def test_reasons_name_the_rule_and_values():
    ev = evaluate(DEFAULT_POLICY, signals(stable_accounts=3, wins_12m=6))
    en, zh = reasons(ev)
    assert en == "Rule l2_repeat_business is met: stable accounts 3 >= 3, wins over 12 months 6 >= 6."
    assert "l2_repeat_business" in zh and "稳定客户数 3 >= 3" in zh


def test_needs_follow_the_policys_thresholds():
    from services.employee_lifecycle.domain.policy import NeedThresholds

    busy = signals(wins_12m=20, open_pipeline_count=5, solution_breadth=3, influence_score=12)
    assert needs(L2, busy) == ["wants_influence"]
    demanding = NeedThresholds(few_wins_12m=50, some_influence=30)
    assert needs(L2, busy, demanding) == ["lacks_deals"]
