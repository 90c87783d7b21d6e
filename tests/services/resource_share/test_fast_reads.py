"""The prebuilt reads (`resources/`, `support/`, `requests/`, `introductions/`
and `influence/reads.py`) answer byte for byte what the ORM path answers: the
same rows, in the same order, page by page, with the same cursors, for every
kind of principal and filter. The ORM path is the oracle: each area's
`repository.list_statement`, paginated by `sanlun.kernel.pagination.paginate`
and shown by `service.present`, serialised as the route's `Page[...]` model.

The data is laid out so each sharing rule decides some row: every scope, a
relationship of each disclosure with a live and a lapsed consent, requests and
introductions on both sides of their expiry and due time, open requests a pool
member may pick up, ties on `created_at`. A mutation of each rule must make
the comparison fail, so the matrix is known to look at what it claims to.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from starlette.requests import Request

from sanlun.kernel.auth import Principal
from sanlun.kernel.clock import Clock
from sanlun.kernel.pagination import Page, PageParams, paginate
from sanlun.kernel.reads import PrebuiltCache
from services.resource_share import db
from services.resource_share.influence.models import Profile
from services.resource_share.introductions import reads as introduction_reads
from services.resource_share.introductions import repository as introductions
from services.resource_share.introductions import service as introduction_service
from services.resource_share.introductions.models import Introduction
from services.resource_share.introductions.schemas import IntroductionRead
from services.resource_share.people.models import Person
from services.resource_share.requests import reads as request_reads
from services.resource_share.requests import repository as requests
from services.resource_share.requests import service as request_service
from services.resource_share.requests.models import ResourceRequest
from services.resource_share.requests.schemas import RequestRead
from services.resource_share.resources import reads as resource_reads
from services.resource_share.resources import repository as resources
from services.resource_share.resources import service as resource_service
from services.resource_share.resources.models import Resource
from services.resource_share.resources.schemas import RELATIONSHIP_FIELDS, ResourceRead
from services.resource_share.support import reads as support_reads
from services.resource_share.support import repository as support
from services.resource_share.support import service as support_service
from services.resource_share.support.models import SupportPerson, SupportRequest
from services.resource_share.support.schemas import SupportRequestRead
from tests.support import auth

NOW = dt.datetime(2026, 11, 27, 9, 30, tzinfo=dt.UTC)
TODAY = NOW.date()
E1, E2, W2 = "/group/east/team-1", "/group/east/team-2", "/group/west/team-2"
ALICE, BOB, CAROL, DAVE, PAT, IVY = (uuid.uuid4() for _ in range(6))
UNIT = {ALICE: E1, BOB: E1, CAROL: W2, DAVE: E2, PAT: E2, IVY: W2}
OPPORTUNITY = uuid.uuid4()

PRINCIPALS = {
    "alice (rep)": Principal(str(ALICE), E1, frozenset({"rep"})),
    "carol (rep, west)": Principal(str(CAROL), W2, frozenset({"rep"})),
    "pat (rep, active pool member)": Principal(str(PAT), E2, frozenset({"rep"})),
    "ivy (rep, inactive pool member)": Principal(str(IVY), W2, frozenset({"rep"})),
    "bob as manager": Principal(str(BOB), E1, frozenset({"manager", "rep"})),
    "east manager": Principal(str(uuid.uuid4()), "/group/east", frozenset({"manager"})),
    "org admin": Principal(str(uuid.uuid4()), "/group/east", frozenset({"org_admin"})),
    "group admin": Principal(str(uuid.uuid4()), "/group", frozenset({"group_admin"})),
    # Admins who own and ask for things themselves: their own rows, lapsed consents too, by role.
    "dave as group admin": Principal(str(DAVE), E2, frozenset({"group_admin"})),
    "carol as org admin": Principal(str(CAROL), W2, frozenset({"org_admin"})),
    "rep above every organisation": Principal(str(uuid.uuid4()), "/group", frozenset({"rep"})),
    "integrator (no employee)": Principal("integration-bot", "/group/west", frozenset({"integrator"})),
}


class FrozenClock(Clock):
    """The business clock stopped at NOW: the fast path and the oracle read the same instant."""

    def now(self) -> dt.datetime:
        return NOW


def _at(minutes: int) -> dt.datetime:
    return NOW - dt.timedelta(days=30) + dt.timedelta(minutes=minutes)


def _resources() -> list[dict[str, Any]]:
    rows = []
    owners = [ALICE, BOB, CAROL, DAVE, PAT]
    types = ["reference_case", "expert", "relationship", "solution_asset", "event_slot", "relationship"]
    scopes = ["private", "team", "organization", "group", "public"]
    for i in range(60):
        owner, kind, scope = owners[i % 5], types[i % 6], scopes[(i // 2) % 5]
        row: dict[str, Any] = {
            "id": uuid.uuid4(),
            "type": kind,
            "title": f"华为 case {i}" if i % 11 == 0 else f"Resource {i}",
            "summary": "storage migration" if i % 4 == 0 else "warehouse automation",
            "owner_id": owner,
            "org_unit_path": UNIT[owner],
            "scope": scope,
            "industries": ["banking", "manufacturing"] if i % 3 == 0 else [("banking", "retail")[i % 2]],
            "solutions": ["GTX Pro storage array"] if i % 2 else [],
            "usage_count": i,
            "rating_avg": (None, Decimal("4.60"), Decimal("3.75"), Decimal("5.00"))[i % 4],
            "rating_count": i % 4,
            # Pairs share a creation time: the id breaks the tie.
            "created_at": _at(i // 2),
            "updated_at": _at(i),
            "version": 1 + i % 3,
            **dict.fromkeys(RELATIONSHIP_FIELDS),
        }
        if kind == "relationship":
            row.update(
                contact_id=uuid.uuid4(),
                account_id=None if i % 4 == 0 else uuid.uuid4(),
                strength=40 + i,
                # Relationships are every third row: each disclosure meets each consent.
                disclosure=("identity", "organization", "anonymous")[(i // 9) % 3],
                shared=(None, {}, {"title": "CFO", "business_unit": "IT"})[(i // 3 + 1) % 3],
                consent_given_on=TODAY - dt.timedelta(days=200),
                # Some lapsed (hidden from all but the owner), some lapsing today (still live).
                consent_expires_on=TODAY + dt.timedelta(days=(-3, 0, 90)[(i // 3) % 3]),
            )
        rows.append(row)
    return rows


def _support_requests() -> list[dict[str, Any]]:
    rows = []
    requesters = [ALICE, CAROL, DAVE, BOB, PAT]
    for i in range(30):
        requester, status = requesters[i % 5], ("open", "assigned", "fulfilled", "cancelled", "open")[i % 5]
        assignee = None if status == "open" and i % 2 else (PAT, ALICE, CAROL, IVY)[i % 4]
        rows.append(
            {
                "id": uuid.uuid4(),
                "opportunity_id": OPPORTUNITY if i % 6 == 0 else uuid.uuid4(),
                "requester_id": requester,
                "requester_org_unit_path": UNIT[requester],
                "kind": ("presales_engineer", "solution_consultant", "expert_time")[i % 3],
                "title": f"Demo {i}",
                "skills": ["storage", "vmware"][: 1 + i % 2],
                "industry": None if i % 4 == 0 else "banking",
                "urgency": ("low", "normal", "high", "critical")[i % 4],
                "deal_amount": None if i % 3 == 0 else Decimal("1234.5") * (i + 1),
                "deal_currency": None if i % 3 == 0 else ("CNY", "USD")[i % 2],
                "hours_needed": Decimal("4.5") + i,
                "due_date": None if i % 2 else TODAY + dt.timedelta(days=i),
                "status": status,
                "requested_at": _at(i * 7),
                "requester_stage": (None, "L1_SUBSISTENCE", "L2_COMFORTABLE", "L3_AFFLUENT")[i % 4],
                "assignee_id": None if status == "open" and assignee is None else assignee,
                "assigned_at": None if status == "open" else _at(i * 7 + 60),
                "fulfilled_at": _at(i * 7 + 120) if status == "fulfilled" else None,
                "won": status == "fulfilled" and i % 2 == 0,
                "created_at": _at(i // 2),
                "updated_at": _at(i),
                "version": 1,
            }
        )
    return rows


def _requests(resource_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    people = [ALICE, BOB, CAROL, DAVE, PAT]
    statuses = ["requested", "approved", "declined", "fulfilled", "rated", "requested"]
    for i in range(36):
        resource = resource_rows[(i * 7) % len(resource_rows)]
        requester = people[(i + 2) % 5]
        status = statuses[i % 6]
        rows.append(
            {
                "id": uuid.uuid4(),
                "resource_id": resource["id"],
                "resource_type": resource["type"],
                "owner_id": resource["owner_id"],
                "owner_org_unit_path": resource["org_unit_path"],
                "owner_disclosure": resource.get("disclosure") or "identity",
                "requester_id": requester,
                "requester_org_unit_path": UNIT[requester],
                "opportunity_id": OPPORTUNITY if i % 5 == 0 else None,
                "message": f"For deal {i}",
                "status": status,
                "requested_at": _at(i * 5),
                # Undecided ones on both sides of their due time and their expiry.
                "due_at": NOW + dt.timedelta(hours=(-5, 7)[i % 2]),
                "expires_at": NOW + dt.timedelta(hours=(-1, 30, 200)[i % 3]),
                "decided_by": None if status == "requested" else resource["owner_id"],
                "decided_at": None if status == "requested" else _at(i * 5 + 30),
                "decision_note": "" if status == "requested" else "ok",
                "fulfilled_at": _at(i * 5 + 90) if status in ("fulfilled", "rated") else None,
                "rating": 1 + i % 5 if status == "rated" else None,
                "rating_comment": "useful" if status == "rated" else "",
                "rated_at": _at(i * 5 + 120) if status == "rated" else None,
                "outcome": ("contributed_to_win", "no_impact")[i % 2] if status == "rated" else None,
                "created_at": _at(i // 3),
                "updated_at": _at(i),
                "version": 1 + i % 2,
            }
        )
    return rows


def _introductions(resource_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    relationships = [r for r in resource_rows if r["type"] == "relationship"]
    rows = []
    people = [ALICE, BOB, CAROL, DAVE, PAT]
    for i in range(30):
        rel = relationships[i % len(relationships)]
        requester = people[(i + 1) % 5]
        rows.append(
            {
                "id": uuid.uuid4(),
                "requester_id": requester,
                "requester_org_unit_path": UNIT[requester],
                "connector_id": rel["owner_id"],
                "connector_org_unit_path": rel["org_unit_path"],
                "connector_disclosure": rel["disclosure"],
                "relationship_id": rel["id"],
                "relationship_ids": [rel["id"], uuid.uuid4()][: 1 + i % 2],
                "target_contact_id": rel["contact_id"],
                "target_account_id": rel["account_id"],
                "strength": Decimal("0.4321") + Decimal(i) / 100,
                "hops": 1 + i % 3,
                "opportunity_id": OPPORTUNITY if i % 4 == 0 else None,
                "message": "Could you introduce me?",
                "status": ("requested", "accepted", "declined", "introduced", "failed", "requested")[i % 6],
                "requested_at": _at(i * 3),
                "expires_at": NOW + dt.timedelta(hours=(-2, 40)[i % 2]),
                "decided_at": None if i % 6 in (0, 5) else _at(i * 3 + 10),
                "completed_at": _at(i * 3 + 20) if i % 6 in (3, 4) else None,
                "note": "",
                "created_at": _at(i // 2),
                "updated_at": _at(i),
                "version": 1,
            }
        )
    return rows


async def _seed(connection: AsyncConnection) -> dict[str, list[dict[str, Any]]]:
    resource_rows = _resources()
    seeded = {
        "resources": resource_rows,
        "support": _support_requests(),
        "requests": _requests(resource_rows),
        "introductions": _introductions(resource_rows),
    }
    await connection.execute(sa.insert(Resource.__table__), resource_rows)
    await connection.execute(sa.insert(SupportRequest.__table__), seeded["support"])
    await connection.execute(sa.insert(ResourceRequest.__table__), seeded["requests"])
    await connection.execute(sa.insert(Introduction.__table__), seeded["introductions"])
    pool = [(PAT, True), (IVY, False)]
    await connection.execute(
        sa.insert(SupportPerson.__table__),
        [
            {
                "employee_id": who,
                "org_unit_path": UNIT[who],
                "skills": ["storage"],
                "industries": ["banking"],
                "weekly_capacity_hours": Decimal("20.0"),
                "active": active,
            }
            for who, active in pool
        ],
    )
    return seeded


@dataclass(frozen=True)
class ListRoute:
    path: str
    model: type[BaseModel]
    table: Any
    # (principal, query) -> the ORM list statement; (row, principal) -> the read model
    statement: Callable[[Principal, dict[str, Any]], sa.Select[Any]]
    present: Callable[[Any, Principal], BaseModel]
    queries: list[dict[str, str]]


def _uuid(query: dict[str, str], name: str) -> uuid.UUID | None:
    return uuid.UUID(query[name]) if name in query else None


ROUTES = {
    "resources": ListRoute(
        "/api/v1/resources",
        ResourceRead,
        Resource,
        lambda p, q: resources.list_statement(
            p,
            today=TODAY,
            type=q.get("type"),
            industry=q.get("industry"),
            solution=q.get("solution"),
            organization=q.get("organization"),
            owner_id=_uuid(q, "owner_id"),
            q=q.get("q"),
        ),
        lambda r, p: resource_service.present(r, p, today=TODAY),
        [
            {},
            {"type": "reference_case", "industry": "banking"},  # the workspace's
            {"type": "expert", "industry": "banking"},
            {"type": "relationship"},
            {"industry": "manufacturing"},
            {"solution": "GTX Pro storage array"},
            {"organization": "/group/east"},
            {"organization": "/group/west/team-2", "type": "relationship"},
            {"owner_id": str(CAROL)},
            {"owner_id": str(ALICE), "type": "relationship"},
            {"q": "storage"},
        ],
    ),
    "support": ListRoute(
        "/api/v1/support-requests",
        SupportRequestRead,
        SupportRequest,
        lambda p, q: support.list_statement(
            p, status=q.get("status"), opportunity_id=_uuid(q, "opportunity_id"), mine=q.get("mine") == "true"
        ),
        lambda r, p: support_service.present(r),
        [
            {},
            {"mine": "true"},  # the workspace's
            {"status": "open"},
            {"status": "assigned", "mine": "true"},
            {"opportunity_id": str(OPPORTUNITY)},
        ],
    ),
    "requests": ListRoute(
        "/api/v1/resource-requests",
        RequestRead,
        ResourceRequest,
        lambda p, q: requests.list_statement(
            p,
            role=q.get("role"),
            status=q.get("status"),
            resource_id=_uuid(q, "resource_id"),
            opportunity_id=_uuid(q, "opportunity_id"),
            now=NOW,
        ),
        lambda r, p: request_service.present(r, p, now=NOW),
        [
            {},
            {"role": "owner", "status": "requested"},  # the workspace's
            {"role": "owner"},
            {"role": "requester"},
            {"status": "expired"},
            {"status": "approved"},
            {"opportunity_id": str(OPPORTUNITY)},
        ],
    ),
    "introductions": ListRoute(
        "/api/v1/introductions",
        IntroductionRead,
        Introduction,
        lambda p, q: introductions.list_statement(p, role=q.get("role"), status=q.get("status"), now=NOW),
        lambda r, p: introduction_service.present(r, p, now=NOW),
        [
            {},
            {"role": "connector", "status": "requested"},  # the workspace's
            {"role": "requester"},
            {"status": "expired"},
            {"status": "introduced"},
        ],
    ),
}


def _headers(principal: Principal) -> dict[str, str]:
    return auth(employee=principal.subject, org_unit=principal.org_unit_path, roles=tuple(principal.roles))


def _request(app: Any, path: str, query: list[tuple[str, str]]) -> Request:
    """What `paginate` reads of a request: the app's cursor codec, the path and the query."""
    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "server": ("resource_share", 80),
        "root_path": "",
        "path": path,
        "query_string": urlencode(query).encode(),
        "headers": [],
        "app": app,
    }
    return Request(scope)


