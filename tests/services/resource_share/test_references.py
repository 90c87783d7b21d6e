"""Issue 16 in resource sharing: references in bodies and the support pool, for every role.

An opportunity, a resource or a support pool member a body names that does not
exist and one the caller may not see get the same 422 `unknown_reference`
(the same body but for `instance`), and nothing is stored. Opportunities are
asked of the opportunity service with the caller's token: here a fake of it
(`Opportunities`) applying the visibility rule of docs/architecture.md to that
token, served in-process. The support pool is seen, matched and assigned
within its organisation only (group admins see every organisation's).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sanlun.kernel.auth import Principal, can_see
from tests.services.resource_share.helpers import Person, share
from tests.support import TEST_SECRET
from tests.support_servers import closed_url

EAST, WEST = "/group/east", "/group/west"
OPPORTUNITY_URL = "http://opportunity.fake.test"
DETAIL = "The request names records that do not exist or that you may not see."
ROLES = {
    "rep": (EAST, f"{EAST}/team-1", ("rep",)),
    "manager": (EAST, f"{EAST}/team-1", ("manager",)),
    "org_admin_a": (EAST, EAST, ("org_admin",)),
    "org_admin_b": (WEST, WEST, ("org_admin",)),
    "group_admin": ("/group", "/group", ("group_admin",)),
    "integrator": (EAST, EAST, ("integrator",)),
}


@dataclass
class Opportunities:
    """The opportunity service's `GET /api/v1/opportunities/{id}`, with the caller's visibility."""

    known: dict[str, tuple[uuid.UUID, str]] = field(default_factory=dict)  # id -> (owner, unit)

    def add(self, owner: uuid.UUID, unit: str) -> str:
        opportunity_id = str(uuid.uuid4())
        self.known[opportunity_id] = (owner, unit)
        return opportunity_id

    async def _get(self, request: Request) -> JSONResponse:
        claims = jwt.decode(request.headers["authorization"].removeprefix("Bearer "), TEST_SECRET, algorithms=["HS256"])
        principal = Principal(claims["sub"], claims["org_unit_path"], frozenset(claims["roles"]))
        found = self.known.get(request.path_params["opportunity_id"])
        if found is None or not can_see(principal, owner_id=found[0], org_unit_path=found[1]):
            return JSONResponse({"title": "Not Found", "status": 404}, status_code=404)
        return JSONResponse({"id": request.path_params["opportunity_id"], "stage": "qualified"})

    @property
    def app(self) -> Starlette:
        return Starlette(routes=[Route("/api/v1/opportunities/{opportunity_id}", self._get)])


async def client_with(service_client, opportunities: Opportunities) -> httpx.AsyncClient:
    client = await service_client(
        "resource_share", opportunity_url=OPPORTUNITY_URL, employee_lifecycle_url=closed_url()
    )
    app = client._transport.app  # type: ignore[attr-defined]
    old = app.state.http
    app.state.http = httpx.AsyncClient(mounts={OPPORTUNITY_URL: httpx.ASGITransport(app=opportunities.app)})
    await old.aclose()
    return client


async def snapshot(connection) -> dict[str, Any]:
    """Every resource_share table's content (outbox included), to prove a refusal stored nothing."""
    tables = (
        await connection.execute(
            sa.text("SELECT table_name FROM information_schema.tables WHERE table_schema = 'resource_share'")
        )
    ).scalars()
    out = {}
    for table in sorted(set(tables) - {"alembic_version", "idempotency_keys"}):
        rows = "md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
        digest = await connection.execute(sa.text(f"SELECT count(*), {rows} FROM resource_share.{table} t"))
        out[table] = tuple(digest.one())
    return out


def comparable(response: httpx.Response) -> dict[str, Any]:
    return {k: v for k, v in response.json().items() if k not in ("instance", "request_id")}


def support_request(opportunity_id: str) -> dict[str, Any]:
    return {
        "opportunity_id": opportunity_id,
        "kind": "presales_engineer",
        "title": "Demo for Acme",
        "skills": ["storage"],
        "hours_needed": "8",
    }


async def assert_alike(connection, send, refs: dict[str, str], loc: list[Any], msg: str) -> None:
    before = await snapshot(connection)
    answers = {label: await send(ref) for label, ref in refs.items()}
    assert await snapshot(connection) == before
    for label, response in answers.items():
        assert response.status_code == 422, (label, response.text)
        body = comparable(response)
        assert (body["code"], body["detail"], body["errors"]) == (
            "unknown_reference",
            DETAIL,
            [{"loc": loc, "msg": msg}],
        )
    if len(answers) > 1:
        first, *rest = [comparable(r) for r in answers.values()]
        assert all(r == first for r in rest)


