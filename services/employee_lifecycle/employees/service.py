"""Employee use cases. Functions flush; the edge commits."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel import references
from sanlun.kernel.auth import Principal, can_see, require_roles
from sanlun.kernel.errors import Conflict, NotFound, Unprocessable
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


# Issue 16: a reference in a body that does not exist and one the caller may
# not see get the same 422 (same code, detail, message and loc), so a body is
# no oracle for other organisations' records (sanlun.kernel.references).
UNKNOWN_REFERENCE, UNKNOWN_REFERENCE_DETAIL = references.CODE, references.DETAIL
NO_SUCH_EMPLOYEE = "no employee with this id that you may see"
NO_SUCH_EMPLOYEE_EXTERNAL = "no employee with this external id that you may see"
NO_SUCH_UNIT = "no org unit at this path that you may see"
MANAGER_CYCLE = "manager_cycle"
CROSS_ORGANISATION = "cross_organisation_manager"
CROSS_ORGANISATION_MSG = "in another organisation: only a group admin may set a reporting line across organisations"


def unknown_reference(*locs: list[str | int], msg: str) -> Unprocessable:
    return references.unknown_reference({"loc": loc, "msg": msg} for loc in locs)


def organisation_of(path: str) -> str:
    """The organisation of an org unit: its first two segments (`/group/east`)."""
    return "/" + "/".join([p for p in path.split("/") if p][:2])


def may_cross_organisations(principal: Principal) -> bool:
    """Only a group admin draws a reporting line from one organisation to another
    (an organisation's head reporting to a group-level director, a matrix line):
    they see both ends. Nobody else can, whatever else they may see."""
    return principal.has("group_admin")


async def _check_unit(session: AsyncSession, principal: Principal, org_unit_path: str) -> None:
    """Employees live only in existing org units, and an admin (or a manager)
    places people only where they could see them afterwards. A unit that does
    not exist and one outside the caller's reach get the same 422 (issue 16)."""
    if not can_see(principal, owner_id=None, org_unit_path=org_unit_path) or (
        org_unit_path not in await repository.existing_unit_paths(session, [org_unit_path])
    ):
        raise unknown_reference(["body", "org_unit_path"], msg=NO_SUCH_UNIT)


async def _check_manager(
    session: AsyncSession,
    principal: Principal,
    *,
    manager_id: uuid.UUID | None,
    employee_id: uuid.UUID | None,
    org_unit_path: str,
) -> None:
    """The manager is an employee the caller may see, in the employee's
    organisation (unless a group admin says otherwise), and not below the
    employee in the reporting lines."""
    if manager_id is None:
        return
    loc: list[str | int] = ["body", "manager_id"]
    if manager_id == employee_id:
        raise Unprocessable(
            "An employee cannot be their own manager.",
            code=MANAGER_CYCLE,
            errors=[{"loc": loc, "msg": "an employee cannot be their own manager"}],
        )
    manager_path = await repository.visible_path(session, principal, manager_id)
    if manager_path is None:
        raise unknown_reference(loc, msg=NO_SUCH_EMPLOYEE)
    if organisation_of(manager_path) != organisation_of(org_unit_path) and not may_cross_organisations(principal):
        raise Unprocessable(
            "The manager is in another organisation than the employee.",
            code=CROSS_ORGANISATION,
            errors=[{"loc": loc, "msg": CROSS_ORGANISATION_MSG}],
        )
    if employee_id is not None and employee_id in await repository.manager_chains(session, [manager_id]):
        raise Unprocessable(
            "The reporting lines would form a cycle: the new manager reports, directly or not, to this employee.",
            code=MANAGER_CYCLE,
            errors=[{"loc": loc, "msg": "reports (directly or not) to this employee: the lines would form a cycle"}],
        )


async def get(*, session: AsyncSession, principal: Principal, employee_id: uuid.UUID) -> Employee:
    employee = await repository.get_visible(session, principal, employee_id)
    if employee is None:
        raise NotFound(f"Employee {employee_id} was not found.")
    return employee


async def create(*, session: AsyncSession, principal: Principal, data: EmployeeCreate) -> Employee:
    require_roles(principal, *ADMIN_ROLES)
    await _check_unit(session, principal, data.org_unit_path)
    if await repository.email_taken(session, data.email):
        raise Conflict(
            f"An employee with email {data.email} already exists.",
            errors=[{"loc": ["body", "email"], "msg": "already in use"}],
        )
    await _check_manager(
        session, principal, manager_id=data.manager_id, employee_id=None, org_unit_path=data.org_unit_path
    )
    employee = Employee(**data.model_dump())
    session.add(employee)
    await session.flush()
    await publish(session, employee_event("employee.created", employee))
    return employee


async def update(*, session: AsyncSession, principal: Principal, employee: Employee, data: EmployeeUpdate) -> Employee:
    require_roles(principal, "manager", *ADMIN_ROLES)
    changes = data.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if value is None and field not in ("manager_id", "hire_date", "entered_sales_on"):
            raise Unprocessable(f"{field} cannot be null.", errors=[{"loc": ["body", field], "msg": "cannot be null"}])
    moving = "org_unit_path" in changes and changes["org_unit_path"] != employee.org_unit_path
    if moving:
        await _check_unit(session, principal, changes["org_unit_path"])
    if changes.get("email") and await repository.email_taken(session, changes["email"], excluding=employee.id):
        raise Conflict(
            f"An employee with email {changes['email']} already exists.",
            errors=[{"loc": ["body", "email"], "msg": "already in use"}],
        )
    org_unit_path = changes.get("org_unit_path") or employee.org_unit_path
    if "manager_id" in changes and changes["manager_id"] != employee.manager_id:
        await _check_manager(
            session, principal, manager_id=changes["manager_id"], employee_id=employee.id, org_unit_path=org_unit_path
        )
    elif moving and employee.manager_id is not None and not may_cross_organisations(principal):
        # Same manager, another organisation: a reporting line across organisations.
        manager_path = await repository.visible_path(session, principal, employee.manager_id)
        crossing = manager_path is None or organisation_of(manager_path) != organisation_of(org_unit_path)
        if crossing and organisation_of(org_unit_path) != organisation_of(employee.org_unit_path):
            raise Unprocessable(
                "The employee's manager is in another organisation than the one they would move to.",
                code=CROSS_ORGANISATION,
                errors=[
                    {"loc": ["body", "org_unit_path"], "msg": "the employee's manager is " + CROSS_ORGANISATION_MSG}
                ],
            )
    # Every check passed: nothing is written on a refused request.
    for field, value in changes.items():
        setattr(employee, field, value)
    await session.flush()
    if changes:
        await publish(session, employee_event("employee.updated", employee))
    return employee