async def _mismatches(client: Any, connection: AsyncConnection, route: ListRoute, limit: int = 4) -> list[Any]:
    """Every (principal, query, page) whose fast answer differs, byte for byte,
    from the ORM path's; and the rows each path saw in all."""
    app = client._transport.app
    wrong: list[Any] = []
    seen = 0
    async with AsyncSession(bind=connection) as session:
        for (who, principal), query in itertools.product(PRINCIPALS.items(), route.queries):
            cursor: str | None = None
            for number in range(30):
                params = [*query.items(), ("limit", str(limit)), *([("cursor", cursor)] if cursor else [])]
                fast = await client.get(route.path, params=params, headers=_headers(principal))
                assert fast.status_code == 200, (who, query, fast.text)
                rows, next_cursor = await paginate(
                    session,
                    _request(app, route.path, params),
                    route.statement(principal, query),
                    order_by=(route.table.created_at, route.table.id),
                    params=PageParams(limit=limit, cursor=cursor),
                )
                oracle = Page[route.model](  # type: ignore[name-defined]
                    items=[route.present(r, principal) for r in rows], next_cursor=next_cursor
                )
                if fast.content != oracle.model_dump_json().encode():
                    wrong.append((who, query, number, fast.json(), oracle.model_dump(mode="json")))
                    break
                seen += len(rows)
                cursor = next_cursor
                if cursor is None:
                    break
    return wrong or [seen]


