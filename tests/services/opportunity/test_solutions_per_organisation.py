"""Solutions per organisation (issue 18): each organisation curates its own
catalogue and prices; an import (bulk, POST or PATCH) for one never changes
another's, and lists show one's own organisation's entries and the group's."""

import uuid

from tests.support import auth

SOLUTIONS = "/api/v1/solutions"
BULK = f"{SOLUTIONS}:bulk-upsert"
EAST = auth(org_unit="/group/east", roles=("org_admin",))
WEST = auth(org_unit="/group/west/team-2", roles=("org_admin",))
GROUP = auth(org_unit="/group", roles=("group_admin",))


def row(name: str, price: str, **extra: object) -> dict:
    return {"external_id": name, "name": name, "list_price": {"amount": price, "currency": "CNY"}, **extra}


async def listed(client, headers: dict) -> dict[str, tuple[str, str]]:
    items = (await client.get(SOLUTIONS, params={"limit": 200}, headers=headers)).json()["items"]
    return {s["id"]: (s["organization_path"], s["name"], s["list_price"]["amount"]) for s in items}


async def test_the_same_name_is_two_solutions_and_an_import_changes_only_its_own(service_client):
    client = await service_client("opportunity")
    name = f"GTX Pro {uuid.uuid4().hex[:6]}"
    east = (await client.post(BULK, json={"items": [row(name, "100.00")], "source": "erp"}, headers=EAST)).json()
    west = (await client.post(BULK, json={"items": [row(name, "90.00")], "source": "erp"}, headers=WEST)).json()
    assert east["created"] == west["created"] == 1, (east, west)
    east_id, west_id = east["results"][0]["id"], west["results"][0]["id"]
    assert east_id != west_id

    again = (await client.post(BULK, json={"items": [row(name, "120.00")], "source": "erp"}, headers=WEST)).json()
    assert again["updated"] == 1 and again["results"][0]["id"] == west_id
    assert (await client.get(f"{SOLUTIONS}/{east_id}", headers=EAST)).json()["list_price"]["amount"] == "100.00"
    assert (await client.get(f"{SOLUTIONS}/{west_id}", headers=WEST)).json()["list_price"]["amount"] == "120.00"

    # Lists: one's own organisation's entries; a group admin sees both.
    assert east_id in await listed(client, EAST) and west_id not in await listed(client, EAST)
    assert west_id in await listed(client, WEST) and east_id not in await listed(client, WEST)
    assert {east_id, west_id} <= set(await listed(client, GROUP))

    # One by one: a west admin may not change east's solution (hidden: 404) nor add to its catalogue.
    patched = await client.patch(
        f"{SOLUTIONS}/{east_id}", json={"list_price": {"amount": "1.00", "currency": "CNY"}}, headers=WEST
    )
    assert patched.status_code == 404
    made = await client.post(SOLUTIONS, json={"name": name, "organization_path": "/group/east"}, headers=WEST)
    assert made.status_code == 403
    refused = await client.post(
        BULK, json={"items": [row(name, "1.00")], "organization_path": "/group/east"}, headers=WEST
    )
    assert refused.status_code == 403
    assert (await client.get(f"{SOLUTIONS}/{east_id}", headers=EAST)).json()["list_price"]["amount"] == "100.00"
    # The same name twice in one catalogue is refused; in another, it is that catalogue's own.
    taken = await client.post(SOLUTIONS, json={"name": name}, headers=EAST)
    assert taken.status_code == 409


async def test_a_group_admin_imports_into_a_named_catalogue_and_a_solution_made_by_hand_is_matched_by_name(
    service_client,
):
    client = await service_client("opportunity")
    name = f"Ledger {uuid.uuid4().hex[:6]}"
    by_hand = (await client.post(SOLUTIONS, json={"name": name}, headers=EAST)).json()
    assert by_hand["organization_path"] == "/group/east" and by_hand["external_id"] is None
    report = (
        await client.post(
            BULK,
            json={"items": [{**row(name, "5.00"), "external_id": "LEDGER-1"}], "organization_path": "/group/east"},
            headers=GROUP,
        )
    ).json()
    assert report["updated"] == 1 and report["results"][0]["id"] == by_hand["id"], report
    got = (await client.get(f"{SOLUTIONS}/{by_hand['id']}", headers=EAST)).json()
    assert got["external_id"] == "LEDGER-1" and got["list_price"]["amount"] == "5.00"
    group_wide = (await client.post(BULK, json={"items": [row(name, "7.00")]}, headers=GROUP)).json()
    assert group_wide["created"] == 1
    solution = (await client.get(f"{SOLUTIONS}/{group_wide['results'][0]['id']}", headers=GROUP)).json()
    assert solution["organization_path"] == "/group"
    # The group's entries are in every organisation's list.
    assert solution["id"] in await listed(client, WEST)


async def test_a_solution_reimport_keeps_a_price_changed_in_the_crm(service_client):
    client = await service_client("opportunity")
    name = f"Backup {uuid.uuid4().hex[:6]}"
    made = (await client.post(BULK, json={"items": [row(name, "10.00")], "source": "erp"}, headers=EAST)).json()
    solution_id = made["results"][0]["id"]
    await client.patch(
        f"{SOLUTIONS}/{solution_id}",
        json={"list_price": {"amount": "12.00", "currency": "CNY"}},
        headers={**EAST, "If-Match": '"1"'},
    )
    again = (await client.post(BULK, json={"items": [row(name, "10.00")], "source": "erp"}, headers=EAST)).json()
    assert again["unchanged"] == 1 and again["conflicts"] == 0, again
    assert (await client.get(f"{SOLUTIONS}/{solution_id}", headers=EAST)).json()["list_price"]["amount"] == "12.00"


async def test_another_organisations_solution_answers_404_and_the_groups_is_everyones(service_client):
    client = await service_client("opportunity")
    tag = uuid.uuid4().hex[:6]
    east = (await client.post(SOLUTIONS, json={"name": f"East only {tag}"}, headers=EAST)).json()["id"]
    group = (await client.post(SOLUTIONS, json={"name": f"Group wide {tag}"}, headers=GROUP)).json()["id"]
    west_rep = auth(org_unit="/group/west/team-2", roles=("rep",))
    east_rep = auth(org_unit="/group/east/team-1", roles=("rep",))
    for headers in (WEST, west_rep):
        hidden = await client.get(f"{SOLUTIONS}/{east}", headers=headers)
        assert hidden.status_code == 404 and hidden.json()["detail"] == f"Solution {east} was not found.", hidden.text
        assert (await client.get(f"{SOLUTIONS}/{group}", headers=headers)).status_code == 200
    for headers in (EAST, east_rep, GROUP):
        assert (await client.get(f"{SOLUTIONS}/{east}", headers=headers)).status_code == 200
    price = {"list_price": {"amount": "1.00", "currency": "CNY"}}
    # A write to a hidden solution is as unknown as a read, whatever the If-Match.
    hidden_patch = await client.patch(f"{SOLUTIONS}/{east}", json=price, headers={**WEST, "If-Match": '"1"'})
    assert hidden_patch.status_code == 404
    # The group's entries: read by all, changed by group admins only.
    assert (await client.patch(f"{SOLUTIONS}/{group}", json=price, headers=EAST)).status_code == 403
    assert (await client.patch(f"{SOLUTIONS}/{group}", json=price, headers=GROUP)).status_code == 200
    assert (await client.get(f"{SOLUTIONS}/{east}", headers=EAST)).json()["list_price"] is None
