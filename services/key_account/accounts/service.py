"""Account use cases. Functions flush; the edge commits."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, can_see, require_roles
from sanlun.kernel.errors import Conflict, Forbidden, NotFound, Unprocessable
from sanlun.kernel.peers import Peers
from services.key_account.accounts import references, repository
from services.key_account.accounts.models import Account
from services.key_account.accounts.schemas import AccountCreate, AccountUpdate, Money
from services.key_account.segmentation import service as segmentation

MANAGING_ROLES = ("manager", "org_admin", "group_admin", "integrator")
NULLABLE = frozenset(
    {
        "external_id",
        "industry",
        "employees",
        "headquarters",
        "parent_id",
        "owner_id",
        "potential",
        "strategic_value",
        "solution_fit",
    }
)
# Changing any of these changes the segmentation score.
SEGMENTATION_INPUTS = frozenset({"annual_revenue", "potential", "strategic_value", "solution_fit", "org_unit_path"})


def _check_placement(principal: Principal, *, owner_id: uuid.UUID | None, org_unit_path: str) -> None:
    if principal.has(*MANAGING_ROLES):
        # By org unit only: owning an account elsewhere must not let a manager place accounts there.
        if not can_see(principal, owner_id=None, org_unit_path=org_unit_path):
            raise Forbidden("You cannot place an account in an org unit outside the ones you manage.")
        return
    if owner_id is None or owner_id != principal.employee_id or org_unit_path != principal.org_unit_path:
        raise Forbidden("A rep may only hold accounts they own, in their own org unit.")


async def _check_parent(
    session: AsyncSession, principal: Principal, *, parent_id: uuid.UUID | None, account_id: uuid.UUID | None
) -> None:
    if parent_id is None:
        return
    if parent_id == account_id:
        raise Unprocessable(
            "An account cannot be its own parent.",
            errors=[{"loc": ["body", "parent_id"], "msg": "an account cannot be its own parent"}],
        )
    if not await repository.is_visible(session, principal, parent_id):
        # Unknown and not yours to see answer alike (references.problem).
        raise references.problem([references.Ref("account", parent_id, ("body", "parent_id"))])
    if account_id is None:
        return  # a new account has no descendants, so it cannot close a cycle
    await repository.lock_hierarchy(session)
    if await repository.in_ancestry(session, account_id=account_id, start_id=parent_id):
        raise Unprocessable(
            "The parent account is a subsidiary of this account; the hierarchy would become a cycle.",
            code="account_hierarchy_cycle",
            errors=[{"loc": ["body", "parent_id"], "msg": "would make the account its own ancestor"}],
        )


async def _check_external_id(session: AsyncSession, external_id: str | None, account_id: uuid.UUID | None) -> None:
    if external_id and await repository.external_id_taken(session, external_id, excluding=account_id):
        raise Conflict(
            f"An account with external id {external_id} already exists.",
            errors=[{"loc": ["body", "external_id"], "msg": "already in use"}],
        )


def _revenue_columns(money: Money | None) -> dict[str, Any]:
    return {
        "annual_revenue_amount": money.amount if money else None,
        "annual_revenue_currency": money.currency if money else None,
    }


async def get(*, session: AsyncSession, principal: Principal, account_id: uuid.UUID) -> Account:
    """The account, for a change or for the account team's own views (plans,
    coverage members, tiers). A caller who reads it only through a deal they
    work on gets 403 `deal_access_read_only` (they know it exists); anyone
    else who may not see it, 404."""
    account = await repository.get_visible(session, principal, account_id)
    if account is None:
        if await repository.is_readable(session, principal, account_id):
            raise Forbidden(
                "You see this account through a deal you work on: that lets you read the account and its "
                "contacts, not change them. Ask its owner or a manager to add you to its coverage.",
                code="deal_access_read_only",
            )
        raise NotFound(f"Account {account_id} was not found.")
    return account


async def read(*, session: AsyncSession, principal: Principal, account_id: uuid.UUID) -> Account:
    """The account for a read of it or of its contacts: explicit access, or
    implicit sharing through a deal the caller (or someone under them) works on."""
    account = await repository.get_readable(session, principal, account_id)
    if account is None:
        raise NotFound(f"Account {account_id} was not found.")
    return account


async def read_many(
    *, session: AsyncSession, principal: Principal, account_ids: list[uuid.UUID]
) -> tuple[list[Account], list[uuid.UUID]]:
    """`read` for many ids: the accounts the caller may read, in the order asked,
    and the ids that do not exist or that they may not read (alike, issue 16)."""
    found = {a.id: a for a in await repository.readable_many(session, principal, account_ids)}
    asked = list(dict.fromkeys(account_ids))
    return [found[i] for i in asked if i in found], [i for i in asked if i not in found]


async def access(*, session: AsyncSession, principal: Principal, accounts: list[Account]) -> dict[uuid.UUID, str]:
    return await repository.access_of(session, principal, accounts)


async def _check_owner(principal: Principal, peers: Peers, owner_id: uuid.UUID | None) -> None:
    """The owner is an employee the caller may see (themself always)."""
    refs = references.Refs()
    refs.employee(owner_id, ["body", "owner_id"])
    await refs.check(principal=principal, peers=peers)


async def create(*, session: AsyncSession, principal: Principal, peers: Peers, data: AccountCreate) -> Account:
    require_roles(principal, "rep", *MANAGING_ROLES)
    owner_id = data.owner_id if "owner_id" in data.model_fields_set else principal.employee_id
    org_unit_path = data.org_unit_path or principal.org_unit_path
    _check_placement(principal, owner_id=owner_id, org_unit_path=org_unit_path)
    await _check_parent(session, principal, parent_id=data.parent_id, account_id=None)
    await _check_owner(principal, peers, owner_id)
    await _check_external_id(session, data.external_id, None)
    fields = data.model_dump(exclude={"annual_revenue", "owner_id", "org_unit_path"})
    account = Account(
        id=uuid.uuid4(),
        **fields,
        **_revenue_columns(data.annual_revenue),
        owner_id=owner_id,
        org_unit_path=org_unit_path,
    )
    session.add(account)
    # Scored before the INSERT so the account is written once, at version 1.
    return await segmentation.evaluate(session=session, account=account)


async def update(
    *, session: AsyncSession, principal: Principal, peers: Peers, account: Account, data: AccountUpdate
) -> Account:
    require_roles(principal, "rep", *MANAGING_ROLES)
    changes = data.model_dump(exclude_unset=True, exclude={"annual_revenue"})
    for field, value in changes.items():
        if value is None and field not in NULLABLE:
            raise Unprocessable(f"{field} cannot be null.", errors=[{"loc": ["body", field], "msg": "cannot be null"}])
    if "owner_id" in changes or "org_unit_path" in changes:
        _check_placement(
            principal,
            owner_id=changes.get("owner_id", account.owner_id),
            org_unit_path=changes.get("org_unit_path", account.org_unit_path),
        )
    if "external_id" in changes:
        await _check_external_id(session, changes["external_id"], account.id)
    if "parent_id" in changes and changes["parent_id"] != account.parent_id:
        await _check_parent(session, principal, parent_id=changes["parent_id"], account_id=account.id)
    if changes.get("owner_id") is not None and changes["owner_id"] != account.owner_id:
        await _check_owner(principal, peers, changes["owner_id"])
    if "annual_revenue" in data.model_fields_set:
        changes.update(_revenue_columns(data.annual_revenue))
    for field, value in changes.items():
        setattr(account, field, value)
    if SEGMENTATION_INPUTS.intersection(data.model_fields_set):
        return await segmentation.evaluate(session=session, account=account)  # flushes once
    await session.flush()
    return account
