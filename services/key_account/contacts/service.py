"""Contacts, our relationships to them, influence lines, and the relationship map."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal
from sanlun.kernel.errors import NotFound, Unprocessable
from sanlun.kernel.peers import Peers
from services.key_account.accounts import references
from services.key_account.accounts.models import Account
from services.key_account.contacts import repository
from services.key_account.contacts.models import Contact, InfluenceLine, Relationship
from services.key_account.contacts.schemas import ContactCreate, ContactUpdate, InfluenceWrite, RelationshipWrite
from services.key_account.domain.relationship_map import build_map
from services.key_account.segmentation import service as segmentation


def _unknown_contact(field: str) -> Unprocessable:
    return Unprocessable(
        "The contact is not one of this account's.",
        errors=[{"loc": ["body", field], "msg": "no contact with this id on this account"}],
    )


async def get(*, session: AsyncSession, account: Account, contact_id: uuid.UUID) -> Contact:
    contact = await repository.get(session, account.id, contact_id)
    if contact is None:
        raise NotFound(f"Contact {contact_id} was not found on this account.")
    return contact


async def create(*, session: AsyncSession, account: Account, data: ContactCreate) -> Contact:
    if data.reports_to_id and not await repository.count_of_account(session, account.id, {data.reports_to_id}):
        raise _unknown_contact("reports_to_id")
    contact = Contact(account_id=account.id, **data.model_dump())
    session.add(contact)
    await session.flush()
    return contact


async def update(*, session: AsyncSession, account: Account, contact: Contact, data: ContactUpdate) -> Contact:
    changes = data.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] is None:
        raise Unprocessable("name cannot be null.", errors=[{"loc": ["body", "name"], "msg": "cannot be null"}])
    boss = changes.get("reports_to_id")
    if boss is not None and boss != contact.reports_to_id:
        if not await repository.count_of_account(session, account.id, {boss}):
            raise _unknown_contact("reports_to_id")
        if await repository.in_reporting_chain(session, contact_id=contact.id, start_id=boss):
            raise Unprocessable(
                "The contact would report to someone who reports to them.",
                code="reporting_cycle",
                errors=[{"loc": ["body", "reports_to_id"], "msg": "would make a reporting cycle"}],
            )
    for field, value in changes.items():
        setattr(contact, field, value)
    await session.flush()
    return contact


async def record_relationship(
    *, session: AsyncSession, principal: Principal, peers: Peers, account: Account, data: RelationshipWrite
) -> Relationship:
    """Create or replace an employee's relationship to a contact, and re-score the account
    (the relationship level is one of its segmentation factors). The employee is one the
    caller may see (asked of the employee lifecycle service with the caller's token)."""
    refs = references.Refs()
    found = bool(await repository.count_of_account(session, account.id, {data.contact_id}))
    refs.local("contact", data.contact_id, ["body", "contact_id"], seen=found)
    refs.employee(data.employee_id, ["body", "employee_id"])
    await refs.check(principal=principal, peers=peers)
    relationship_id = await repository.upsert_relationship(session, {"account_id": account.id, **data.model_dump()})
    await segmentation.evaluate(session=session, account=account)
    return await repository.get_relationship(session, relationship_id)


async def add_influence(*, session: AsyncSession, account: Account, data: InfluenceWrite) -> InfluenceLine:
    if data.from_contact_id == data.to_contact_id:
        raise Unprocessable(
            "A contact does not influence themself.",
            errors=[{"loc": ["body", "to_contact_id"], "msg": "same as from_contact_id"}],
        )
    ids = {data.from_contact_id, data.to_contact_id}
    if await repository.count_of_account(session, account.id, ids) != 2:
        raise _unknown_contact("from_contact_id")
    line = InfluenceLine(account_id=account.id, **data.model_dump())
    session.add(line)
    await session.flush()
    return line


async def relationship_map(*, session: AsyncSession, account: Account) -> dict[str, Any]:
    contacts, relationships, lines = await repository.map_rows(session, account.id)
    truncated = len(contacts) > repository.MAP_CONTACT_LIMIT
    drawn = build_map(
        {"id": account.id, "name": account.name}, contacts[: repository.MAP_CONTACT_LIMIT], relationships, lines
    )
    return {"account_id": account.id, "truncated": truncated, **drawn}
