"""All queries of the accounts area."""

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from sanlun.kernel.auth import Principal, path_within, visibility_clause
from services.key_account.accounts.models import Account


def visible(principal: Principal) -> sa.ColumnElement[bool]:
    return visibility_clause(principal, owner_column=Account.owner_id, org_unit_column=Account.org_unit_path)


def name_starts_with(prefix: str) -> sa.ColumnElement[bool]:
    """Case-insensitive prefix match that `ix_accounts_lower_name` can serve."""
    escaped = prefix.replace("/", "//").replace("%", "/%").replace("_", "/_")
    # lower() on both sides in SQL, so the two sides fold case by the same rules.
    return sa.func.lower(Account.name).like(sa.func.lower(escaped + "%"), escape="/")


def list_statement(
    principal: Principal,
    *,
    name_prefix: str | None = None,
    industry: str | None = None,
    parent_id: uuid.UUID | None = None,
    org_unit: str | None = None,
) -> sa.Select[Any]:
    stmt = sa.select(Account).where(visible(principal))
    if name_prefix:
        stmt = stmt.where(name_starts_with(name_prefix))
    if industry:
        stmt = stmt.where(Account.industry == industry)
    if parent_id is not None:
        stmt = stmt.where(Account.parent_id == parent_id)
    if org_unit:
        stmt = stmt.where(path_within(Account.org_unit_path, org_unit))
    return stmt


async def get_visible(session: AsyncSession, principal: Principal, account_id: uuid.UUID) -> Account | None:
    stmt = sa.select(Account).where(Account.id == account_id, visible(principal))
    return (await session.execute(stmt)).scalar_one_or_none()


async def is_visible(session: AsyncSession, principal: Principal, account_id: uuid.UUID) -> bool:
    stmt = sa.select(sa.literal(True)).where(Account.id == account_id, visible(principal))
    return (await session.execute(stmt)).first() is not None


async def external_id_taken(session: AsyncSession, external_id: str, *, excluding: uuid.UUID | None = None) -> bool:
    stmt = sa.select(sa.literal(True)).where(Account.external_id == external_id)
    if excluding is not None:
        stmt = stmt.where(Account.id != excluding)
    return (await session.execute(stmt)).first() is not None


async def lock_hierarchy(session: AsyncSession) -> None:
    """Serialise parent changes until commit: two concurrent re-parentings
    (A under B, B under A) would each pass the cycle check on their own."""
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext("key_account.accounts.parent_id"))))


async def in_ancestry(session: AsyncSession, *, account_id: uuid.UUID, start_id: uuid.UUID) -> bool:
    """Whether `account_id` is `start_id` or one of its ancestors (one recursive query)."""
    chain = sa.select(Account.id, Account.parent_id).where(Account.id == start_id).cte("chain", recursive=True)
    parent = aliased(Account)
    # UNION (not UNION ALL) stops the walk even if a cycle ever slipped in.
    chain = chain.union(sa.select(parent.id, parent.parent_id).join(chain, parent.id == chain.c.parent_id))
    stmt = sa.select(sa.exists().where(chain.c.id == account_id))
    return bool((await session.execute(stmt)).scalar())
