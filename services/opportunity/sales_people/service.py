"""Keeps the sales-people view from `employee.created` / `employee.updated`."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.db import utcnow
from sanlun.kernel.event_routes import CloudEvent
from services.opportunity.sales_people import repository


async def on_employee_changed(*, session: AsyncSession, event: CloudEvent) -> None:
    data = event.data
    await repository.upsert(
        session,
        {
            "employee_id": uuid.UUID(data["id"]),
            "name": data["name"],
            "org_unit_path": data["org_unit_path"],
            "capacity": int(data["capacity"]),
            "active": bool(data["active"]),
            "source_version": int(data["version"]),
            "updated_at": utcnow(),
        },
    )


EVENT_HANDLERS = {
    "employee.created": on_employee_changed,
    "employee.updated": on_employee_changed,
}
