from decimal import Decimal

from services.key_account.domain.segmentation import DEFAULT_POLICY, Inputs, Policy, segment, validate_policy


def test_all_factors_high_is_strategic_with_reasons():
    result = segment(
        DEFAULT_POLICY,
        Inputs(
            revenue_amount=Decimal(50000000000),
            revenue_currency="CNY",
            potential=90,
            strategic_value=90,
            solution_fit=80,
            relationship_strength=80,
            relationship_level="trusted_advisor",
        ),
    )
    assert result.tier == "strategic"
    assert result.score > 75
    assert [r.factor for r in result.reasons] == [
        "revenue",
        "potential",
        "strategic_value",
        "relationship",
        "solution_fit",
    ]
    assert all(r.known for r in result.reasons)
    assert round(sum(r.contribution for r in result.reasons), 2) == result.score


def test_unknown_factors_are_left_out_not_zero():
    only_revenue = segment(DEFAULT_POLICY, Inputs(revenue_amount=Decimal(100000000000), revenue_currency="CNY"))
    assert only_revenue.score == 100.0 and only_revenue.tier == "strategic"
    unknown = {r.factor: r for r in only_revenue.reasons if not r.known}
    assert set(unknown) == {"potential", "strategic_value", "relationship", "solution_fit"}
    assert unknown["relationship"].note == "no relationships recorded"
    assert all(r.weight == 0 for r in unknown.values())


def test_revenue_is_converted_and_log_scaled():
    # 1e9 USD * 7.2 = 7.2e9 CNY; log10 between 1e7 (0) and 1e11 (100)
    result = segment(DEFAULT_POLICY, Inputs(revenue_amount=Decimal(1000000000), revenue_currency="USD"))
    assert 71 < result.score < 72
    assert result.tier == "key"
    no_rate = segment(DEFAULT_POLICY, Inputs(revenue_amount=Decimal(1000000), revenue_currency="JPY"))
    assert no_rate.reasons[0].known is False and "no exchange rate" in no_rate.reasons[0].note


def test_tier_thresholds_and_transactional_floor():
    low = segment(DEFAULT_POLICY, Inputs(potential=10, strategic_value=10))
    assert low.tier == "transactional" and low.score == 10.0
    growth = segment(DEFAULT_POLICY, Inputs(potential=40))
    assert growth.tier == "growth"


def test_policy_weights_change_the_outcome():
    lopsided = Policy.from_dict({**DEFAULT_POLICY.as_dict(), "weights": {"potential": 1, "solution_fit": 0}})
    inputs = Inputs(potential=80, solution_fit=0)
    assert segment(lopsided, inputs).score == 80.0
    assert segment(DEFAULT_POLICY, inputs).score < 80.0


def test_policy_validation_names_fields():
    bad = Policy.from_dict({**DEFAULT_POLICY.as_dict(), "thresholds": {"strategic": 40, "key": 50, "growth": 10}})
    assert [f for f, _ in validate_policy(bad)] == ["thresholds"]
    assert validate_policy(DEFAULT_POLICY) == []
