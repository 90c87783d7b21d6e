import uuid

from tests.services.key_account.helpers import ADMIN, EAST_MANAGER, new_account, rep


def row(ext: str, name: str | None = None, **fields: object) -> dict:
    return {"external_id": ext, "name": name or ext.title(), "org_unit_path": "/group/east", **fields}


async def test_bulk_upsert_reports_every_row(service_client):
    client = await service_client("key_account")
    rows = [
        row(
            "parent",
            industry="technolgy",
            annual_revenue={"amount": "7000000000", "currency": "USD"},
            employees=5000,
            potential=90,
            strategic_value=90,
        ),
        row("child", parent_external_id="parent", industry="retail"),
        row("orphan", parent_external_id="nobody"),
        row("bad", employees=-3),
        row("parent", "Parent again"),
    ]
    response = await client.post("/api/v1/accounts:bulk-upsert", json={"items": rows}, headers=ADMIN)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["created"], report["updated"], report["failed"]) == (2, 0, 3)
    assert sum(any(w["code"] == "normalised" for w in r["warnings"]) for r in report["results"]) == 1
    by_index = report["results"]
    assert [r["status"] for r in by_index] == ["created", "created", "failed", "failed", "failed"]
    assert by_index[0]["warnings"][0]["code"] == "normalised"
    assert by_index[0]["tier"] == "strategic" and {r["factor"] for r in by_index[0]["tier_reasons"]} >= {"revenue"}
    assert by_index[1]["parent_id"] == by_index[0]["id"]
    assert by_index[2]["errors"] == [
        {
            "loc": ["body", "items", 2, "parent_external_id"],
            "msg": "unknown parent 'nobody': not in this batch nor among existing accounts",
            "code": "unknown_parent",
        }
    ]
    assert by_index[3]["errors"][0]["loc"] == ["body", "items", 3, "employees"]
    assert by_index[4]["errors"][0]["code"] == "duplicate"

    parent = (await client.get(f"/api/v1/accounts/{by_index[0]['id']}", headers=ADMIN)).json()
    assert parent["industry"] == "technology" and parent["tier"] == "strategic"
    assert parent["segmentation"]["score"] is not None
    listed = (await client.get("/api/v1/accounts", params={"name_prefix": "orphan"}, headers=ADMIN)).json()
    assert listed["items"] == []  # failed rows are not written


async def test_second_run_updates_and_refuses_cycles_through_stored_accounts(service_client):
    client = await service_client("key_account")
    first = await client.post(
        "/api/v1/accounts:bulk-upsert", json={"items": [row("a"), row("b", parent_external_id="a")]}, headers=ADMIN
    )
    assert first.json()["created"] == 2
    again = await client.post(
        "/api/v1/accounts:bulk-upsert",
        json={
            "items": [
                row("b", "B renamed", employees=10),  # parent left as it is
                row("a", parent_external_id="b"),  # a under b, b under a: a cycle
            ]
        },
        headers=ADMIN,
    )
    report = again.json()
    assert [r["status"] for r in report["results"]] == ["updated", "failed"]
    assert report["results"][1]["errors"][0]["code"] == "cycle"
    b = (await client.get(f"/api/v1/accounts/{report['results'][0]['id']}", headers=ADMIN)).json()
    assert b["name"] == "B renamed" and b["employees"] == 10 and b["parent_id"] is not None


async def test_dry_run_writes_nothing(service_client):
    client = await service_client("key_account")
    report = (
        await client.post("/api/v1/accounts:bulk-upsert", json={"items": [row("dry")], "dry_run": True}, headers=ADMIN)
    ).json()
    assert report["results"][0]["status"] == "created" and report["created"] == 1 and report["dry_run"] is True
    assert report["results"][0]["id"] is None  # not assigned until written
    assert (await client.get("/api/v1/accounts", params={"name_prefix": "dry"}, headers=ADMIN)).json()["items"] == []


async def test_bulk_placement_and_hidden_external_ids(service_client):
    client = await service_client("key_account")
    await new_account(client, external_id="west-1", org_unit_path="/group/west")
    report = (
        await client.post(
            "/api/v1/accounts:bulk-upsert",
            json={
                "items": [
                    row("east-new"),
                    {"external_id": "west-new", "name": "W", "org_unit_path": "/group/west"},
                    row("west-1", "Hijack"),
                    row("kid", parent_external_id="west-1"),
                ]
            },
            headers=EAST_MANAGER,
        )
    ).json()
    assert [r["status"] for r in report["results"]] == ["created", "failed", "failed", "failed"]
    assert report["results"][1]["errors"][0]["code"] == "forbidden"
    assert report["results"][2]["errors"][0]["code"] == "not_yours"
    assert report["results"][3]["errors"][0]["code"] == "parent_failed"
    alone = (
        await client.post(
            "/api/v1/accounts:bulk-upsert",
            json={"items": [row("kid", parent_external_id="west-1")]},
            headers=EAST_MANAGER,
        )
    ).json()
    assert alone["results"][0]["errors"][0]["code"] == "unknown_parent"  # a hidden parent is not revealed
    refused = await client.post("/api/v1/accounts:bulk-upsert", json={"items": [row("x")]}, headers=rep(uuid.uuid4()))
    assert refused.status_code == 403


async def test_a_row_that_changes_nothing_is_unchanged_and_keeps_the_version(service_client):
    client = await service_client("key_account")
    rows = [row("same-parent", industry="retail"), row("same-child", parent_external_id="same-parent", employees=40)]
    first = (await client.post("/api/v1/accounts:bulk-upsert", json={"items": rows}, headers=ADMIN)).json()
    assert first["created"] == 2
    child_id = first["results"][1]["id"]
    before = await client.get(f"/api/v1/accounts/{child_id}", headers=ADMIN)
    again = (await client.post("/api/v1/accounts:bulk-upsert", json={"items": rows}, headers=ADMIN)).json()
    assert [r["status"] for r in again["results"]] == ["unchanged", "unchanged"]
    assert (again["unchanged"], again["updated"]) == (2, 0)
    assert again["results"][1]["id"] == child_id and again["results"][1]["parent_id"] == first["results"][0]["id"]
    after = await client.get(f"/api/v1/accounts/{child_id}", headers=ADMIN)
    assert after.headers["etag"] == before.headers["etag"]  # a client's If-Match still holds
    # Only the parent changes: the row is updated.
    moved = (
        await client.post(
            "/api/v1/accounts:bulk-upsert",
            json={"items": [row("other-parent"), row("same-child", parent_external_id="other-parent", employees=40)]},
            headers=ADMIN,
        )
    ).json()
    assert [r["status"] for r in moved["results"]] == ["created", "updated"]
    assert (await client.get(f"/api/v1/accounts/{child_id}", headers=ADMIN)).headers["etag"] != before.headers["etag"]
