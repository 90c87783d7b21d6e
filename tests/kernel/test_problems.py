"""Every kind of bad input answers problem+json with a 4xx, never a 500."""

import pytest

from tests.support import auth, ensure_org_unit

ADMIN = auth(org_unit="/group", roles=("group_admin",))
PROBLEM = "application/problem+json"


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"].startswith("https://")
    assert "Traceback" not in response.text
    return body


async def test_unknown_route(service_client):
    client = await service_client("employee_lifecycle")
    assert_problem(await client.get("/api/v1/nothing-here", headers=ADMIN), 404)


async def test_wrong_method(service_client):
    client = await service_client("employee_lifecycle")
    assert_problem(await client.delete("/api/v1/employees", headers=ADMIN), 405)


async def test_malformed_json(service_client):
    client = await service_client("employee_lifecycle")
    body = assert_problem(
        await client.post(
            "/api/v1/employees", content=b'{"name": ', headers={**ADMIN, "content-type": "application/json"}
        ),
        400,
    )
    assert body["code"] == "malformed_json"


async def test_wrong_content_type(service_client):
    client = await service_client("employee_lifecycle")
    body = assert_problem(
        await client.post(
            "/api/v1/employees",
            content=b"name=x",
            headers={**ADMIN, "content-type": "application/x-www-form-urlencoded"},
        ),
        415,
    )
    assert "application/json" in body["detail"]


async def test_oversized_body(service_client):
    client = await service_client("employee_lifecycle", max_body_bytes=1024)
    payload = b'{"name": "' + b"x" * 4096 + b'"}'
    assert_problem(
        await client.post("/api/v1/employees", content=payload, headers={**ADMIN, "content-type": "application/json"}),
        413,
    )


async def test_validation_names_each_field(service_client):
    client = await service_client("employee_lifecycle")
    body = assert_problem(
        await client.post(
            "/api/v1/employees",
            json={"name": "", "email": "not-an-email", "org_unit_path": "no-slash", "capacity": -1},
            headers=ADMIN,
        ),
        422,
    )
    locs = {tuple(e["loc"]) for e in body["errors"]}
    assert {("body", "name"), ("body", "email"), ("body", "org_unit_path"), ("body", "capacity")} <= locs
    assert all(e["msg"] for e in body["errors"])


async def test_unknown_field_is_rejected(service_client):
    client = await service_client("employee_lifecycle")
    body = assert_problem(
        await client.post(
            "/api/v1/employees",
            json={"name": "A", "email": "a@example.com", "org_unit_path": "/group/x", "salary": 1},
            headers=ADMIN,
        ),
        422,
    )
    assert ["body", "salary"] in [e["loc"] for e in body["errors"]]


async def test_bad_path_parameter(service_client):
    client = await service_client("employee_lifecycle")
    body = assert_problem(await client.get("/api/v1/employees/not-a-uuid", headers=ADMIN), 422)
    assert body["errors"][0]["loc"] == ["path", "employee_id"]


@pytest.mark.parametrize("limit", ["0", "-1", "201", "many"])
async def test_limit_out_of_range(service_client, limit):
    client = await service_client("employee_lifecycle")
    body = assert_problem(await client.get("/api/v1/employees", params={"limit": limit}, headers=ADMIN), 422)
    assert body["errors"][0]["loc"] == ["query", "limit"]


async def test_missing_and_bad_tokens(service_client):
    client = await service_client("employee_lifecycle")
    assert_problem(await client.get("/api/v1/employees"), 401)
    assert_problem(await client.get("/api/v1/employees", headers={"Authorization": "Bearer nonsense"}), 401)
    assert_problem(await client.get("/api/v1/employees", headers=auth(ttl=-10)), 401)
    assert_problem(
        await client.get("/api/v1/employees", headers=auth(secret="another-secret-entirely-0123456789")), 401
    )


async def test_if_match_mismatch_is_412(service_client):
    client = await service_client("employee_lifecycle")
    await ensure_org_unit(client, "/group/x")  # employees live only in existing units (issue 16)
    created = await client.post(
        "/api/v1/employees", json={"name": "A", "email": "etag@example.com", "org_unit_path": "/group/x"}, headers=ADMIN
    )
    url = created.headers["location"]
    assert_problem(await client.patch(url, json={"capacity": 1}, headers={**ADMIN, "If-Match": '"7"'}), 412)
    ok = await client.patch(url, json={"capacity": 1}, headers={**ADMIN, "If-Match": created.headers["etag"]})
    assert ok.status_code == 200 and ok.headers["etag"] == '"2"'


async def test_oversized_streamed_body(service_client):
    client = await service_client("employee_lifecycle", max_body_bytes=1024)

    async def chunks():
        for _ in range(8):
            yield b"x" * 512

    assert_problem(
        await client.post("/api/v1/employees", content=chunks(), headers={**ADMIN, "content-type": "application/json"}),
        413,
    )
