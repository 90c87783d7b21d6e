"""Employee use cases. Functions flush; the edge commits."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, can_see, require_roles
from sanlun.kernel.errors import Conflict, Forbidden, NotFound, Unprocessable
from sanlun.kernel.events import Event, publish
from services.employee_lifecycle.employees import repository
from services.employee_lifecycle.employees.models import Employee
from services.employee_lifecycle.employees.schemas import EmployeeCreate, EmployeeUpdate

ADMIN_ROLES = ("org_admin", "group_admin", "integrator")


def employee_event(event_type: str, employee: Employee) -> Event:
    """`employee.created` / `employee.updated`: the facts other services keep
    a local view of (the assignment pool, the support desk)."""
    return Event(
        type=event_type,
        subject=str(employee.id),
        data={
            "id": str(employee.id),
            "name": employee.name,
            "email": employee.email,
            "org_unit_path": employee.org_unit_path,
            "manager_id": str(employee.manager_id) if employee.manager_id else None,
            "capacity": employee.capacity,
            "active": employee.active,
            "version": employee.version,
        },
    )


def _check_placement(principal: Principal, org_unit_path: str) -> None:
    # An admin may place people only where they could see them afterwards.
    if not can_see(principal, owner_id=None, org_unit_path=org_unit_path):
        raise Forbidden("You cannot place an employee in an org unit outside your organisation.")


async def _check_manager(session: AsyncSession, manager_id: uuid.UUID | None, employee_id: uuid.UUID | None) -> None:
    if manager_id is None:
        return
    if manager_id == employee_id:
        raise Unprocessable(
            "An employee cannot be their own manager.",
            errors=[{"loc": ["body", "manager_id"], "msg": "an employee cannot be their own manager"}],
        )
    if not await repository.exists(session, manager_id):
        raise Unprocessable(
            "The manager does not exist.",
            errors=[{"loc": ["body", "manager_id"], "msg": "no employee with this id"}],
        )


async def get(*, session: AsyncSession, principal: Principal, employee_id: uuid.UUID) -> Employee:
    employee = await repository.get_visible(session, principal, employee_id)
    if employee is None:
        raise NotFound(f"Employee {employee_id} was not found.")
    return employee


async def create(*, session: AsyncSession, principal: Principal, data: EmployeeCreate) -> Employee:
    require_roles(principal, *ADMIN_ROLES)
    _check_placement(principal, data.org_unit_path)
    if await repository.email_taken(session, data.email):
        raise Conflict(
            f"An employee with email {data.email} already exists.",
            errors=[{"loc": ["body", "email"], "msg": "already in use"}],
        )
    await _check_manager(session, data.manager_id, None)
    employee = Employee(**data.model_dump())
    session.add(employee)
    await session.flush()
    await publish(session, employee_event("employee.created", employee))
    return employee


async def update(*, session: AsyncSession, principal: Principal, employee: Employee, data: EmployeeUpdate) -> Employee:
    require_roles(principal, "manager", *ADMIN_ROLES)
    changes = data.model_dump(exclude_unset=True)
    if "org_unit_path" in changes and changes["org_unit_path"] is not None:
        _check_placement(principal, changes["org_unit_path"])
    if changes.get("email") and await repository.email_taken(session, changes["email"], excluding=employee.id):
        raise Conflict(
            f"An employee with email {changes['email']} already exists.",
            errors=[{"loc": ["body", "email"], "msg": "already in use"}],
        )
    if "manager_id" in changes:
        await _check_manager(session, changes["manager_id"], employee.id)
    for field, value in changes.items():
        if value is None and field not in ("manager_id", "hire_date", "entered_sales_on"):
            raise Unprocessable(f"{field} cannot be null.", errors=[{"loc": ["body", field], "msg": "cannot be null"}])
        setattr(employee, field, value)
    await session.flush()
    if changes:
        await publish(session, employee_event("employee.updated", employee))
    return employee
