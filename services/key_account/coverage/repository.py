"""All queries of coverage."""

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal
from services.key_account.accounts.models import CLOSED_STAGES, Account, SharedOpportunity
from services.key_account.accounts.repository import visible
from services.key_account.coverage.models import CoverageMember
from services.key_account.domain.coverage import RULED_TIERS, SOLUTION_ROLES


def valid_on(day: dt.date | Any) -> sa.ColumnElement[bool]:
    return sa.and_(
        CoverageMember.valid_from <= day, sa.or_(CoverageMember.valid_to.is_(None), CoverageMember.valid_to >= day)
    )


async def members_on(session: AsyncSession, account_id: uuid.UUID, day: dt.date) -> list[CoverageMember]:
    stmt = (
        sa.select(CoverageMember)
        .where(CoverageMember.account_id == account_id, valid_on(day))
        .order_by(CoverageMember.role, CoverageMember.valid_from, CoverageMember.id)
    )
    return list((await session.execute(stmt)).scalars())


async def get_member(session: AsyncSession, account_id: uuid.UUID, member_id: uuid.UUID) -> CoverageMember | None:
    stmt = sa.select(CoverageMember).where(CoverageMember.id == member_id, CoverageMember.account_id == account_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def bump_coverage_version(session: AsyncSession, account_id: uuid.UUID) -> int:
    """Core UPDATE: the account's ETag (its `version`) is about its own fields, not its team.
    The row lock orders concurrent team changes, so versions follow commit order."""
    table = Account.__table__
    stmt = (
        sa.update(table)
        .where(table.c.id == account_id)
        .values(coverage_version=table.c.coverage_version + 1)
        .returning(table.c.coverage_version)
    )
    return int((await session.execute(stmt)).scalar_one())


def _count(roles: frozenset[str] | tuple[str, ...], day: dt.date) -> sa.ScalarSelect[Any]:
    return (
        sa.select(sa.func.count())
        .where(CoverageMember.account_id == Account.id, CoverageMember.role.in_(roles), valid_on(day))
        .correlate(Account)
        .scalar_subquery()
    )


def violations_statement(principal: Principal, day: dt.date) -> sa.Select[Any]:
    """Visible strategic/key accounts whose team on `day` (business today) breaks the rule (see domain.coverage)."""
    owners = _count(("account_owner",), day).label("owners")
    solution = _count(SOLUTION_ROLES, day).label("solution_members")
    inner = (
        sa.select(Account.id, Account.name, Account.tier, Account.org_unit_path, Account.created_at, owners, solution)
        .where(Account.tier.in_(RULED_TIERS), visible(principal, day))
        .subquery()
    )
    return sa.select(inner).where(sa.or_(inner.c.owners != 1, inner.c.solution_members == 0))


async def deal_owners(session: AsyncSession, account_ids: list[uuid.UUID], day: dt.date) -> dict[uuid.UUID, list[Any]]:
    """Per account, the owners of its deals who are not on its team on `day`,
    with how many of its deals they own and how many of those are known to be
    open, most deals first: who could cover it. One grouped query for a page."""
    if not account_ids:
        return {}
    opp = SharedOpportunity
    on_team = sa.exists().where(
        CoverageMember.account_id == opp.account_id, CoverageMember.employee_id == opp.owner_id, valid_on(day)
    )
    deals = sa.func.count()
    stmt = (
        sa.select(
            opp.account_id,
            opp.owner_id,
            deals.label("deals"),
            sa.func.count().filter(opp.stage.not_in(CLOSED_STAGES)).label("open_deals"),
        )
        .where(opp.account_id.in_(account_ids), opp.owner_id.is_not(None), ~on_team)
        .group_by(opp.account_id, opp.owner_id)
        .order_by(opp.account_id, deals.desc(), opp.owner_id)
    )
    found: dict[uuid.UUID, list[Any]] = {}
    for row in await session.execute(stmt):
        found.setdefault(row.account_id, []).append(row)
    return found
