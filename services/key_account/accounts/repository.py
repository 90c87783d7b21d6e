"""All queries of the accounts area."""

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from sanlun.kernel.auth import Principal, path_within, sees_only_own, visibility_clause
from services.key_account.accounts.models import Account
from services.key_account.coverage.models import CoverageMember
from services.key_account.domain.importing import UPSERT_FIELDS


def current_coverage() -> sa.ColumnElement[bool]:
    today = sa.func.current_date()
    return sa.and_(
        CoverageMember.valid_from <= today,
        sa.or_(CoverageMember.valid_to.is_(None), CoverageMember.valid_to >= today),
    )


def own_account_ids(employee_id: uuid.UUID) -> sa.Select[Any]:
    """Accounts an employee owns or currently covers, as one UNION (see
    sanlun.kernel.auth.sees_only_own)."""
    return (
        sa.union(
            sa.select(Account.id).where(Account.owner_id == employee_id),
            sa.select(CoverageMember.account_id).where(CoverageMember.employee_id == employee_id, current_coverage()),
        )
        .subquery()
        .select()
    )


def visible(principal: Principal) -> sa.ColumnElement[bool]:
    """Owner, current coverage members and the managers above them, admins of the
    owning organisation, group admins."""
    if sees_only_own(principal):
        return Account.id.in_(own_account_ids(principal.employee_id))  # type: ignore[arg-type]
    member = None
    if principal.employee_id is not None:
        member = Account.id.in_(
            sa.select(CoverageMember.account_id).where(
                CoverageMember.employee_id == principal.employee_id, current_coverage()
            )
        )
    clause = visibility_clause(
        principal, owner_column=Account.owner_id, org_unit_column=Account.org_unit_path, member_clause=member
    )
    if principal.has("manager") and not principal.has("group_admin"):
        covered_below = sa.select(CoverageMember.account_id).where(
            path_within(CoverageMember.org_unit_path, principal.org_unit_path), current_coverage()
        )
        clause = sa.or_(clause, Account.id.in_(covered_below))
    return clause


def name_starts_with(prefix: str) -> sa.ColumnElement[bool]:
    """Case-insensitive prefix match served by `ix_accounts_name_key_id`.

    The pattern is a literal (lowered here, as the column is lowered by
    Postgres) so the planner can turn it into an index range."""
    escaped = prefix.lower().replace("/", "//").replace("%", "/%").replace("_", "/_")
    return Account.name_key.like(escaped + "%", escape="/")


def list_order(*, name_prefix: str | None) -> tuple[Any, ...]:
    """A name search lists alphabetically (the index order); everything else
    in creation order."""
    if name_prefix:
        return (Account.name_key, Account.id)
    return (Account.created_at, Account.id)


def list_statement(
    principal: Principal,
    *,
    name_prefix: str | None = None,
    industry: str | None = None,
    parent_id: uuid.UUID | None = None,
    org_unit: str | None = None,
    tier: str | None = None,
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
    if tier:
        stmt = stmt.where(Account.tier == tier)
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


async def by_external_ids(session: AsyncSession, principal: Principal, external_ids: list[str]) -> list[Any]:
    """Existing accounts for these external ids, with whether the caller may see each."""
    if not external_ids:
        return []
    stmt = sa.select(Account.id, Account.external_id, Account.org_unit_path, visible(principal).label("visible")).where(
        Account.external_id.in_(external_ids)
    )
    return list(await session.execute(stmt))


def account_key(external_id: str | None, account_id: uuid.UUID) -> str:
    return external_id if external_id is not None else f"id:{account_id}"


async def ancestry_of(session: AsyncSession, external_ids: list[str]) -> dict[str, str | None]:
    """Stored account key → parent key, for these accounts and all their ancestors (one recursive query)."""
    if not external_ids:
        return {}
    up = sa.select(Account.id, Account.parent_id).where(Account.external_id.in_(external_ids)).cte("up", recursive=True)
    parent = aliased(Account)
    up = up.union(sa.select(parent.id, parent.parent_id).join(up, parent.id == up.c.parent_id))
    child, par = aliased(Account), aliased(Account)
    stmt = (
        sa.select(child.id, child.external_id, par.id, par.external_id)
        .select_from(up)
        .join(child, child.id == up.c.id)
        .outerjoin(par, par.id == child.parent_id)
    )
    return {
        account_key(ext, cid): (account_key(pext, pid) if pid is not None else None)
        for cid, ext, pid, pext in await session.execute(stmt)
    }


async def upsert_by_external_id(session: AsyncSession, rows: list[dict[str, Any]]) -> list[Any]:
    """One INSERT ... ON CONFLICT for the batch. A field a row leaves out (or sends
    null) keeps its stored value; a row that would change nothing is not written
    (no version bump, so clients' ETags stay valid) and is not returned.
    Returns (id, external_id, inserted) per row written."""
    table = Account.__table__
    stmt = insert(table).values(rows)
    excluded = stmt.excluded
    set_ = {c: sa.func.coalesce(excluded[c], table.c[c]) for c in UPSERT_FIELDS}
    set_["name"] = excluded.name
    fields = list(set_)
    differs = sa.tuple_(*[table.c[c] for c in fields]).is_distinct_from(sa.tuple_(*[set_[c] for c in fields]))
    set_["version"] = table.c.version + 1
    set_["updated_at"] = sa.func.now()
    stmt = stmt.on_conflict_do_update(index_elements=[table.c.external_id], set_=set_, where=differs).returning(
        table.c.id, table.c.external_id, sa.literal_column("xmax = 0").label("inserted")
    )
    return list(await session.execute(stmt))


async def link_parents(session: AsyncSession, links: list[tuple[str, str]]) -> set[str]:
    """Set parent_id from (child external id, parent external id) pairs in one
    UPDATE; returns the external ids of the children whose parent changed."""
    if not links:
        return set()
    v = sa.values(sa.column("child", sa.String), sa.column("parent", sa.String), name="links").data(links)
    table, parent = Account.__table__, aliased(Account.__table__)
    stmt = (
        sa.update(table)
        .where(
            table.c.external_id == v.c.child,
            parent.c.external_id == v.c.parent,
            table.c.parent_id.is_distinct_from(parent.c.id),
        )
        .values(parent_id=parent.c.id, version=table.c.version + 1, updated_at=sa.func.now())
        .returning(table.c.external_id)
    )
    return set((await session.execute(stmt)).scalars())


async def tiers_of(session: AsyncSession, account_ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    stmt = sa.select(Account.id, Account.parent_id, Account.tier, Account.tier_score, Account.tier_reasons).where(
        Account.id.in_(account_ids)
    )
    return {row.id: row for row in await session.execute(stmt)}
