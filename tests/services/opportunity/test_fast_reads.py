"""The prebuilt reads (`opportunities/reads.py`) answer exactly what the ORM
path answers: the same rows, in the same order, page by page, serialised as
`OpportunityRead` serialises them, for every kind of principal and filter;
the catalogue the recommendations rank (`recommendations/repository.py`) is
the one the solutions' ORM statements give a deal's organisation."""

import itertools
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal
from services.opportunity.domain.stages import Stage
from services.opportunity.opportunities import repository
from services.opportunity.opportunities.models import Opportunity
from services.opportunity.opportunities.schemas import read_model
from services.opportunity.recommendations import repository as recommendations
from services.opportunity.solutions import repository as solutions
from services.opportunity.solutions.models import Solution
from tests.services.opportunity.helpers import ADMIN, OPPORTUNITIES
from tests.support import auth

pytestmark = pytest.mark.usefixtures("any_id_exists")

EAST, WEST = "/group/east/team-1", "/group/west/team-2"
ALICE, BOB, CAROL = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
ACCOUNT = uuid.uuid4()


def _rows() -> list[dict]:
    rows = []
    stages = ["lead", "qualified", "proposal", "won", "lost"]
    for i in range(36):
        owner = (ALICE, BOB, CAROL, None)[i % 4]
        stage = stages[i % 5]
        row = {
            "external_id": f"fast-{i}",
            "name": f"Deal {i:02d} 华为" if i % 7 == 0 else f"Deal {i:02d}",
            "owner_id": str(owner) if owner else None,
            "org_unit_path": EAST if i % 3 else WEST,
            "stage": stage,
            "industry": ("banking", "retail")[i % 2],
        }
        if i % 4 != 3 or stage == "won":
            row["amount"] = {"amount": f"{1000 + 37 * i}.{i % 100:02d}", "currency": ("CNY", "USD")[i % 2]}
        if stage in ("won", "lost"):
            row["closed_on"] = f"2026-0{1 + i % 9}-1{i % 10}"
        if i % 5 == 1:
            row["expected_close_date"] = f"2027-0{1 + i % 9}-01"
        if i % 6 == 1:
            row["team"] = [{"employee_id": str(ALICE if owner != ALICE else BOB), "role": "presales"}]
        if i % 9 == 0:
            row["origin"] = {"type": "incubation_item", "id": f"item-{i}"}
            row["account_id"] = str(ACCOUNT)
        if i % 8 == 0:
            row["win_probability"] = "0.25"
        rows.append(row)
    return rows


PRINCIPALS = {
    "alice (rep)": Principal(str(ALICE), EAST, frozenset({"rep"})),
    "carol (rep, west)": Principal(str(CAROL), WEST, frozenset({"rep"})),
    "east manager": Principal(str(uuid.uuid4()), "/group/east", frozenset({"manager"})),
    "bob as manager": Principal(str(BOB), EAST, frozenset({"manager", "rep"})),
    "org admin": Principal(str(uuid.uuid4()), "/group/east", frozenset({"org_admin"})),
    "group admin": Principal(str(uuid.uuid4()), "/group", frozenset({"group_admin"})),
    "no employee": Principal("integration-bot", "/group/west", frozenset({"integrator"})),
}
QUERIES = [
    {},
    {"sort": "-created_at"},
    {"sort": "name"},
    {"sort": "-amount"},
    {"sort": "expected_close_date"},
    {"stage": ["won", "lost"], "sort": "-updated_at"},
    {"owner_id": str(BOB)},
    {"team_member_id": str(ALICE)},
    {"unassigned": "true"},
    {"unassigned": "false", "industry": "banking"},
    {"account_id": str(ACCOUNT), "origin_type": "incubation_item"},
    {"org_unit": "/group/east"},
    {"closed_from": "2026-03-01", "closed_to": "2026-08-31"},
    {"amount_min": "1200", "amount_max": "2000.5"},
    {"close_from": "2027-01-01"},
]


def _headers(principal: Principal) -> dict[str, str]:
    return auth(employee=principal.subject, org_unit=principal.org_unit_path, roles=tuple(principal.roles))


def _orm_filters(query: dict) -> dict:
    """The ORM `list_statement`'s arguments for one query."""
    out: dict = {}
    for name, value in query.items():
        if name == "sort":
            continue
        if name == "stage":
            out["stages"] = [Stage(v) for v in value]
        elif name in ("owner_id", "team_member_id", "account_id"):
            out[name] = uuid.UUID(value)
        elif name == "unassigned":
            out[name] = value == "true"
        elif name in ("closed_from", "closed_to", "close_from", "close_to"):
            import datetime as dt

            out[name] = dt.date.fromisoformat(value)
        elif name in ("amount_min", "amount_max"):
            from decimal import Decimal

            out[name] = Decimal(value)
        else:
            out[name] = value
    return out


