"""Small builders shared by the resource_share tests."""

import datetime as dt
import uuid

import sqlalchemy as sa

from sanlun.kernel.event_routes import mint_service_token
from tests.support import TEST_SERVICE_SECRET, auth

TODAY = dt.date.today()
SERVICE = {"Authorization": f"Bearer {mint_service_token(TEST_SERVICE_SECRET, 'employee_lifecycle')}"}
# Every event this service publishes, routed somewhere so the outbox records it.
ALL_EVENTS = {"subscriptions": {"observer": ["resource.*", "introduction.*", "support_request.*"]}}


class Person:
    def __init__(self, org_unit: str, roles: tuple[str, ...] = ("rep",)) -> None:
        self.id = uuid.uuid4()
        self.org_unit = org_unit
        self.headers = auth(employee=self.id, org_unit=org_unit, roles=roles)


def new_relationship(
    contact_id: uuid.UUID,
    *,
    account_id: uuid.UUID | None = None,
    strength: int = 80,
    scope: str = "group",
    disclosure: str = "identity",
    **consent: object,
) -> dict:
    return {
        "type": "relationship",
        "title": "CFO at Acme",
        "scope": scope,
        "relationship": {
            "contact_id": str(contact_id),
            "account_id": str(account_id) if account_id else None,
            "strength": strength,
            "disclosure": disclosure,
            "shared": {"title": "CFO"},
            "consent_given_on": str(consent.get("given", TODAY - dt.timedelta(days=30))),
            "consent_expires_on": str(consent.get("expires", TODAY + dt.timedelta(days=365))),
        },
    }


async def share(client, person: Person, body: dict) -> dict:
    response = await client.post("/api/v1/resources", json=body, headers=person.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def outbox(connection, event_type: str) -> list[dict]:
    rows = await connection.execute(
        sa.text("SELECT data FROM resource_share.outbox WHERE type = :t ORDER BY id"), {"t": event_type}
    )
    return [r[0] for r in rows]


def event(event_type: str, data: dict, *, subject: str | None = None, time: str = "2026-11-27T00:00:00Z") -> dict:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "type": event_type,
        "source": "test",
        "subject": subject or str(uuid.uuid4()),
        "time": time,
        "data": data,
    }


def employee_event(employee_id: str, *, version: int, org_unit: str, event_type: str = "employee.updated") -> dict:
    """An `employee.*` event as the lifecycle service publishes it (the people view keeps it)."""
    return event(
        event_type,
        {
            "id": employee_id,
            "name": "Lin",
            "email": "lin@example.com",
            "org_unit_path": org_unit,
            "manager_id": None,
            "capacity": 8,
            "active": True,
            "version": version,
        },
        subject=employee_id,
    )
