"""All queries of contacts, relationships and influence lines."""

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.key_account.contacts.models import Contact, InfluenceLine, Relationship
from services.key_account.domain.segmentation import RELATIONSHIP_LEVELS
from services.key_account.segmentation.repository import level_rank

MAP_CONTACT_LIMIT = 2000


def contacts_statement(account_id: uuid.UUID, *, buying_role: str | None = None) -> sa.Select[Any]:
    """An account's contacts, for a page (the caller has checked the account is visible)."""
    stmt = sa.select(Contact).where(Contact.account_id == account_id)
    if buying_role:
        stmt = stmt.where(Contact.buying_role == buying_role)
    return stmt


def relationships_statement(account_id: uuid.UUID) -> sa.Select[Any]:
    return sa.select(Relationship).where(Relationship.account_id == account_id)


def influence_lines_statement(account_id: uuid.UUID) -> sa.Select[Any]:
    return sa.select(InfluenceLine).where(InfluenceLine.account_id == account_id)


def best_level_rank(contact_id: Any) -> sa.ScalarSelect[Any]:
    """The highest level any of our employees holds with the contact `contact_id`
    names (a column of the outer query), or null: one lookup on the
    relationships' (contact_id, employee_id) key."""
    return (
        sa.select(sa.func.max(level_rank(Relationship.level)))
        .where(Relationship.contact_id == contact_id)
        .correlate_except(Relationship)
        .scalar_subquery()
    )


def level_at(rank: int | None) -> str | None:
    return None if rank is None else RELATIONSHIP_LEVELS[rank]


async def get(session: AsyncSession, account_id: uuid.UUID, contact_id: uuid.UUID) -> Contact | None:
    stmt = sa.select(Contact).where(Contact.id == contact_id, Contact.account_id == account_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def count_of_account(session: AsyncSession, account_id: uuid.UUID, ids: set[uuid.UUID]) -> int:
    stmt = sa.select(sa.func.count()).where(Contact.account_id == account_id, Contact.id.in_(ids))
    return int((await session.execute(stmt)).scalar_one())


async def of_account(session: AsyncSession, account_id: uuid.UUID, ids: set[uuid.UUID]) -> set[uuid.UUID]:
    """Of `ids`, the contacts of this account."""
    stmt = sa.select(Contact.id).where(Contact.account_id == account_id, Contact.id.in_(ids))
    return set((await session.execute(stmt)).scalars())


async def in_reporting_chain(session: AsyncSession, *, contact_id: uuid.UUID, start_id: uuid.UUID) -> bool:
    chain = sa.select(Contact.id, Contact.reports_to_id).where(Contact.id == start_id).cte("chain", recursive=True)
    boss = aliased(Contact)
    chain = chain.union(sa.select(boss.id, boss.reports_to_id).join(chain, boss.id == chain.c.reports_to_id))
    return bool((await session.execute(sa.select(sa.exists().where(chain.c.id == contact_id)))).scalar())


async def upsert_relationship(session: AsyncSession, values: dict[str, Any]) -> uuid.UUID:
    stmt = insert(Relationship).values(id=uuid.uuid4(), **values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Relationship.contact_id, Relationship.employee_id],
        set_={
            "level": stmt.excluded.level,
            "strength": stmt.excluded.strength,
            "last_interaction_on": stmt.excluded.last_interaction_on,
            "version": Relationship.version + 1,
            "updated_at": sa.func.now(),
        },
    ).returning(Relationship.id)
    return (await session.execute(stmt)).scalar_one()


async def get_relationship(session: AsyncSession, relationship_id: uuid.UUID) -> Relationship:
    stmt = sa.select(Relationship).where(Relationship.id == relationship_id).execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one()


async def map_rows(session: AsyncSession, account_id: uuid.UUID) -> tuple[list[Any], list[Any], list[Any]]:
    """Contacts, relationships and influence lines of one account: three index scans, plain rows."""
    contacts = (
        (
            await session.execute(
                sa.select(
                    Contact.id,
                    Contact.name,
                    Contact.title,
                    Contact.business_unit,
                    Contact.reports_to_id,
                    Contact.buying_role,
                    Contact.political_status,
                    Contact.decision_orientation,
                )
                .where(Contact.account_id == account_id)
                .order_by(Contact.created_at, Contact.id)
                .limit(MAP_CONTACT_LIMIT + 1)
            )
        )
        .mappings()
        .all()
    )
    relationships = (
        (
            await session.execute(
                sa.select(
                    Relationship.id,
                    Relationship.contact_id,
                    Relationship.employee_id,
                    Relationship.level,
                    Relationship.strength,
                    Relationship.last_interaction_on,
                ).where(Relationship.account_id == account_id)
            )
        )
        .mappings()
        .all()
    )
    lines = (
        (
            await session.execute(
                sa.select(
                    InfluenceLine.id,
                    InfluenceLine.from_contact_id,
                    InfluenceLine.to_contact_id,
                    InfluenceLine.strength,
                    InfluenceLine.note,
                ).where(InfluenceLine.account_id == account_id)
            )
        )
        .mappings()
        .all()
    )
    return list(contacts), list(relationships), list(lines)
