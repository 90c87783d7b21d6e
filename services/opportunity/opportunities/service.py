"""Opportunity use cases. Functions flush; the edge commits."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, can_see
from sanlun.kernel.errors import Conflict, Forbidden, NotFound, Unprocessable
from services.opportunity.opportunities import repository
from services.opportunity.opportunities.models import Opportunity
from services.opportunity.opportunities.schemas import OpportunityCreate, OpportunityUpdate

# Roles that may give an opportunity to someone else or leave it unassigned.
PLACING_ROLES = ("manager", "org_admin", "group_admin", "integrator")
NOT_NULL = frozenset({"name", "org_unit_path", "stage"})


def _check_placement(principal: Principal, *, owner_id: uuid.UUID | None, org_unit_path: str) -> None:
    if principal.has(*PLACING_ROLES):
        # Only where they could still see it afterwards, whoever owns it.
        if not can_see(principal, owner_id=None, org_unit_path=org_unit_path):
            raise Forbidden(
                "You cannot place an opportunity in an org unit outside the ones you see.",
                errors=[{"loc": ["body", "org_unit_path"], "msg": "outside the org units you see"}],
            )
        return
    # A rep works only on their own deals, in the org unit their token places them.
    if owner_id is None or owner_id != principal.employee_id:
        raise Forbidden(
            "A rep may only create and keep opportunities for themself.",
            errors=[{"loc": ["body", "owner_id"], "msg": "must be your own employee id"}],
        )
    if org_unit_path != principal.org_unit_path:
        raise Forbidden(
            "A rep's opportunities sit in the rep's own org unit.",
            errors=[{"loc": ["body", "org_unit_path"], "msg": "must be your own org unit"}],
        )


async def get(*, session: AsyncSession, principal: Principal, opportunity_id: uuid.UUID) -> Opportunity:
    opportunity = await repository.get_visible(session, principal, opportunity_id)
    if opportunity is None:
        raise NotFound(f"Opportunity {opportunity_id} was not found.")
    return opportunity


async def create(*, session: AsyncSession, principal: Principal, data: OpportunityCreate) -> Opportunity:
    # Omitted owner means "mine"; an explicit null means "unassigned".
    owner_id = data.owner_id if "owner_id" in data.model_fields_set else principal.employee_id
    org_unit_path = data.org_unit_path or principal.org_unit_path
    _check_placement(principal, owner_id=owner_id, org_unit_path=org_unit_path)
    if data.external_id and await repository.external_id_taken(session, data.external_id):
        raise Conflict(
            f"An opportunity with external id {data.external_id} already exists.",
            errors=[{"loc": ["body", "external_id"], "msg": "already in use"}],
        )
    opportunity = Opportunity(
        **data.model_dump(exclude={"amount", "owner_id", "org_unit_path"}),
        amount=data.amount.value() if data.amount else None,
        owner_id=owner_id,
        org_unit_path=org_unit_path,
    )
    session.add(opportunity)
    await session.flush()
    return opportunity


async def update(
    *, session: AsyncSession, principal: Principal, opportunity: Opportunity, data: OpportunityUpdate
) -> Opportunity:
    changes = data.model_dump(exclude_unset=True, exclude={"amount"})
    for field in NOT_NULL.intersection(changes):
        if changes[field] is None:
            raise Unprocessable(f"{field} cannot be null.", errors=[{"loc": ["body", field], "msg": "cannot be null"}])
    owner_id = changes.get("owner_id", opportunity.owner_id)
    org_unit_path = changes.get("org_unit_path", opportunity.org_unit_path)
    if owner_id != opportunity.owner_id or org_unit_path != opportunity.org_unit_path:
        _check_placement(principal, owner_id=owner_id, org_unit_path=org_unit_path)
    for field, value in changes.items():
        setattr(opportunity, field, value)
    if "amount" in data.model_fields_set:
        opportunity.amount = data.amount.value() if data.amount else None
    await session.flush()
    return opportunity
