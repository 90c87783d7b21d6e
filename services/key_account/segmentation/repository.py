"""All queries of Who: policies, the relationship input, and writing tiers in bulk."""

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import path_within
from services.key_account.accounts.models import Account
from services.key_account.contacts.models import Relationship
from services.key_account.domain.segmentation import RELATIONSHIP_LEVELS
from services.key_account.segmentation.models import SegmentationPolicy


def level_rank(column: Any) -> sa.ColumnElement[int]:
    """A relationship level's place on vendor → ... → trusted_advisor (0-3), in SQL."""
    return sa.case({level: i for i, level in enumerate(RELATIONSHIP_LEVELS)}, value=column)


async def policy_for(session: AsyncSession, org_unit_path: str) -> SegmentationPolicy | None:
    """The most specific stored policy at or above `org_unit_path` (few rows: one per organisation)."""
    p = SegmentationPolicy.org_path
    stmt = (
        sa.select(SegmentationPolicy)
        .where(sa.or_(p == "/", p == org_unit_path, sa.literal(org_unit_path).startswith(p + "/")))
        .order_by(sa.func.length(p).desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def policies_for(session: AsyncSession, paths: Iterable[str]) -> dict[str, SegmentationPolicy | None]:
    """`policy_for` for several org units at once (the policy table is tiny: read it whole)."""
    rows = list((await session.execute(sa.select(SegmentationPolicy))).scalars())
    out: dict[str, SegmentationPolicy | None] = {}
    for path in set(paths):
        matching = [r for r in rows if r.org_path == "/" or path == r.org_path or path.startswith(r.org_path + "/")]
        out[path] = max(matching, key=lambda r: len(r.org_path)) if matching else None
    return out


async def save_policy(
    session: AsyncSession, *, org_path: str, policy: dict[str, Any], updated_by: uuid.UUID | None
) -> int:
    stmt = (
        insert(SegmentationPolicy)
        .values(org_path=org_path, policy=policy, version=1, updated_by=updated_by)
        .on_conflict_do_update(
            index_elements=[SegmentationPolicy.org_path],
            set_={
                "policy": policy,
                "version": SegmentationPolicy.version + 1,
                "updated_by": updated_by,
                "updated_at": sa.func.now(),
            },
        )
        .returning(SegmentationPolicy.version)
    )
    return int((await session.execute(stmt)).scalar_one())


async def best_relationships(
    session: AsyncSession, account_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, str]]:
    """Per account: the strongest relationship strength and the highest level we hold."""
    if not account_ids:
        return {}
    stmt = (
        sa.select(
            Relationship.account_id, sa.func.max(Relationship.strength), sa.func.max(level_rank(Relationship.level))
        )
        .where(Relationship.account_id.in_(account_ids))
        .group_by(Relationship.account_id)
    )
    return {row[0]: (int(row[1]), RELATIONSHIP_LEVELS[int(row[2])]) for row in await session.execute(stmt)}


async def account_ids_under(session: AsyncSession, org_path: str) -> list[uuid.UUID]:
    stmt = sa.select(Account.id).where(path_within(Account.org_unit_path, org_path)).order_by(Account.id)
    return list((await session.execute(stmt)).scalars())


async def segmentation_inputs(session: AsyncSession, account_ids: Sequence[uuid.UUID]) -> list[Any]:
    stmt = sa.select(
        Account.id,
        Account.org_unit_path,
        Account.annual_revenue_amount,
        Account.annual_revenue_currency,
        Account.potential,
        Account.strategic_value,
        Account.solution_fit,
        Account.tier_override,
    ).where(Account.id.in_(account_ids))
    return list(await session.execute(stmt))


async def write_tiers(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """One UPDATE for many accounts (bulk import): tier, score, reasons."""
    if not rows:
        return
    values = sa.values(
        sa.column("id", sa.Uuid),
        sa.column("computed_tier", sa.String),
        sa.column("tier_score", sa.Numeric),
        sa.column("tier_reasons", sa.dialects.postgresql.JSONB),
        sa.column("tier_policy_version", sa.Integer),
        name="v",
    ).data([(r["id"], r["computed_tier"], r["tier_score"], r["tier_reasons"], r["tier_policy_version"]) for r in rows])
    table = Account.__table__
    await session.execute(
        sa.update(table)
        .where(table.c.id == values.c.id)
        .values(
            computed_tier=values.c.computed_tier,
            tier=sa.func.coalesce(table.c.tier_override, values.c.computed_tier),
            tier_score=values.c.tier_score,
            tier_reasons=values.c.tier_reasons,
            tier_policy_version=values.c.tier_policy_version,
            tier_evaluated_at=sa.func.now(),
            version=table.c.version + 1,
            updated_at=sa.func.now(),
        )
    )
