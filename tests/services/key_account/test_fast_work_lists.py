"""The prebuilt work lists (`worklist/reads.py`) answer exactly what the ORM
path answered: the same items, in the same order, with the same cursors,
page by page, for every kind of principal (owners, current and lapsed
coverage, managers above a member, admins, implicit shares that must not
count), filter and business day.

The oracle is the ORM path as the handlers ran it before the fast reads:
`worklist.repository`'s statements through `paginate`, validated by the
read models."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from starlette.requests import Request

from sanlun.kernel.auth import EMPLOYEE_PARAM, Principal
from sanlun.kernel.clock import Clock
from sanlun.kernel.pagination import Page, PageParams, paginate
from sanlun.kernel.reads import PrebuiltCache
from services.key_account.accounts import reads as account_reads
from services.key_account.accounts.models import Account, AccountShare, SharedOpportunity
from services.key_account.contacts.models import Contact, Relationship
from services.key_account.contacts.repository import level_at
from services.key_account.coverage.models import CoverageMember
from services.key_account.plans.models import (
    AccountPlan,
    IncubationItem,
    IncumbentContract,
    PlanAction,
    PlanObjective,
    RelationshipTarget,
    WhitespaceCell,
)
from services.key_account.plans.schemas import ItemRead
from services.key_account.worklist import reads, repository
from services.key_account.worklist.schemas import RelationshipGap, WorkAction
from tests.support import auth

EAST1, EAST2, WEST = "/group/east/team-1", "/group/east/team-2", "/group/west/team-2"
ALICE, BOB, CAROL, DAVE, ERIN, FRANK = (uuid.uuid4() for _ in range(6))
TODAY = dt.date(2026, 6, 15)
LATER = dt.date(2027, 1, 10)  # the second business day: 2026 plans have ended, coverage has moved on

PAGE = 4  # items a page: most lists take several
ACTIONS, ITEMS, GAPS = "/api/v1/plan-actions", "/api/v1/incubation-items", "/api/v1/relationship-gaps"

# name: (org unit, owner). Alice owns a1 and a2, covers a5 (current), a6 (lapsed),
# a7 (from tomorrow) and a8 (until today), and only shares a9 through a deal.
# Frank, a member under EAST2, covers w3.
ACCOUNTS = {
    "a1": (EAST1, ALICE),
    "a2": (EAST1, ALICE),
    "a3": (EAST1, BOB),
    "a4": (EAST2, DAVE),
    "a5": (EAST2, DAVE),
    "a6": (WEST, CAROL),
    "a7": (WEST, ERIN),
    "a8": (EAST2, None),
    "a9": (WEST, ERIN),
    "w1": (WEST, CAROL),
    "w2": (WEST, CAROL),
    "w3": (WEST, ERIN),
}
ACCOUNT_IDS = {name: uuid.uuid4() for name in ACCOUNTS}

PRINCIPALS = {
    "alice (rep)": Principal(str(ALICE), EAST1, frozenset({"rep"})),
    "carol (rep, west)": Principal(str(CAROL), WEST, frozenset({"rep"})),
    "east manager": Principal(str(uuid.uuid4()), "/group/east", frozenset({"manager"})),
    "bob as manager": Principal(str(BOB), EAST1, frozenset({"manager", "rep"})),
    "team-2 manager": Principal(str(uuid.uuid4()), EAST2, frozenset({"manager"})),
    "org admin": Principal(str(uuid.uuid4()), "/group/east", frozenset({"org_admin"})),
    "org admin and manager": Principal(str(DAVE), EAST2, frozenset({"org_admin", "manager"})),
    "group admin": Principal(str(uuid.uuid4()), "/group", frozenset({"group_admin", "manager"})),
    "no employee": Principal("integration-bot", "/group/west", frozenset({"integrator"})),
}


def _queries(principal: Principal, today: dt.date) -> dict[str, list[dict[str, Any]]]:
    me = str(principal.employee_id or ALICE)
    current = {"current_plans_only": "true"}
    return {
        ACTIONS: [
            {},
            # What the workspace asks (gateway/workspace/router.py, l2_sections).
            {"status": ["open", "in_progress"], "due_by": (today + dt.timedelta(days=14)).isoformat()}
            | {"owner_id": me, "unowned": "true"}
            | current,
            {"status": ["done", "cancelled"]},
            {"owner_id": [str(ALICE), str(BOB)]},
            {"unowned": "true"},
            {"account_id": str(ACCOUNT_IDS["a5"])},
            {"due_by": today.isoformat()},
            current,
        ],
        ITEMS: [
            {},
            {"status": ["idea", "validated", "qualified"]} | current,
            {"status": ["promoted"]},
            {"owner_id": str(ALICE), "unowned": "true"},
            {"account_id": str(ACCOUNT_IDS["a1"])},
        ],
        GAPS: [
            {},
            current,
            {"owner_id": str(ALICE)},
            {"unowned": "true"},
            {"account_id": str(ACCOUNT_IDS["a5"])},
        ],
    }


async def _seed(connection: AsyncConnection) -> None:
    """The accounts above, with plans of three periods and their work, written
    directly (ties in due dates and creation times included)."""
    levels = ("vendor", "credible_source", "problem_solver", "trusted_advisor")
    owners = (ALICE, BOB, None, CAROL, DAVE, None, ERIN)
    rows: dict[Any, list[dict[str, Any]]] = {}

    def add(model: Any, **values: Any) -> uuid.UUID:
        values.setdefault("id", uuid.uuid4())
        rows.setdefault(model, []).append(values)
        return values["id"]

    for n, (name, (unit, owner)) in enumerate(ACCOUNTS.items()):
        account = add(Account, id=ACCOUNT_IDS[name], name=f"Account {name} 华" if n % 4 == 0 else f"Account {name}")
        rows[Account][-1] |= {"org_unit_path": unit, "owner_id": owner}
        contacts = [add(Contact, account_id=account, name=f"Contact {name}-{c}") for c in range(3)]
        for c, contact in enumerate(contacts[: n % 3 + 1]):
            level = levels[(n + c) % 4]
            add(
                Relationship, account_id=account, contact_id=contact, employee_id=uuid.uuid4(), level=level, strength=50
            )
        periods = [("2026", dt.date(2026, 1, 1), dt.date(2026, 6, 15) if name == "a2" else dt.date(2026, 12, 31))]
        if n % 3 == 0:
            periods.append(("2025", dt.date(2025, 1, 1), dt.date(2025, 12, 31)))
        if n % 2 == 0:
            periods.append(("2027", dt.date(2027, 1, 1), dt.date(2027, 12, 31)))
        for p, (period, starts, ends) in enumerate(periods):
            plan = add(AccountPlan, account_id=account, period=period, starts_on=starts, ends_on=ends)
            objective = add(PlanObjective, plan_id=plan, title="Grow")
            contract = add(IncumbentContract, plan_id=plan, competitor="Rival")
            cell = add(WhitespaceCell, plan_id=plan, business_unit="Ops", solution="Edge", status="open")
            for a in range(4):
                k = n * 7 + p * 3 + a
                due = None if k % 5 == 4 else TODAY + dt.timedelta(days=(k * 11) % 70 - 25 + (p * 200 if p else 0))
                add(
                    PlanAction,
                    plan_id=plan,
                    objective_id=objective if a % 2 == 0 else None,
                    incumbent_contract_id=contract if a == 3 else None,
                    title=f"Action {name}/{period}/{a}",
                    owner_id=owners[k % len(owners)],
                    due_on=dt.date(2026, 6, 20) if k % 9 == 0 else due,  # shared due dates: the id breaks the tie
                    status=("open", "in_progress", "done", "open", "cancelled")[k % 5],
                )
            for i in range(3):
                k = n * 5 + p * 2 + i
                status = ("idea", "validated", "qualified", "promoted", "dropped")[k % 5]
                add(
                    IncubationItem,
                    plan_id=plan,
                    account_id=account,
                    whitespace_cell_id=cell if i == 0 else None,
                    title=f"Idea {name}/{period}/{i}",
                    description="Cold chain" if i == 1 else None,
                    status=status,
                    amount=f"{1000 + 37 * k}.{k % 100:02d}" if k % 2 == 0 else None,
                    currency="CNY" if k % 2 == 0 else None,
                    expected_close_date=dt.date(2027, 3, 31) if i == 2 else None,
                    owner_id=owners[k % len(owners)],
                    validated_at=dt.datetime(2026, 2, 1, 8, 30, tzinfo=dt.UTC) if status != "idea" else None,
                    promoted_at=dt.datetime(2026, 3, 1, 1, 2, 3, 456789, tzinfo=dt.UTC)
                    if status == "promoted"
                    else None,
                    opportunity_id=uuid.uuid4() if status == "promoted" else None,
                    opportunity_stage="proposal" if status == "promoted" else None,
                    # Shared creation times: the id breaks the tie.
                    created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=k % 6),
                )
            for c, contact in enumerate(contacts):
                add(
                    RelationshipTarget,
                    plan_id=plan,
                    contact_id=contact,
                    target_level=levels[(n + c + p + 1) % 4],
                    owner_id=owners[(n + c) % len(owners)],
                )

    def cover(account: str, employee: uuid.UUID, unit: str, valid_from: dt.date, valid_to: dt.date | None) -> None:
        add(
            CoverageMember,
            account_id=ACCOUNT_IDS[account],
            employee_id=employee,
            org_unit_path=unit,
            role="solution_consultant",
            valid_from=valid_from,
            valid_to=valid_to,
        )

    cover("a5", ALICE, EAST1, dt.date(2026, 1, 1), None)
    cover("a6", ALICE, EAST1, dt.date(2025, 1, 1), TODAY - dt.timedelta(days=1))
    cover("a7", ALICE, EAST1, TODAY + dt.timedelta(days=1), None)
    cover("a8", ALICE, EAST1, dt.date(2026, 1, 1), TODAY)
    cover("w3", FRANK, EAST2, dt.date(2026, 1, 1), None)
    cover("a4", CAROL, WEST, dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    deal = uuid.uuid4()
    rows[SharedOpportunity] = [
        {"opportunity_id": deal, "account_id": ACCOUNT_IDS["a9"], "owner_id": ALICE, "version": 1}
    ]
    rows.setdefault(AccountShare, []).append(
        {"opportunity_id": deal, "employee_id": ALICE, "source": "owner", "account_id": ACCOUNT_IDS["a9"]}
    )
    for model in (
        Account,
        Contact,
        Relationship,
        AccountPlan,
        PlanObjective,
        IncumbentContract,
        WhitespaceCell,
        PlanAction,
        IncubationItem,
        RelationshipTarget,
        CoverageMember,
        SharedOpportunity,
        AccountShare,
    ):
        await connection.execute(sa.insert(model), rows[model])


# -- the oracle: the ORM path as the handlers ran it -----------------------------------


def _request(app: Any, path: str, query: dict[str, Any]) -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "scheme": "http",
            "server": ("key_account", 80),
            "root_path": "",
            "path": path,
            "query_string": str(httpx.QueryParams(query)).encode(),
            "headers": [(b"host", b"key_account")],
            "app": app,
        }
    )


def _listed(value: Any) -> list[str]:
    return [] if value is None else [value] if isinstance(value, str) else list(value)


async def _orm_page(
    app: Any, connection: AsyncConnection, principal: Principal, today: dt.date, path: str, query: dict[str, Any]
) -> bytes:
    request = _request(app, path, query)
    page = PageParams(limit=int(query.get("limit", 50)), cursor=query.get("cursor"))
    scope = repository.Scope(
        [uuid.UUID(o) for o in _listed(query.get("owner_id"))],
        query.get("unowned") == "true",
        uuid.UUID(query["account_id"]) if "account_id" in query else None,
        today if query.get("current_plans_only") == "true" else None,
        today,
    )
    statuses = _listed(query.get("status"))
    items: list[BaseModel]
    async with AsyncSession(bind=connection) as session:
        if path == ACTIONS:
            due_by = dt.date.fromisoformat(query["due_by"]) if "due_by" in query else None
            stmt, order = repository.actions(principal, scope, statuses=statuses, due_by=due_by)
            rows, cursor = await paginate(session, request, stmt, order_by=order, params=page, scalars=False)
            items = [
                WorkAction.model_validate(
                    {
                        **row._mapping,
                        "overdue": row.due_on is not None
                        and row.due_on < today
                        and row.status in ("open", "in_progress"),
                    }
                )
                for row in rows
            ]
        elif path == ITEMS:
            stmt = repository.incubation_items(principal, scope, statuses=statuses)
            rows, cursor = await paginate(
                session, request, stmt, order_by=(IncubationItem.created_at, IncubationItem.id), params=page
            )
            items = [ItemRead.model_validate(r) for r in rows]
        else:
            stmt, order = repository.relationship_gaps(principal, scope)
            rows, cursor = await paginate(
                session, request, stmt, order_by=order, params=page, descending=True, scalars=False
            )
            items = [
                RelationshipGap.model_validate({**row._mapping, "current_level": level_at(row.best_rank)})
                for row in rows
            ]
    return Page[Any](items=[i.model_dump(mode="json") for i in items], next_cursor=cursor).model_dump_json().encode()


def _canonical(body: bytes) -> str:
    """The answer modulo key order (numbers keep their type: 1 is not 1.0)."""
    return json.dumps(json.loads(body), sort_keys=True, ensure_ascii=False)


# -- the comparison ----------------------------------------------------------------------


async def _compare(client: httpx.AsyncClient, connection: AsyncConnection, clock: Clock) -> tuple[str | None, int]:
    """Every principal, list and query, page by page: the fast answer against
    the oracle's. The first that differs (or None), and how many pages agreed."""
    app = client._transport.app  # type: ignore[attr-defined]
    today = clock.today()
    agreed = 0
    for who, principal in PRINCIPALS.items():
        headers = auth(employee=principal.subject, org_unit=principal.org_unit_path, roles=tuple(principal.roles))
        for path, queries in _queries(principal, today).items():
            for query in queries:
                params: dict[str, Any] = {**query, "limit": PAGE}
                for _ in range(40):
                    fast = await client.get(path, params=params, headers=headers)
                    assert fast.status_code == 200, (who, path, query, fast.text)
                    expected = await _orm_page(app, connection, principal, today, path, params)
                    if _canonical(fast.content) != _canonical(expected):
                        return f"{who} {path} {params}:\n fast {fast.text}\n  orm {expected.decode()}", agreed
                    agreed += 1
                    cursor = fast.json()["next_cursor"]
                    if cursor is None:
                        break
                    params = {**params, "cursor": cursor}
    return None, agreed