@pytest.mark.parametrize("role", list(ROLES))
async def test_unknown_and_invisible_references_answer_alike_and_store_nothing(service_client, connection, role):
    org, unit, roles = ROLES[role]
    caller = Person(unit, roles)
    other_org = WEST if org == EAST else EAST
    stranger = Person(f"{other_org}/team-1")
    opportunities = Opportunities()
    client = await client_with(service_client, opportunities)
    hidden_opportunity = opportunities.add(stranger.id, stranger.org_unit)
    private = await share(client, stranger, {"type": "solution_asset", "title": "Secret deck", "scope": "private"})
    mine = opportunities.add(caller.id, caller.org_unit)
    group_sees_all = org == "/group"

    def refs(invisible: str) -> dict[str, str]:
        return {"unknown": str(uuid.uuid4()), **({} if group_sees_all else {"invisible": invisible})}

    opportunity_msg = "no opportunity with this id that you may see"
    # A support request's opportunity.
    await assert_alike(
        connection,
        lambda ref: client.post("/api/v1/support-requests", json=support_request(ref), headers=caller.headers),
        refs(hidden_opportunity),
        ["body", "opportunity_id"],
        opportunity_msg,
    )
    # A resource request's resource and opportunity.
    shared = await share(client, stranger, {"type": "solution_asset", "title": "Open deck", "scope": "group"})
    await assert_alike(
        connection,
        lambda ref: client.post("/api/v1/resource-requests", json={"resource_id": ref}, headers=caller.headers),
        {"unknown": str(uuid.uuid4()), "invisible": private["id"]}
        if not group_sees_all
        else {"unknown": str(uuid.uuid4())},
        ["body", "resource_id"],
        "no resource with this id that you may see",
    )
    await assert_alike(
        connection,
        lambda ref: client.post(
            "/api/v1/resource-requests",
            json={"resource_id": shared["id"], "opportunity_id": ref},
            headers=caller.headers,
        ),
        refs(hidden_opportunity),
        ["body", "opportunity_id"],
        opportunity_msg,
    )
    # An introduction's opportunity (checked before the path).
    await assert_alike(
        connection,
        lambda ref: client.post(
            "/api/v1/introductions",
            json={"contact_id": str(uuid.uuid4()), "relationship_ids": [str(uuid.uuid4())], "opportunity_id": ref},
            headers=caller.headers,
        ),
        refs(hidden_opportunity),
        ["body", "opportunity_id"],
        opportunity_msg,
    )
    # The caller's own opportunity is accepted.
    created = await client.post("/api/v1/support-requests", json=support_request(mine), headers=caller.headers)
    assert created.status_code == 201, created.text


@pytest.mark.parametrize("role", ["manager", "org_admin_a", "group_admin"])
async def test_an_assignee_outside_the_requests_pool_answers_as_unknown(service_client, connection, role):
    _, unit, roles = ROLES[role]
    dispatcher = Person(unit, roles)
    requester, here, there = Person(f"{EAST}/team-1"), Person(f"{EAST}/presales"), Person(f"{WEST}/presales")
    opportunities = Opportunities()
    client = await client_with(service_client, opportunities)
    for member in (here, there):
        joined = await client.put(
            f"/api/v1/support-requests/pool/{member.id}",
            json={"skills": ["storage"], "weekly_capacity_hours": 40},
            headers=member.headers,
        )
        assert joined.status_code == 200, joined.text
    asked = await client.post(
        "/api/v1/support-requests",
        json=support_request(opportunities.add(requester.id, requester.org_unit)),
        headers=requester.headers,
    )
    url = f"/api/v1/support-requests/{asked.json()['id']}"
    matches = await client.get(f"{url}/matches", headers=dispatcher.headers)
    assert [m["employee_id"] for m in matches.json()["items"]] == [str(here.id)]

    async def assign(ref: str) -> httpx.Response:
        current = await client.get(url, headers=dispatcher.headers)
        return await client.post(
            f"{url}/assign",
            json={"assignee_id": ref},
            headers={**dispatcher.headers, "If-Match": current.headers["etag"]},
        )

    await assert_alike(
        connection,
        assign,
        {"unknown": str(uuid.uuid4()), "other_organisation": str(there.id)},
        ["body", "assignee_id"],
        "no support pool member with this id that you may see",
    )
    assert (await assign(str(here.id))).status_code == 200


@pytest.mark.parametrize("role", list(ROLES))
async def test_the_support_pool_is_seen_within_its_organisation(service_client, role):
    org, unit, roles = ROLES[role]
    caller = Person(unit, roles)
    client = await client_with(service_client, Opportunities())
    members = {EAST: Person(f"{EAST}/presales"), WEST: Person(f"{WEST}/presales")}
    for member in members.values():
        joined = await client.put(
            f"/api/v1/support-requests/pool/{member.id}",
            json={"skills": ["storage"], "industries": ["retail"], "weekly_capacity_hours": 40},
            headers=member.headers,
        )
        assert joined.status_code == 200, joined.text
    listed = await client.get("/api/v1/support-requests/pool", headers=caller.headers)
    assert listed.status_code == 200
    seen = {m["employee_id"] for m in listed.json()["items"]}
    expected = {str(m.id) for o, m in members.items() if org in ("/group", o)}
    assert seen == expected


async def test_a_pool_member_does_not_see_another_organisations_open_requests(service_client):
    opportunities = Opportunities()
    client = await client_with(service_client, opportunities)
    requester, there = Person(f"{EAST}/team-1"), Person(f"{WEST}/presales")
    joined = await client.put(
        f"/api/v1/support-requests/pool/{there.id}",
        json={"skills": ["storage"], "industries": [], "weekly_capacity_hours": 40},
        headers=there.headers,
    )
    assert joined.status_code == 200, joined.text
    asked = await client.post(
        "/api/v1/support-requests",
        json=support_request(opportunities.add(requester.id, requester.org_unit)),
        headers=requester.headers,
    )
    read = await client.get(f"/api/v1/support-requests/{asked.json()['id']}", headers=there.headers)
    assert read.status_code == 404
    listed = await client.get("/api/v1/support-requests", headers=there.headers)
    assert listed.json()["items"] == []