@pytest.fixture
async def seeded(service_client, connection):
    client = await service_client("resource_share", clock=FrozenClock())
    return client, await _seed(connection)


@pytest.mark.parametrize("name", sorted(ROUTES))
async def test_fast_lists_match_the_orm_path_for_every_principal_and_filter(seeded, connection, name):
    client, _ = seeded
    outcome = await _mismatches(client, connection, ROUTES[name])
    assert len(outcome) == 1 and isinstance(outcome[0], int), outcome[:1]
    # Not vacuous: the principals see many rows between them, over several pages.
    assert outcome[0] > 150, outcome


async def test_the_data_reaches_every_rule(seeded, connection):
    """The rows the matrix compares include each case a rule decides."""
    client, data = seeded
    group_admin = _headers(PRINCIPALS["group admin"])
    # Everything, and Dave's own relationships whose consent lapsed (hidden from everyone else).
    dave = _headers(PRINCIPALS["dave as group admin"])
    everything = (await client.get("/api/v1/resources", params={"limit": 200}, headers=dave)).json()["items"]
    relationships = [r["relationship"] for r in everything if r["relationship"]]
    assert {r["disclosure"] for r in relationships} == {"identity", "organization", "anonymous"}
    assert {r["consent_expired"] for r in relationships} == {True, False}
    assert any(r["shared"] == {} for r in relationships) and any(r["shared"] for r in relationships)
    assert {r["scope"] for r in everything} == {"private", "team", "organization", "group", "public"}
    assert any(isinstance(r["rating_avg"], float) for r in everything)
    alice = _headers(PRINCIPALS["alice (rep)"])
    seen_by_alice = (await client.get("/api/v1/resources", params={"limit": 200}, headers=alice)).json()["items"]
    assert any(r["owner_id"] is None for r in seen_by_alice)  # an undisclosed owner
    assert any(r["org_unit_path"] == "/group/west" for r in seen_by_alice)  # only their organisation
    for path, statuses in (
        ("/api/v1/resource-requests", {"expired", "requested", "approved", "declined", "fulfilled", "rated"}),
        ("/api/v1/introductions", {"expired", "requested", "accepted", "declined", "introduced", "failed"}),
    ):
        items = (await client.get(path, params={"limit": 200}, headers=group_admin)).json()["items"]
        assert {i["status"] for i in items} == statuses, path
    pat = _headers(PRINCIPALS["pat (rep, active pool member)"])
    desk = (await client.get("/api/v1/support-requests", params={"limit": 200}, headers=pat)).json()["items"]
    assert any(r["requester_id"] != str(PAT) and r["assignee_id"] != str(PAT) for r in desk)  # picked up from the pool
    assert len(data["resources"]) == 60


