"""Account re-imports (issue 18): the merge compares rows as `check_row` stores
them, so a sector the import normalises, revenue and the parent link are the
same on both sides when nobody changed them."""

import uuid

from tests.services.key_account.helpers import ADMIN

BULK = "/api/v1/accounts:bulk-upsert"


def row(ext: str, **fields: object) -> dict:
    return {"external_id": ext, "name": ext.title(), "org_unit_path": "/group/east", **fields}


async def test_a_normalised_sector_revenue_and_parent_merge_as_stored(service_client):
    client = await service_client("key_account")
    run = uuid.uuid4().hex[:6]
    rows = [
        row(f"p-{run}", industry="Logisitcs", annual_revenue={"amount": "7000000000", "currency": "USD"}),
        row(f"c-{run}", parent_external_id=f"p-{run}", employees=40, potential=60),
    ]
    first = (await client.post(BULK, json={"items": rows, "source": "erp"}, headers=ADMIN)).json()
    assert first["created"] == 2 and first["conflicts"] == 0, first
    child = first["results"][1]["id"]
    # In the CRM: the child's potential is assessed again.
    current = (await client.get(f"/api/v1/accounts/{child}", headers=ADMIN)).json()
    patched = await client.patch(
        f"/api/v1/accounts/{child}", json={"potential": 85}, headers={**ADMIN, "If-Match": f'"{current["version"]}"'}
    )
    assert patched.status_code == 200, patched.text

    again = (await client.post(BULK, json={"items": rows, "source": "erp"}, headers=ADMIN)).json()
    assert again["unchanged"] == 2 and again["conflicts"] == 0, again
    assert (await client.get(f"/api/v1/accounts/{child}", headers=ADMIN)).json()["potential"] == 85

    rows[1] = {**rows[1], "employees": 45, "potential": 70}
    changed = (await client.post(BULK, json={"items": rows, "source": "erp"}, headers=ADMIN)).json()
    assert changed["updated"] == 1 and changed["conflicts"] == 1, changed
    assert [w["loc"][-1] for w in changed["results"][1]["warnings"]] == ["potential"]
    now = (await client.get(f"/api/v1/accounts/{child}", headers=ADMIN)).json()
    assert now["employees"] == 45 and now["potential"] == 85


async def account(client, account_id: str) -> dict:
    return (await client.get(f"/api/v1/accounts/{account_id}", headers=ADMIN)).json()


async def test_a_sent_null_clears_a_field_an_absent_one_keeps_it_and_the_merge_decides(service_client):
    client = await service_client("key_account")
    ext = f"n-{uuid.uuid4().hex[:6]}"
    full = row(
        ext,
        industry="logistics",
        annual_revenue={"amount": "7000000.00", "currency": "CNY"},
        employees=40,
        headquarters="Ningbo",
        potential=60,
        strategic_value=70,
    )
    first = (await client.post(BULK, json={"items": [full], "source": "erp"}, headers=ADMIN)).json()
    assert first["created"] == 1, first
    account_id = first["results"][0]["id"]
    current = await account(client, account_id)
    patched = await client.patch(
        f"/api/v1/accounts/{account_id}",
        json={"strategic_value": 95},
        headers={**ADMIN, "If-Match": f'"{current["version"]}"'},
    )
    assert patched.status_code == 200, patched.text

    # The source cleared industry, revenue, headcount and both scores, and no longer sends headquarters.
    cleared = {k: v for k, v in full.items() if k != "headquarters"}
    cleared |= dict.fromkeys(("industry", "annual_revenue", "employees", "potential", "strategic_value"))
    again = (await client.post(BULK, json={"items": [cleared], "source": "erp"}, headers=ADMIN)).json()
    assert again["updated"] == 1 and again["conflicts"] == 1, again
    assert [w["loc"][-1] for w in again["results"][0]["warnings"]] == ["strategic_value"]
    now = await account(client, account_id)
    assert (now["industry"], now["annual_revenue"], now["employees"], now["potential"]) == (None, None, None, None)
    assert now["headquarters"] == "Ningbo" and now["strategic_value"] == 95 and now["name"] == full["name"]
    # The same file again: nothing to do.
    same = (await client.post(BULK, json={"items": [cleared], "source": "erp"}, headers=ADMIN)).json()
    assert same["unchanged"] == 1 and same["conflicts"] == 0, same

    # Without a source the last write wins: null clears, absent keeps, name and org unit stay.
    plain = {"external_id": ext, "name": full["name"], "headquarters": None, "org_unit_path": None, "owner_id": None}
    last = (await client.post(BULK, json={"items": [plain]}, headers=ADMIN)).json()
    assert last["updated"] == 1, last
    now = await account(client, account_id)
    assert now["headquarters"] is None and now["strategic_value"] == 95 and now["org_unit_path"] == "/group/east"