async def _orm_answer(connection, principal: Principal, query: dict) -> list[dict]:
    sort = query.get("sort", "created_at")
    key = sort.lstrip("-")
    stmt = repository.list_statement(principal, sort=key, **_orm_filters(query))
    column = repository.SORTS[key]
    order = [column.desc(), Opportunity.id.desc()] if sort.startswith("-") else [column, Opportunity.id]
    async with AsyncSession(bind=connection) as session:
        rows = list((await session.execute(stmt.order_by(*order))).scalars())
        teams = await repository.teams(session, [r.id for r in rows])
        return [read_model(r, teams[r.id]).model_dump(mode="json") for r in rows]


async def test_fast_list_and_get_match_the_orm_for_every_principal_and_filter(service_client, connection):
    client = await service_client("opportunity")
    loaded = await client.post(f"{OPPORTUNITIES}:bulk-upsert", json={"items": _rows()}, headers=ADMIN)
    assert loaded.status_code == 200 and loaded.json()["failed"] == 0, loaded.text
    checked = 0
    for (who, principal), query in itertools.product(PRINCIPALS.items(), QUERIES):
        expected = await _orm_answer(connection, principal, query)
        params = {**query, "limit": 4}
        got: list[dict] = []
        for _ in range(20):
            page = await client.get(OPPORTUNITIES, params=params, headers=_headers(principal))
            assert page.status_code == 200, (who, query, page.text)
            got += page.json()["items"]
            if page.json()["next_cursor"] is None:
                break
            params = {**params, "cursor": page.json()["next_cursor"]}
        assert got == expected, (who, query)
        checked += len(got)
        for item in expected[:3]:
            one = await client.get(f"{OPPORTUNITIES}/{item['id']}", headers=_headers(principal))
            assert one.status_code == 200 and one.json() == item, (who, item["id"])
            assert one.headers["etag"] == f'"{item["version"]}"'
    # The matrix is not vacuous: most principals see rows, with teams, origins and money among them.
    assert checked > 300
    everything = await _orm_answer(connection, PRINCIPALS["group admin"], {})
    assert any(i["team"] for i in everything) and any(i["origin"] for i in everything)
    assert any(i["amount"] is None for i in everything) and any("华为" in i["name"] for i in everything)


async def test_fast_get_hides_what_the_principal_may_not_see(service_client, connection):
    client = await service_client("opportunity")
    loaded = await client.post(f"{OPPORTUNITIES}:bulk-upsert", json={"items": _rows()}, headers=ADMIN)
    assert loaded.status_code == 200
    west_only = (
        await connection.execute(
            sa.select(Opportunity.id).where(Opportunity.org_unit_path == WEST, Opportunity.owner_id == CAROL)
        )
    ).scalar()
    for who in ("alice (rep)", "east manager"):
        hidden = await client.get(f"{OPPORTUNITIES}/{west_only}", headers=_headers(PRINCIPALS[who]))
        assert hidden.status_code == 404, who
        assert hidden.headers["content-type"] == "application/problem+json"
    seen = await client.get(f"{OPPORTUNITIES}/{west_only}", headers=_headers(PRINCIPALS["carol (rep, west)"]))
    assert seen.status_code == 200
    unknown = await client.get(f"{OPPORTUNITIES}/{uuid.uuid4()}", headers=ADMIN)
    assert unknown.status_code == 404
    cursor_of_other_query = (await client.get(OPPORTUNITIES, params={"limit": 1}, headers=ADMIN)).json()["next_cursor"]
    replayed = await client.get(
        OPPORTUNITIES, params={"limit": 1, "sort": "name", "cursor": cursor_of_other_query}, headers=ADMIN
    )
    assert replayed.status_code == 400


async def test_the_recommendations_catalogue_matches_the_orm_for_every_organisation(service_client, connection):
    client = await service_client("opportunity")
    admins = {org: auth(org_unit=org, roles=("org_admin",)) for org in ("/group/east", "/group/west")}
    admins["/group"] = ADMIN
    for org, headers in admins.items():
        for i, active in enumerate((True, True, False)):
            name = f"{org} kit {i}"
            made = await client.post("/api/v1/solutions", json={"name": name, "active": active}, headers=headers)
            assert made.status_code == 201, made.text
    raw = (await connection.get_raw_connection()).driver_connection
    units = [EAST, WEST, "/group/east", "/group", "/group/north/team-7", "/elsewhere/east/team-1"]
    for unit in units:
        fast = {r["id"]: r["organization_path"] for r in await recommendations.active_solutions(raw, [unit])}
        orm = sa.select(Solution.id, Solution.organization_path).where(solutions.usable_by(unit), Solution.active)
        assert fast == dict((await connection.execute(orm)).all()), unit
        # ...which is what the deal's organisation's people list (the catalogue's own ORM path).
        rep = Principal(str(uuid.uuid4()), unit, frozenset({"rep"}))
        listed = solutions.list_statement(rep, active=True).with_only_columns(Solution.id, Solution.organization_path)
        assert fast == dict((await connection.execute(listed)).all()), unit
    # Several deals' organisations at once: the union, each solution saying its catalogue.
    both = await recommendations.active_solutions(raw, [EAST, WEST])
    assert sorted(r["organization_path"] for r in both) == ["/group"] * 2 + ["/group/east"] * 2 + ["/group/west"] * 2
    assert await recommendations.active_solutions(raw, []) == []
