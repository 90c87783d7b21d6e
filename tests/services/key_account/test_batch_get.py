"""`POST /api/v1/accounts:batch-get`: many accounts, the answer a GET of each gives."""

import uuid

from tests.services.key_account.helpers import ADMIN, new_account, rep

BATCH = "/api/v1/accounts:batch-get"


async def test_batch_get_answers_what_a_get_of_each_answers_unknown_and_hidden_alike(service_client):
    client = await service_client("key_account")
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    owned = await new_account(client, name="Owned Co", owner_id=str(mine))
    other = await new_account(client, name="Other Co", owner_id=str(theirs))
    ghost = str(uuid.uuid4())
    asked = [other["id"], ghost, owned["id"], owned["id"]]

    r = await client.post(BATCH, json={"account_ids": asked}, headers=rep(mine))
    assert r.status_code == 200, r.text
    answer = r.json()
    single = (await client.get(f"/api/v1/accounts/{owned['id']}", headers=rep(mine))).json()
    assert answer["items"] == [single] and single["access"] == "owner"
    assert answer["not_found"] == [other["id"], ghost]
    assert (await client.get(f"/api/v1/accounts/{other['id']}", headers=rep(mine))).status_code == 404

    everyone = (await client.post(BATCH, json={"account_ids": asked}, headers=ADMIN)).json()
    assert [a["id"] for a in everyone["items"]] == [other["id"], owned["id"]] and everyone["not_found"] == [ghost]


async def test_batch_get_takes_one_to_a_thousand_ids(service_client):
    client = await service_client("key_account")
    for ids in ([], [str(uuid.uuid4()) for _ in range(1001)]):
        r = await client.post(BATCH, json={"account_ids": ids}, headers=ADMIN)
        assert r.status_code == 422, r.text