# Each mutation drops or bends one rule of the fast path (a piece of a
# statement, or of what a row shows); the comparison must notice.
def _drop_connector_side(original: Callable[..., Any]) -> Callable[..., Any]:
    def bent(shape: Any, *, owner_column: Any, org_unit_column: Any) -> Any:
        if owner_column is introduction_reads.INTRO.c.connector_id:
            return sa.false()
        return original(shape, owner_column=owner_column, org_unit_column=org_unit_column)

    return bent


def _anything(*args: Any, **kwargs: Any) -> Any:
    return sa.true()


def _everyone(*args: Any, **kwargs: Any) -> bool:
    return True


# name -> (list, reads module, (module, attribute) bent, how)
MUTATIONS: dict[str, tuple[str, Any, tuple[Any, str], Callable[[Any], Any]]] = {
    "resources: team scope dropped": (
        "resources",
        resource_reads,
        (resource_reads, "_in_scope"),
        lambda original: lambda shape: sa.and_(original(shape), resource_reads.RES.c.scope != "team"),
    ),
    "resources: lapsed consents shown": (
        "resources",
        resource_reads,
        (resource_reads, "_live"),
        lambda original: _anything,
    ),
    "resources: undisclosed owners shown": (
        "resources",
        resource_reads,
        (resource_reads, "can_see"),
        lambda original: _everyone,
    ),
    "support: pool members see no open requests": (
        "support",
        support_reads,
        (support_reads, "_visible"),
        lambda original: lambda shape: original(dataclasses.replace(shape, organization=None)),
    ),
    "requests: expiry ignored": (
        "requests",
        request_reads,
        (db, "status_is"),
        lambda original: (
            lambda table, shape: (
                table.c.status == "requested" if shape in ("expired", "requested") else original(table, shape)
            )
        ),
    ),
    "requests: undisclosed owners shown": (
        "requests",
        request_reads,
        (request_reads, "can_see"),
        lambda original: _everyone,
    ),
    "introductions: connector's side dropped": (
        "introductions",
        introduction_reads,
        (db, "seen_by"),
        _drop_connector_side,
    ),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
async def test_the_comparison_fails_when_a_rule_is_bent(seeded, connection, monkeypatch, mutation):
    client, _ = seeded
    name, reads, (module, attribute), bend = MUTATIONS[mutation]
    monkeypatch.setattr(module, attribute, bend(getattr(module, attribute)))
    monkeypatch.setattr(reads, "LIST", PrebuiltCache(reads._list))  # statements built with the bent rule
    outcome = await _mismatches(client, connection, ROUTES[name])
    assert not isinstance(outcome[0], int), f"{mutation}: the comparison did not notice"


async def test_a_cursor_of_another_query_or_forged_answers_400(seeded):
    client, _ = seeded
    admin = _headers(PRINCIPALS["group admin"])
    for path in (r.path for r in ROUTES.values()):
        first = (await client.get(path, params={"limit": 1}, headers=admin)).json()
        assert first["next_cursor"], path
        replayed = await client.get(
            path, params={"limit": 1, "mine": "true", "cursor": first["next_cursor"]}, headers=admin
        )
        assert replayed.status_code == 400, path
        forged = await client.get(path, params={"limit": 1, "cursor": first["next_cursor"][:-2]}, headers=admin)
        assert forged.status_code == 400, path


async def test_own_influence_and_demand_answer_as_the_orm_path(seeded, connection):
    """Yourself: the prebuilt statements. Your manager, for the same person:
    the ORM path (people view, then the same figures). Byte for byte alike."""
    client, _ = seeded
    await connection.execute(
        sa.insert(Person.__table__),
        [{"employee_id": who, "org_unit_path": UNIT[who], "updated_at": NOW} for who in (ALICE, CAROL, DAVE, PAT)],
    )
    await connection.execute(
        sa.insert(Profile.__table__),
        [{"id": uuid.uuid4(), "employee_id": DAVE, "org_unit_path": E2, "public": False, "headline": "Storage"}],
    )
    group_admin = _headers(PRINCIPALS["group admin"])
    compared = 0
    for who in (ALICE, CAROL, DAVE, PAT):
        yourself = auth(employee=str(who), org_unit=UNIT[who], roles=("rep",))
        for path, params in (("influence", {}), ("demand", {}), ("demand", {"window_days": "3"})):
            url = f"/api/v1/resources/people/{who}/{path}"
            own = await client.get(url, params=params, headers=yourself)
            line = await client.get(url, params=params, headers=group_admin)
            assert own.status_code == line.status_code == 200, (own.text, line.text)
            assert own.content == line.content, (who, path, params)
            compared += 1
    figures = (await client.get(f"/api/v1/resources/people/{ALICE}/demand", headers=group_admin)).json()
    assert figures["resource_requests"]["total"] and figures["introductions"]["total"]
    assert compared == 12
    # Someone else's figures are not the fast path's to show: outside your line they stay 404.
    carol = auth(employee=str(CAROL), org_unit=W2, roles=("rep",))
    assert (await client.get(f"/api/v1/resources/people/{ALICE}/demand", headers=carol)).status_code == 404
    assert (await client.get(f"/api/v1/resources/people/{ALICE}/influence", headers=carol)).status_code == 404


async def test_read_rows_serialise_as_the_read_models(seeded, connection):
    """The fast rows are plain data pydantic-core writes with no validation:
    each must come out as its read model writes it (a UUID, a Decimal, a
    date, a timestamp, an enum, a nested object)."""
    client, _ = seeded
    admin = _headers(PRINCIPALS["group admin"])
    for route in ROUTES.values():
        body = (await client.get(route.path, params={"limit": 200}, headers=admin)).content
        page = Page[route.model].model_validate_json(body)  # type: ignore[name-defined]
        assert page.model_dump_json().encode() == body, route.path


async def test_a_caller_without_an_employee_id_has_no_support_requests_of_their_own(seeded, connection):
    """`?mine=true` for an integrator (no employee id) is an empty page on
    both paths, not the unassigned requests it may see: a missing id matches
    nobody, never a null assignee."""
    client, _ = seeded
    integrator = Principal("integration-bot", "/group/east", frozenset({"integrator"}))
    headers = _headers(integrator)
    seen = (await client.get("/api/v1/support-requests", params={"limit": 200}, headers=headers)).json()["items"]
    assert any(r["assignee_id"] is None for r in seen)  # not vacuous: unassigned requests are in view
    for query in ({"mine": "true"}, {"mine": "true", "status": "open"}):
        mine = await client.get("/api/v1/support-requests", params={**query, "limit": 200}, headers=headers)
        assert mine.status_code == 200, mine.text
        assert mine.json() == {"items": [], "next_cursor": None}, query
    async with AsyncSession(bind=connection) as session:
        statement = support.list_statement(integrator, status=None, opportunity_id=None, mine=True)
        assert (await session.execute(statement)).scalars().all() == []
