import datetime as dt
import uuid
from decimal import Decimal

import pytest

from services.resource_share.domain.desk import Candidate, PriorityConfig, deal_value_factor, fairness, match, priority

NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)


def p(stage: str | None, *, hours_ago: float = 0, urgency: str = "high", amount: str | None = "100000", **config):
    return priority(
        urgency=urgency,
        deal_amount=Decimal(amount) if amount else None,
        stage=stage,
        created_at=NOW - dt.timedelta(hours=hours_ago),
        now=NOW,
        config=PriorityConfig(**config),
    )


def test_l1_weighs_twice_an_equal_l2_request_and_says_why():
    l1, l2 = p("L1_SUBSISTENCE"), p("L2_COMFORTABLE")
    assert l1.score == pytest.approx(2 * l2.score, abs=1e-3)
    assert [r.code for r in l1.reasons] == ["urgency_high", "deal_value", "stage_tilt"]
    assert [r.code for r in l2.reasons] == ["urgency_high", "deal_value", "stage_neutral"]


def test_an_l2_request_that_waited_long_enough_overtakes_a_fresh_l1_one():
    fresh_l1 = p("L1_SUBSISTENCE")
    # base L2 = 3 × (1 + log10(101)) ≈ 9.01; L1 = 18.01; ageing 0.25/h closes 9.01 after ~36 h
    assert p("L2_COMFORTABLE", hours_ago=30).score < fresh_l1.score
    waited = p("L2_COMFORTABLE", hours_ago=40)
    assert waited.score > fresh_l1.score
    assert waited.reasons[-1].code == "ageing" and waited.reasons[-1].factor == pytest.approx(10.0)


def test_tilt_off_and_configured_weights():
    assert p("L1_SUBSISTENCE", tilt=False).score == p("L2_COMFORTABLE").score
    triple = p("L1_SUBSISTENCE", stage_weights={"L1_SUBSISTENCE": 3.0})
    assert triple.score == pytest.approx(3 * p("L3_AFFLUENT").score, abs=1e-3)
    unknown = p(None)
    assert unknown.score == p("L3_AFFLUENT").score and "stage_unknown" in [r.code for r in unknown.reasons]


def test_urgency_and_deal_value_order_requests():
    assert p("L2_COMFORTABLE", urgency="critical").score > p("L2_COMFORTABLE", urgency="low").score
    assert deal_value_factor(None) == 1.0 and deal_value_factor(Decimal(0)) == 1.0
    assert deal_value_factor(Decimal(9000)) == pytest.approx(2.0)
    assert deal_value_factor(Decimal(999000)) == pytest.approx(4.0)


def test_matching_ranks_by_skills_industry_and_capacity_and_excludes_the_full_and_unskilled():
    a, b, c, d, me = (uuid.uuid4() for _ in range(5))
    ranked = match(
        skills=["storage", "networking"],
        industry="retail",
        hours_needed=8,
        candidates=[
            Candidate(a, frozenset({"storage", "networking"}), frozenset({"energy"}), 20),
            Candidate(b, frozenset({"Storage", "networking"}), frozenset({"retail"}), 10),
            Candidate(c, frozenset({"storage", "networking"}), frozenset({"retail"}), 4),  # no room
            Candidate(d, frozenset({"crm"}), frozenset({"retail"}), 40),  # no skill asked
            Candidate(me, frozenset({"storage", "networking"}), frozenset({"retail"}), 40),
        ],
        exclude=[me],
    )
    assert [m.employee_id for m in ranked] == [b, a]
    assert ranked[0].industry_match and ranked[0].skill_coverage == 1.0
    assert ranked[0].reasons == ("skills 2/2", "industry match", "10 h free this week")


def test_fairness_per_stage():
    rows = [
        ("L1_SUBSISTENCE", True, 2.0),
        ("L1_SUBSISTENCE", False, None),
        ("L1_SUBSISTENCE", True, 4.0),
        ("L2_COMFORTABLE", True, 10.0),
        (None, True, 1.0),
    ]
    by = {f.stage: f for f in fairness(rows)}
    assert (by["L1_SUBSISTENCE"].requests, by["L1_SUBSISTENCE"].fulfilled) == (3, 2)
    assert by["L1_SUBSISTENCE"].fulfilment_rate == pytest.approx(0.6667)
    assert by["L1_SUBSISTENCE"].median_wait_hours == 3.0
    assert by["L2_COMFORTABLE"].p90_wait_hours == 10.0
    assert by["L3_AFFLUENT"].requests == 0 and by["L3_AFFLUENT"].fulfilment_rate is None
    assert by["unknown"].requests == 1