@pytest.fixture
async def seeded(service_client, connection) -> tuple[httpx.AsyncClient, Clock]:
    clock = Clock()
    clock.set(dt.datetime.combine(TODAY, dt.time(9, 30), tzinfo=dt.UTC))
    client = await service_client("key_account", clock=clock)
    await _seed(connection)
    return client, clock


async def test_fast_work_lists_match_the_orm_for_every_principal_filter_and_day(seeded, connection):
    client, clock = seeded
    difference, agreed = await _compare(client, connection, clock)
    assert difference is None, difference
    # The matrix is not vacuous: many pages, overdue and undated actions, money,
    # gaps with and without a level, Alice's coverage counted as it stands today.
    assert agreed > 400
    admin = auth(org_unit="/group", roles=("group_admin",))
    actions = (await client.get(ACTIONS, headers=admin, params={"limit": 200})).json()["items"]
    items = (await client.get(ITEMS, headers=admin, params={"limit": 200})).json()["items"]
    gaps = (await client.get(GAPS, headers=admin, params={"limit": 200})).json()["items"]
    assert len(actions) > 60 and len(items) > 50 and len(gaps) > 30
    assert any(a["overdue"] for a in actions) and any(a["due_on"] is None for a in actions)
    assert any(i["amount"] for i in items) and any(i["promoted_at"] for i in items)
    assert any(g["current_level"] for g in gaps) and any(g["current_level"] is None for g in gaps)
    alice = [a["account_id"] for a in (await client.get(ACTIONS, headers=_headers("alice (rep)"))).json()["items"]]
    assert str(ACCOUNT_IDS["a5"]) in alice and str(ACCOUNT_IDS["a8"]) in alice
    assert not {str(ACCOUNT_IDS[n]) for n in ("a6", "a7", "a9")} & set(alice)  # lapsed, future, shared only

    clock.set(dt.datetime.combine(LATER, dt.time(9, 30), tzinfo=dt.UTC))
    difference, agreed = await _compare(client, connection, clock)
    assert difference is None, difference
    assert agreed > 300


