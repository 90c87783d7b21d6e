"""Resource use cases. Functions flush; the edge commits."""

import datetime as dt
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, can_see
from sanlun.kernel.clock import session_clock
from sanlun.kernel.errors import Forbidden, NotFound, Unprocessable
from services.resource_share.domain.paths import organization_of
from services.resource_share.resources import repository
from services.resource_share.resources.models import Disclosure, Resource, ResourceType
from services.resource_share.resources.schemas import RelationshipRead, ResourceCreate, ResourceRead, ResourceUpdate


async def get(*, session: AsyncSession, principal: Principal, resource_id: uuid.UUID) -> Resource:
    resource = await repository.get_visible(session, principal, resource_id, today=session_clock(session).today())
    if resource is None:
        raise NotFound(f"Resource {resource_id} was not found.")
    return resource


async def create(*, session: AsyncSession, principal: Principal, data: ResourceCreate) -> Resource:
    owner_id = principal.employee_id
    if owner_id is None:
        raise Forbidden("Only an employee can share a resource: the token's subject is not an employee id.")
    fields = data.model_dump(exclude={"relationship"})
    if data.relationship is not None:
        # Checked here, not in the schema: "past" is judged on the business clock's day.
        if data.relationship.consent_expires_on < session_clock(session).today():
            raise _invalid(["body", "relationship", "consent_expires_on"], "is already past: record a live consent")
        fields.update(data.relationship.model_dump())
    resource = Resource(
        **fields,
        owner_id=owner_id,
        # The owning unit is fixed at creation; visibility by scope is judged against it.
        org_unit_path=principal.org_unit_path,
        usage_count=0,
        rating_count=0,
    )
    session.add(resource)
    await session.flush()
    return resource


def _invalid(loc: list[str], msg: str) -> Unprocessable:
    """A 422 shaped as the request validation's own, naming the field."""
    field = ".".join(loc)
    return Unprocessable(
        f"The request is invalid: {field}: {msg}",
        code="validation_error",
        errors=[{"loc": loc, "msg": msg, "type": "value_error"}],
    )


async def update(*, session: AsyncSession, principal: Principal, resource: Resource, data: ResourceUpdate) -> Resource:
    # Scope lets others read a resource, never change it.
    if not can_see(principal, owner_id=resource.owner_id, org_unit_path=resource.org_unit_path):
        raise Forbidden("Only the owner, their managers and admins may change this resource.")
    changes = data.model_dump(exclude_unset=True)
    relationship = changes.pop("relationship", None)
    if relationship is not None and resource.type != ResourceType.RELATIONSHIP:
        raise Unprocessable(
            "Only a relationship resource has relationship fields.",
            errors=[{"loc": ["body", "relationship"], "msg": "is only allowed on a relationship resource"}],
        )
    located = [(("body", f), f, v) for f, v in changes.items()]
    located += [(("body", "relationship", f), f, v) for f, v in (relationship or {}).items()]
    for loc, field, value in located:
        if value is None:
            raise Unprocessable(f"{field} cannot be null.", errors=[{"loc": list(loc), "msg": "cannot be null"}])
        setattr(resource, field, value)
    if (
        resource.consent_given_on
        and resource.consent_expires_on
        and resource.consent_expires_on < resource.consent_given_on
    ):
        raise Unprocessable(
            "consent_expires_on must not be before consent_given_on.",
            errors=[
                {"loc": ["body", "relationship", "consent_expires_on"], "msg": "must not be before consent_given_on"}
            ],
        )
    await session.flush()
    return resource


def present(resource: Resource, principal: Principal, *, today: dt.date) -> ResourceRead:
    """A resource as this caller may see it on `today` (the business clock's
    day): a relationship's owner is shown only as far as they disclose themself
    (fully to themself, their managers and admins)."""
    read = ResourceRead.model_validate(resource)
    if resource.type != ResourceType.RELATIONSHIP:
        return read
    if (
        resource.contact_id is None
        or resource.strength is None
        or resource.disclosure is None
        or resource.consent_given_on is None
        or resource.consent_expires_on is None
    ):  # the relationship fields' check constraint and the create schema require them all
        raise RuntimeError(f"relationship {resource.id} lacks its contact, strength, disclosure or consent dates")
    read.relationship = RelationshipRead(
        contact_id=resource.contact_id,
        account_id=resource.account_id,
        strength=resource.strength,
        disclosure=Disclosure(resource.disclosure),
        shared=resource.shared or {},
        consent_given_on=resource.consent_given_on,
        consent_expires_on=resource.consent_expires_on,
        consent_expired=resource.consent_expires_on < today,
    )
    if can_see(principal, owner_id=resource.owner_id, org_unit_path=resource.org_unit_path):
        return read
    if resource.disclosure != Disclosure.IDENTITY:
        read.owner_id = None
        read.org_unit_path = (
            organization_of(resource.org_unit_path) if resource.disclosure == Disclosure.ORGANIZATION else None
        )
    return read
