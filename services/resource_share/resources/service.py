"""Resource use cases. Functions flush; the edge commits."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, can_see
from sanlun.kernel.errors import Forbidden, NotFound, Unprocessable
from services.resource_share.resources import repository
from services.resource_share.resources.models import Resource
from services.resource_share.resources.schemas import ResourceCreate, ResourceUpdate


async def get(*, session: AsyncSession, principal: Principal, resource_id: uuid.UUID) -> Resource:
    resource = await repository.get_visible(session, principal, resource_id)
    if resource is None:
        raise NotFound(f"Resource {resource_id} was not found.")
    return resource


async def create(*, session: AsyncSession, principal: Principal, data: ResourceCreate) -> Resource:
    owner_id = principal.employee_id
    if owner_id is None:
        raise Forbidden("Only an employee can share a resource: the token's subject is not an employee id.")
    resource = Resource(
        **data.model_dump(),
        owner_id=owner_id,
        # The owning unit is fixed at creation; visibility by scope is judged against it.
        org_unit_path=principal.org_unit_path,
        usage_count=0,
    )
    session.add(resource)
    await session.flush()
    return resource


async def update(
    *, session: AsyncSession, principal: Principal, resource: Resource, data: ResourceUpdate
) -> Resource:
    # Scope lets others read a resource, never change it.
    if not can_see(principal, owner_id=resource.owner_id, org_unit_path=resource.org_unit_path):
        raise Forbidden("Only the owner, their managers and admins may change this resource.")
    changes = data.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if value is None:
            raise Unprocessable(f"{field} cannot be null.", errors=[{"loc": ["body", field], "msg": "cannot be null"}])
        setattr(resource, field, value)
    await session.flush()
    return resource
