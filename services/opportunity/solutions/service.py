"""Solution catalogue use cases. Functions flush; the edge commits."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, require_roles
from sanlun.kernel.errors import Conflict, NotFound, Unprocessable
from services.opportunity.solutions import repository
from services.opportunity.solutions.models import Solution
from services.opportunity.solutions.schemas import SolutionCreate, SolutionUpdate

CURATOR_ROLES = ("org_admin", "group_admin")
NULLABLE = frozenset({"family", "list_price"})


async def _check_name(session: AsyncSession, name: str, *, excluding: uuid.UUID | None = None) -> None:
    if await repository.name_taken(session, name, excluding=excluding):
        raise Conflict(
            f"A solution named {name!r} already exists.",
            errors=[{"loc": ["body", "name"], "msg": "already in use"}],
        )


async def get(*, session: AsyncSession, solution_id: uuid.UUID) -> Solution:
    solution = await repository.get(session, solution_id)
    if solution is None:
        raise NotFound(f"Solution {solution_id} was not found.")
    return solution


async def create(*, session: AsyncSession, principal: Principal, data: SolutionCreate) -> Solution:
    require_roles(principal, *CURATOR_ROLES)
    await _check_name(session, data.name)
    solution = Solution(
        **data.model_dump(exclude={"list_price"}),
        list_price=data.list_price.value() if data.list_price else None,
    )
    session.add(solution)
    await session.flush()
    return solution


async def update(*, session: AsyncSession, principal: Principal, solution: Solution, data: SolutionUpdate) -> Solution:
    require_roles(principal, *CURATOR_ROLES)
    changes = data.model_dump(exclude_unset=True, exclude={"list_price"})
    for field, value in changes.items():
        if value is None and field not in NULLABLE:
            raise Unprocessable(f"{field} cannot be null.", errors=[{"loc": ["body", field], "msg": "cannot be null"}])
    if changes.get("name"):
        await _check_name(session, changes["name"], excluding=solution.id)
    for field, value in changes.items():
        setattr(solution, field, value)
    if "list_price" in data.model_fields_set:
        solution.list_price = data.list_price.value() if data.list_price else None
    await session.flush()
    return solution