def _headers(who: str) -> dict[str, str]:
    principal = PRINCIPALS[who]
    return auth(employee=principal.subject, org_unit=principal.org_unit_path, roles=tuple(principal.roles))


def _rebuilt(monkeypatch: pytest.MonkeyPatch, visible: Callable[[account_reads.AccessShape], Any]) -> None:
    """The lists' statements built again, with another visibility rule."""
    monkeypatch.setattr(reads, "visible", visible)
    for name, build in (
        ("ACTIONS", reads._actions),
        ("INCUBATION_ITEMS", reads._incubation_items),
        ("RELATIONSHIP_GAPS", reads._relationship_gaps),
    ):
        monkeypatch.setattr(reads, name, PrebuiltCache(build))


def _shares_count(shape: account_reads.AccessShape) -> Any:
    shared = sa.select(AccountShare.account_id).where(
        AccountShare.employee_id == sa.bindparam(EMPLOYEE_PARAM, type_=sa.Uuid)
    )
    return sa.or_(account_reads.visible(shape), account_reads.ACCOUNT.c.id.in_(shared))


def _owners_only(shape: account_reads.AccessShape) -> Any:
    kind = shape.visibility
    if kind.employee and kind.within is None and not kind.everything:
        return account_reads.ACCOUNT.c.owner_id == sa.bindparam(EMPLOYEE_PARAM, type_=sa.Uuid)
    return account_reads.visible(shape)


