"""Small helpers shared by the key account tests."""

import uuid

from tests.support import auth

ADMIN = auth(org_unit="/group", roles=("group_admin",))
EAST_MANAGER = auth(org_unit="/group/east", roles=("manager",))


def rep(employee: uuid.UUID, org_unit: str = "/group/east/team-1") -> dict[str, str]:
    return auth(employee=employee, org_unit=org_unit, roles=("rep",))


async def new_account(client, headers: dict[str, str] = ADMIN, **fields: object) -> dict:
    data = {"name": "Acme Holdings", "org_unit_path": "/group/east/team-1", **fields}
    response = await client.post("/api/v1/accounts", json=data, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def new_member(
    client,
    account_id: str,
    role: str,
    employee: uuid.UUID | None = None,
    org_unit: str = "/group/east/team-1",
    headers: dict[str, str] = ADMIN,
    **extra: object,
) -> dict:
    body = {"employee_id": str(employee or uuid.uuid4()), "org_unit_path": org_unit, "role": role, **extra}
    response = await client.post(f"/api/v1/accounts/{account_id}/coverage/members", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def new_contact(client, account_id: str, name: str = "Wang Li", **fields: object) -> dict:
    response = await client.post(
        f"/api/v1/accounts/{account_id}/contacts", json={"name": name, **fields}, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    return response.json()


async def new_plan(client, account_id: str, period: str = "2026", **fields: object) -> dict:
    body = {"account_id": account_id, "period": period, "starts_on": "2026-01-01", "ends_on": "2026-12-31", **fields}
    response = await client.post("/api/v1/account-plans", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()
