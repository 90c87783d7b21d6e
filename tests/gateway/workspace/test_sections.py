import datetime as dt

from gateway.workspace import sections as s

TODAY = dt.date(2026, 11, 28)
ME = "0b7c1d9e-3f3a-4d8e-9a55-1e2f3a4b5c6d"


def new_action(**kw) -> dict:
    return {"id": kw.pop("id", "a"), "status": "open", "owner_id": ME, "due_on": "2026-12-01", **kw}


def test_stage_view_carries_reasons_and_gap_from_the_last_evaluation():
    view = s.stage_view({
        "stage": "L2_COMFORTABLE", "stage_since": "2026-01-01", "needs": [],
        "last_evaluation": {"reasons": {"en": "steady"}, "gap": {"target_stage": "L3_AFFLUENT", "en": "2 more"}},
    })
    assert view["status"] == "ok" and view["stage"] == "L2_COMFORTABLE"
    assert view["reasons"] == {"en": "steady"} and view["gap"]["en"] == "2 more"
    assert s.stage_used(view) == "L2_COMFORTABLE"


def test_never_evaluated_or_unknown_stage_shows_l1_help():
    view = s.stage_view(None)
    assert view["status"] == "not_evaluated" and s.stage_used(view) == "L1_SUBSISTENCE"
    assert s.stage_used({"status": "unavailable", "stage": None}) == "L1_SUBSISTENCE"


def test_due_actions_are_open_mine_or_nobodys_within_the_horizon_earliest_first():
    actions = [
        new_action(id="late", due_on="2026-11-20"),
        new_action(id="soon", due_on="2026-12-05"),
        new_action(id="far", due_on="2027-02-01"),
        new_action(id="done", status="done"),
        new_action(id="others", owner_id="someone-else"),
        new_action(id="nobodys", owner_id=None, due_on="2026-12-02"),
        new_action(id="undated", due_on=None),
    ]
    due = s.due_actions(actions, today=TODAY, horizon_days=14, employee_id=ME)
    assert [(a["id"], a["overdue"]) for a in due] == [("late", True), ("nobodys", False), ("soon", False)]


def test_accounts_group_their_plans_due_actions_most_urgent_account_first():
    a_plan = {"id": "p1", "account_id": "A", "period": "2026"}
    b_plan = {"id": "p2", "account_id": "B", "period": "2026"}
    accounts = s.accounts_with_due_actions([
        (a_plan, [new_action(due_on="2026-12-03")]), (b_plan, [new_action(due_on="2026-11-30")]), ({**a_plan, "id": "p3"}, []),
    ])
    assert [a["account_id"] for a in accounts] == ["B", "A"]
    assert [p["plan_id"] for p in accounts[1]["plans"]] == ["p1"]


def test_current_plans_drop_ended_periods_and_keep_the_soonest_ending():
    plans = [
        {"id": "old", "ends_on": "2025-12-31"}, {"id": "long", "ends_on": "2027-12-31"},
        {"id": "now", "ends_on": "2026-12-31"}, {"id": "open", "ends_on": None},
    ]
    assert [p["id"] for p in s.current_plans(plans, TODAY, 2)] == ["now", "long"]


def test_incubation_and_relationship_gaps():
    items = [{"id": "1", "status": "idea"}, {"id": "2", "status": "promoted"}, {"id": "3", "status": "qualified"}]
    assert [i["id"] for i in s.open_incubation(items)] == ["1", "3"]
    plan = {"id": "p", "account_id": "A"}
    gaps = s.relationship_gaps(plan, [
        {"contact_name": "Li", "met": False, "gap_steps": 1}, {"contact_name": "Wu", "met": True, "gap_steps": 0},
        {"contact_name": "Ma", "met": False, "gap_steps": 3},
    ])
    assert [(g["contact_name"], g["account_id"]) for g in s.largest_gaps_first(gaps, 5)] == [("Ma", "A"), ("Li", "A")]


def test_expertise_demand_counts_requests_from_other_organisations():
    requests = [
        {"status": "requested", "requester_org_unit_path": "/group/east/team-1"},
        {"status": "fulfilled", "requester_org_unit_path": "/group/west"},
        {"status": "fulfilled", "requester_org_unit_path": "/group/north/x"},
    ]
    demand = s.expertise_demand(requests, own_organization="/group/east", support_assigned=2)
    assert demand == {
        "resource_requests": 3, "by_status": {"fulfilled": 2, "requested": 1}, "requesting_organisations": 3,
        "from_other_organisations": 2, "support_requests_assigned": 2,
    }


def test_industries_keep_first_seen_order_without_blanks():
    assert s.industries([{"industry": "retail"}, {"industry": None}, {"industry": "medical"}, {"industry": "retail"}]) == [
        "retail", "medical",
    ]
