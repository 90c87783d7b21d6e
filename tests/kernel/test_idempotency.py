import asyncio
import hashlib
import json
import uuid

import httpx
import pytest
import sqlalchemy as sa

from sanlun.kernel.routing import canonical_body
from tests.support import auth, ensure_org_unit, make_settings

ADMIN = auth(org_unit="/group", roles=("group_admin",))


def new_employee() -> dict:
    return {"name": "Idem", "email": f"idem-{uuid.uuid4().hex[:8]}@example.com", "org_unit_path": "/group/idem"}


async def idem_client(service_client):
    """The service, with the unit `new_employee` places employees in (issue 16)."""
    client = await service_client("employee_lifecycle")
    await ensure_org_unit(client, "/group/idem")
    return client


async def test_same_key_same_body_replays(service_client):
    client = await idem_client(service_client)
    body, headers = new_employee(), {**ADMIN, "Idempotency-Key": uuid.uuid4().hex}
    first = await client.post("/api/v1/employees", json=body, headers=headers)
    second = await client.post("/api/v1/employees", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["location"] == first.headers["location"]
    assert second.headers["idempotent-replayed"] == "true"
    listed = (await client.get("/api/v1/employees", params={"email": body["email"]}, headers=ADMIN)).json()
    assert len(listed["items"]) == 1


async def test_same_key_other_body_is_422(service_client):
    client = await idem_client(service_client)
    headers = {**ADMIN, "Idempotency-Key": uuid.uuid4().hex}
    assert (await client.post("/api/v1/employees", json=new_employee(), headers=headers)).status_code == 201
    again = await client.post("/api/v1/employees", json=new_employee(), headers=headers)
    assert again.status_code == 422
    assert again.json()["code"] == "idempotency_key_reused"


async def test_same_json_reformatted_replays(service_client):
    """A retry that re-encodes the same JSON (other key order, whitespace,
    escapes) is the same request."""
    client = await idem_client(service_client)
    body = {**new_employee(), "name": "Idem Café", "skills": ["b", "a"]}
    headers = {**ADMIN, "Idempotency-Key": uuid.uuid4().hex, "content-type": "application/json"}
    compact = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    reordered = json.dumps(dict(reversed(body.items())), indent=2, ensure_ascii=True).encode()
    assert compact != reordered
    first = await client.post("/api/v1/employees", content=compact, headers=headers)
    second = await client.post("/api/v1/employees", content=b"\n  " + reordered + b"\n", headers=headers)
    assert first.status_code == second.status_code == 201, second.text
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json() == first.json()


async def test_same_key_reformatted_with_other_values_is_422(service_client):
    client = await idem_client(service_client)
    body = new_employee()
    headers = {**ADMIN, "Idempotency-Key": uuid.uuid4().hex, "content-type": "application/json"}
    assert (
        await client.post("/api/v1/employees", content=json.dumps(body).encode(), headers=headers)
    ).status_code == 201
    changed = {**body, "name": "Idem Other"}
    again = await client.post(
        "/api/v1/employees", content=json.dumps(changed, indent=1, sort_keys=True).encode(), headers=headers
    )
    assert again.status_code == 422
    assert again.json()["code"] == "idempotency_key_reused"
    # Array order is data, not formatting.
    skills = {**body, "skills": ["a", "b"]}
    reordered_skills = {**body, "skills": ["b", "a"]}
    headers2 = {**headers, "Idempotency-Key": uuid.uuid4().hex}
    assert (
        await client.post("/api/v1/employees", json={**skills, "email": f"x{body['email']}"}, headers=headers2)
    ).status_code == 201
    swapped = await client.post(
        "/api/v1/employees", json={**reordered_skills, "email": f"x{body['email']}"}, headers=headers2
    )
    assert swapped.status_code == 422


async def test_key_stored_with_a_raw_body_fingerprint_still_replays(service_client, connection):
    """Rows stored before fingerprints were canonical hashed the bytes as sent;
    the same bytes still replay until such keys expire."""
    client = await idem_client(service_client)
    key = uuid.uuid4().hex
    raw = b'{ "name": "Idem",  "email": "idem-legacy@example.com", "org_unit_path": "/group/idem" }'
    headers = {**ADMIN, "Idempotency-Key": key, "content-type": "application/json"}
    first = await client.post("/api/v1/employees", content=raw, headers=headers)
    assert first.status_code == 201
    legacy = hashlib.sha256(b"POST\0/api/v1/employees\0\0" + raw).hexdigest()
    await connection.execute(
        sa.text("UPDATE employee_lifecycle.idempotency_keys SET request_hash = :h WHERE key = :k"),
        {"h": legacy, "k": key},
    )
    again = await client.post("/api/v1/employees", content=raw, headers=headers)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"


def test_canonical_body():
    assert canonical_body(b'{"b": 1, "a": [1, 2]}') == canonical_body(b'{"a":[1,2],"b":1}') == b'{"a":[1,2],"b":1}'
    assert canonical_body(b'{"n": "caf\\u00e9"}') == '{"n":"café"}'.encode()
    assert canonical_body(b"not json {") == b"not json {"
    assert canonical_body(b"\xff\xfe") == b"\xff\xfe"
    assert canonical_body(b"[" * 100_000 + b"]" * 100_000) == b"[" * 100_000 + b"]" * 100_000  # too deep: as sent
    assert canonical_body(b"") == b""


async def test_failed_request_releases_the_key(service_client):
    client = await idem_client(service_client)
    headers = {**ADMIN, "Idempotency-Key": uuid.uuid4().hex}
    bad = {**new_employee(), "manager_id": str(uuid.uuid4())}
    assert (await client.post("/api/v1/employees", json=bad, headers=headers)).status_code == 422
    # The corrected request is new work under a key nothing was stored for.
    bad.pop("manager_id")
    assert (await client.post("/api/v1/employees", json=bad, headers=headers)).status_code == 201


async def test_keys_are_per_principal(service_client):
    client = await idem_client(service_client)
    key = uuid.uuid4().hex
    a = auth(org_unit="/group", roles=("group_admin",))
    b = auth(org_unit="/group", roles=("group_admin",))
    r1 = await client.post("/api/v1/employees", json=new_employee(), headers={**a, "Idempotency-Key": key})
    r2 = await client.post("/api/v1/employees", json=new_employee(), headers={**b, "Idempotency-Key": key})
    assert r1.status_code == r2.status_code == 201 and r1.json()["id"] != r2.json()["id"]


@pytest.fixture
async def committed_client(committed_database_url):
    """The service on a real engine: requests commit, as in production."""
    from services.employee_lifecycle.app import create_app
    from services.employee_lifecycle.settings import Settings

    settings = make_settings(Settings, database_url=committed_database_url, dispatcher_enabled=False)
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://el") as client,
    ):
        await ensure_org_unit(client, "/group/idem")
        yield client


async def test_concurrent_duplicates_create_one_record(committed_client):
    body, headers = new_employee(), {**ADMIN, "Idempotency-Key": uuid.uuid4().hex}
    responses = await asyncio.gather(
        *(committed_client.post("/api/v1/employees", json=body, headers=headers) for _ in range(5))
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    listed = (await committed_client.get("/api/v1/employees", params={"email": body["email"]}, headers=ADMIN)).json()
    assert len(listed["items"]) == 1