def _any_coverage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(account_reads, "_current_coverage", sa.true)
    _rebuilt(monkeypatch, account_reads.visible)


MUTATIONS: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "a manager's coverage below is dropped": lambda mp: _rebuilt(
        mp, lambda shape: account_reads.visible(replace(shape, covered_below=None))
    ),
    "implicit sharing counts": lambda mp: _rebuilt(mp, _shares_count),
    "a rep's coverage is dropped": lambda mp: _rebuilt(mp, _owners_only),
    "lapsed and future coverage counts": _any_coverage,
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
async def test_the_comparison_fails_a_fast_path_with_another_visibility(seeded, connection, monkeypatch, mutation):
    client, clock = seeded
    MUTATIONS[mutation](monkeypatch)
    difference, _ = await _compare(client, connection, clock)
    assert difference is not None


async def test_a_cursor_belongs_to_its_query(seeded):
    client, _ = seeded
    headers = _headers("group admin")
    for path in (ACTIONS, ITEMS, GAPS):
        cursor = (await client.get(path, params={"limit": 1}, headers=headers)).json()["next_cursor"]
        assert cursor is not None
        replayed = await client.get(path, params={"limit": 1, "unowned": "true", "cursor": cursor}, headers=headers)
        assert replayed.status_code == 400, path
        assert replayed.headers["content-type"] == "application/problem+json"
        forged = await client.get(path, params={"limit": 1, "cursor": cursor[:-2]}, headers=headers)
        assert forged.status_code == 400, path
