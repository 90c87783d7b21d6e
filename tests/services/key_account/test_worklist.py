"""Cross-plan work lists: every plan the caller may see, filtered and paginated."""

import datetime as dt
import uuid

from tests.services.key_account.helpers import ADMIN, new_account, new_contact, new_plan, rep

TODAY = dt.date.today()


def day(offset: int) -> str:
    return (TODAY + dt.timedelta(days=offset)).isoformat()


async def _action(client, plan_id: str, title: str, **fields: object) -> dict:
    response = await client.post(
        f"/api/v1/account-plans/{plan_id}/actions", headers=ADMIN, json={"title": title, **fields}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def _book(client, owner: uuid.UUID, name: str) -> tuple[dict, dict]:
    account = await new_account(client, name=name, owner_id=str(owner))
    plan = await new_plan(client, account["id"], starts_on=day(-100), ends_on=day(200))
    return account, plan


async def test_actions_across_plans_earliest_due_first_with_filters(service_client):
    client = await service_client("key_account")
    me, colleague = uuid.uuid4(), uuid.uuid4()
    first, plan_a = await _book(client, me, "Sunrise Logistics")
    _, plan_b = await _book(client, me, "Harbour Foods")
    _, hidden = await _book(client, colleague, "Someone else's account")
    overdue = await _action(client, plan_a["id"], "Send the proposal", owner_id=str(me), due_on=day(-2))
    soon = await _action(client, plan_b["id"], "Book the CIO briefing", due_on=day(3))
    later = await _action(client, plan_a["id"], "Quarterly review", owner_id=str(me), due_on=day(40))
    undated = await _action(client, plan_b["id"], "Map the board", owner_id=str(me))
    theirs = await _action(client, plan_a["id"], "Colleague's task", owner_id=str(colleague), due_on=day(1))
    await _action(client, hidden["id"], "Invisible", owner_id=str(me), due_on=day(1))
    done = await _action(client, plan_a["id"], "Finished", owner_id=str(me), due_on=day(-5))
    await client.patch(
        f"/api/v1/account-plans/{plan_a['id']}/actions/{done['id']}",
        json={"status": "done"},
        headers={**ADMIN, "If-Match": '"1"'},
    )

    mine = rep(me)
    everything = (await client.get("/api/v1/plan-actions", headers=mine)).json()["items"]
    assert [a["title"] for a in everything] == [
        "Finished",
        "Send the proposal",
        "Colleague's task",
        "Book the CIO briefing",
        "Quarterly review",
        "Map the board",
    ]
    assert everything[1] | {} == {
        **everything[1],
        "account_id": first["id"],
        "account_name": "Sunrise Logistics",
        "plan_period": "2026",
        "overdue": True,
    }
    assert everything[0]["overdue"] is False  # done: not overdue however old

    due = await client.get(
        "/api/v1/plan-actions",
        headers=mine,
        params={"status": ["open", "in_progress"], "due_by": day(14), "owner_id": str(me), "unowned": "true"},
    )
    assert due.status_code == 200, due.text
    assert [a["id"] for a in due.json()["items"]] == [overdue["id"], soon["id"]]
    assert theirs["id"] not in {a["id"] for a in due.json()["items"]} and later["id"] != undated["id"]

    only_unowned = (await client.get("/api/v1/plan-actions", headers=mine, params={"unowned": "true"})).json()["items"]
    assert [a["id"] for a in only_unowned] == [soon["id"]]
    per_account = (await client.get("/api/v1/plan-actions", headers=mine, params={"account_id": first["id"]})).json()[
        "items"
    ]
    assert {a["account_id"] for a in per_account} == {first["id"]}


async def test_action_pages_follow_the_due_order_across_undated_rows(service_client):
    client = await service_client("key_account")
    me = uuid.uuid4()
    _, plan = await _book(client, me, "Paged Account")
    for i in range(5):
        await _action(client, plan["id"], f"dated {i}", due_on=day(i))
    for i in range(3):
        await _action(client, plan["id"], f"undated {i}")
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/api/v1/plan-actions", headers=rep(me), params=params)).json()
        seen += [a["title"] for a in body["items"]]
        if not (cursor := body["next_cursor"]):
            break
    assert seen[:5] == [f"dated {i}" for i in range(5)]
    assert sorted(seen[5:]) == ["undated 0", "undated 1", "undated 2"] and len(seen) == 8


async def test_plans_that_ended_are_left_out_when_asked(service_client):
    client = await service_client("key_account")
    me = uuid.uuid4()
    account = await new_account(client, name="Old plans", owner_id=str(me))
    old = await new_plan(client, account["id"], period="2020", starts_on="2020-01-01", ends_on="2020-12-31")
    current = await new_plan(client, account["id"], period="2099", starts_on=day(-10), ends_on=day(10))
    await _action(client, old["id"], "Stale")
    await _action(client, current["id"], "Live")
    titles = [
        a["title"]
        for a in (
            await client.get("/api/v1/plan-actions", headers=rep(me), params={"current_plans_only": "true"})
        ).json()["items"]
    ]
    assert titles == ["Live"]


async def test_incubation_items_across_plans(service_client):
    client = await service_client("key_account")
    me = uuid.uuid4()
    _, plan_a = await _book(client, me, "Incubation A")
    _, plan_b = await _book(client, me, "Incubation B")
    _, hidden = await _book(client, uuid.uuid4(), "Incubation hidden")
    ids = []
    for plan, title in ((plan_a, "Backup service"), (plan_b, "Edge AI pilot"), (hidden, "Not yours")):
        response = await client.post(
            f"/api/v1/account-plans/{plan['id']}/incubation-items", headers=ADMIN, json={"title": title}
        )
        ids.append(response.json()["id"])
    await client.patch(
        f"/api/v1/account-plans/{plan_b['id']}/incubation-items/{ids[1]}",
        json={"status": "dropped"},
        headers={**ADMIN, "If-Match": '"1"'},
    )
    listed = (await client.get("/api/v1/incubation-items", headers=rep(me))).json()["items"]
    assert [i["title"] for i in listed] == ["Backup service", "Edge AI pilot"]
    open_only = (
        await client.get(
            "/api/v1/incubation-items", headers=rep(me), params={"status": ["idea", "validated", "qualified"]}
        )
    ).json()["items"]
    assert [i["id"] for i in open_only] == [ids[0]]
    bad = await client.get("/api/v1/incubation-items", headers=rep(me), params={"status": "hatched"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert "status" in bad.text


async def test_relationship_gaps_largest_first_and_met_targets_left_out(service_client):
    client = await service_client("key_account")
    me = uuid.uuid4()
    account, plan = await _book(client, me, "Gaps Inc")
    _, other_plan = await _book(client, me, "More Gaps Ltd")
    names = ("CIO", "CFO", "Buyer")
    contacts = {n: await new_contact(client, account["id"], f"Contact {n}") for n in names}
    other = await new_contact(client, other_plan["account_id"], "Contact COO")
    await client.put(
        f"/api/v1/accounts/{account['id']}/relationships",
        headers=ADMIN,
        json={
            "contact_id": contacts["CFO"]["id"],
            "employee_id": str(uuid.uuid4()),
            "level": "problem_solver",
            "strength": 60,
        },
    )
    await client.put(
        f"/api/v1/accounts/{account['id']}/relationships",
        headers=ADMIN,
        json={
            "contact_id": contacts["Buyer"]["id"],
            "employee_id": str(uuid.uuid4()),
            "level": "credible_source",
            "strength": 60,
        },
    )
    for contact, level, owner in (
        (contacts["CIO"], "trusted_advisor", me),  # no relationship yet: 4 steps
        (contacts["CFO"], "trusted_advisor", None),  # problem_solver: 1 step
        (contacts["Buyer"], "credible_source", me),  # met
    ):
        body = {"contact_id": contact["id"], "target_level": level, **({"owner_id": str(owner)} if owner else {})}
        assert (
            await client.put(f"/api/v1/account-plans/{plan['id']}/relationship-targets", json=body, headers=ADMIN)
        ).status_code == 200
    await client.put(
        f"/api/v1/account-plans/{other_plan['id']}/relationship-targets",
        headers=ADMIN,
        json={"contact_id": other["id"], "target_level": "problem_solver", "owner_id": str(me)},
    )

    gaps = (await client.get("/api/v1/relationship-gaps", headers=rep(me))).json()["items"]
    assert [(g["contact_name"], g["gap_steps"], g["current_level"]) for g in gaps] == [
        ("Contact CIO", 4, None),
        ("Contact COO", 3, None),
        ("Contact CFO", 1, "problem_solver"),
    ]
    assert gaps[0]["account_name"] == "Gaps Inc" and gaps[0]["plan_id"] == plan["id"]
    page = (await client.get("/api/v1/relationship-gaps", headers=rep(me), params={"limit": 2})).json()
    rest = (
        await client.get(
            "/api/v1/relationship-gaps", headers=rep(me), params={"limit": 2, "cursor": page["next_cursor"]}
        )
    ).json()
    assert [g["id"] for g in page["items"] + rest["items"]] == [g["id"] for g in gaps] and rest["next_cursor"] is None
    unowned = (await client.get("/api/v1/relationship-gaps", headers=rep(me), params={"unowned": "true"})).json()[
        "items"
    ]
    assert [g["contact_name"] for g in unowned] == ["Contact CFO"]


async def test_another_reps_work_is_not_listed(service_client):
    client = await service_client("key_account")
    owner, stranger = uuid.uuid4(), uuid.uuid4()
    _, plan = await _book(client, owner, "Private Account")
    await _action(client, plan["id"], "Private", due_on=day(1))
    await client.post(
        f"/api/v1/account-plans/{plan['id']}/incubation-items", headers=ADMIN, json={"title": "Private idea"}
    )
    for path in ("/api/v1/plan-actions", "/api/v1/incubation-items", "/api/v1/relationship-gaps"):
        assert (await client.get(path, headers=rep(stranger, "/group/west/team-9"))).json()["items"] == [], path
        assert (await client.get(path, headers=rep(owner))).status_code == 200
