"""Small helpers for the employee lifecycle tests."""

import datetime as dt
import uuid

from tests.support import auth

ADMIN = auth(org_unit="/group", roles=("group_admin",))


async def ensure_unit(client, path: str) -> dict:
    """The org unit at `path`, made (with every unit above it) when missing:
    employees live only in existing units."""
    parts = [p for p in path.split("/") if p]
    unit: dict | None = None
    for depth in range(1, len(parts) + 1):
        here = "/" + "/".join(parts[:depth])
        listed = await client.get("/api/v1/org-units", params={"within": here, "limit": 100}, headers=ADMIN)
        assert listed.status_code == 200, listed.text
        found = next((u for u in listed.json()["items"] if u["path"] == here), None)
        if found is None:
            r = await client.post(
                "/api/v1/org-units",
                json={"slug": parts[depth - 1], "name": parts[depth - 1], "parent_id": unit["id"] if unit else None},
                headers=ADMIN,
            )
            assert r.status_code == 201, r.text
            found = r.json()
        unit = found
    assert unit is not None
    return unit


async def new_employee(client, org_unit: str = "/group/east/team-1", **extra) -> dict:
    await ensure_unit(client, org_unit)
    body = {"name": "Ada Lin", "email": f"ada-{uuid.uuid4().hex[:8]}@example.com", "org_unit_path": org_unit, **extra}
    r = await client.post("/api/v1/employees", json=body, headers=ADMIN)
    assert r.status_code == 201, r.text
    return r.json()


def won(
    employee_id: str,
    on: str,
    account: str,
    *,
    amount: str = "1000.00",
    currency: str = "CNY",
    solutions: tuple[str, ...] = ("s1",),
) -> dict:
    return {
        "external_id": f"w-{uuid.uuid4().hex}",
        "kind": "opportunity_won",
        "employee_id": employee_id,
        "occurred_on": on,
        "opportunity_ref": uuid.uuid4().hex,
        "account_ref": account,
        "amount": {"amount": amount, "currency": currency},
        "solution_refs": list(solutions),
    }


def lost(employee_id: str, on: str) -> dict:
    return {
        "external_id": f"l-{uuid.uuid4().hex}",
        "kind": "opportunity_lost",
        "employee_id": employee_id,
        "occurred_on": on,
        "opportunity_ref": uuid.uuid4().hex,
    }


def repeat_business(employee_id: str, *, accounts: int, year: int = 2017) -> list[dict]:
    """Wins on `accounts` accounts in two quarters each: that many stable accounts, 2 x accounts wins."""
    facts = []
    for a in range(accounts):
        facts.append(won(employee_id, f"{year}-03-0{a % 9 + 1}", f"acct-{a}", solutions=(f"s{a % 3}",)))
        facts.append(won(employee_id, f"{year}-08-0{a % 9 + 1}", f"acct-{a}", solutions=(f"s{a % 3}",)))
    return facts


async def backfill(client, facts: list[dict]) -> dict:
    r = await client.post("/api/v1/employees/facts:backfill", json={"facts": facts}, headers=ADMIN)
    assert r.status_code == 200, r.text
    return r.json()


async def evaluate(client, employee_id: str, as_of: str | dt.date, *, record: bool = True, headers=ADMIN) -> dict:
    r = await client.post(
        f"/api/v1/employees/{employee_id}/stage:evaluate", json={"as_of": str(as_of), "record": record}, headers=headers
    )
    assert r.status_code == 200, r.text
    return r.json()
