from gateway.workspace import sections as s

ME = "0b7c1d9e-3f3a-4d8e-9a55-1e2f3a4b5c6d"


def new_action(**kw) -> dict:
    return {"id": kw.pop("id", "a"), "status": "open", "owner_id": ME, "due_on": "2026-12-01", **kw}


def test_stage_view_carries_reasons_and_gap_from_the_last_evaluation():
    view = s.stage_view(
        {
            "stage": "L2_COMFORTABLE",
            "stage_since": "2026-01-01",
            "needs": [],
            "last_evaluation": {"reasons": {"en": "steady"}, "gap": {"target_stage": "L3_AFFLUENT", "en": "2 more"}},
        }
    )
    assert view["status"] == "ok" and view["stage"] == "L2_COMFORTABLE"
    assert view["reasons"] == {"en": "steady"} and view["gap"]["en"] == "2 more"
    assert s.stage_used(view) == "L2_COMFORTABLE"


def test_never_evaluated_or_unknown_stage_shows_l1_help():
    view = s.stage_view(None)
    assert view["status"] == "not_evaluated" and s.stage_used(view) == "L1_SUBSISTENCE"
    assert s.stage_used({"status": "unavailable", "stage": None}) == "L1_SUBSISTENCE"


def test_accounts_group_due_actions_in_the_order_of_their_most_urgent():
    accounts = s.accounts_with_due_actions(
        [
            new_action(id="1", account_id="B", account_name="Bolt", due_on="2026-11-20", overdue=True),
            new_action(id="2", account_id="A", account_name="Acme", due_on="2026-11-30", overdue=False),
            new_action(id="3", account_id="B", account_name="Bolt", due_on="2026-12-03", overdue=False),
        ]
    )
    assert [(a["account_id"], a["account_name"], a["next_due_on"], a["overdue"]) for a in accounts] == [
        ("B", "Bolt", "2026-11-20", 1),
        ("A", "Acme", "2026-11-30", 0),
    ]
    assert [x["id"] for x in accounts[0]["actions"]] == ["1", "3"]
    assert s.accounts_with_due_actions([]) == []


def test_more_tells_whether_the_service_had_another_page():
    assert s.more({"items": [], "next_cursor": "abc"}) is True
    assert s.more({"items": []}) is False and s.more({"next_cursor": None}) is False


def test_industries_keep_first_seen_order_without_blanks():
    assert s.industries(
        [{"industry": "retail"}, {"industry": None}, {"industry": "medical"}, {"industry": "retail"}]
    ) == [
        "retail",
        "medical",
    ]
