"""All queries of account plans, their core tasks and incubation."""

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal
from sanlun.kernel.clock import session_clock
from services.key_account.accounts.models import Account
from services.key_account.accounts.repository import visible
from services.key_account.contacts.models import Contact
from services.key_account.contacts.repository import best_level_rank
from services.key_account.domain.plans import PlanFacts
from services.key_account.plans.models import (
    AccountPlan,
    IncubationItem,
    IncumbentContract,
    PlanAction,
    PlanObjective,
    RelationshipTarget,
    WhitespaceCell,
)


def visible_plans(principal: Principal, day: dt.date | None = None) -> sa.Select[Any]:
    """A plan is visible to whoever sees its account explicitly (coverage on `day`,
    business today; implicit sharing through deals does not reach plans)."""
    return sa.select(AccountPlan).join(Account, Account.id == AccountPlan.account_id).where(visible(principal, day))


def plans_statement(
    principal: Principal, *, account_id: uuid.UUID | None = None, day: dt.date | None = None
) -> sa.Select[Any]:
    """The plans a list shows: the visible ones, of one account when `account_id` is given."""
    stmt = visible_plans(principal, day)
    if account_id is not None:
        stmt = stmt.where(AccountPlan.account_id == account_id)
    return stmt


def children_statement(model: Any, plan_id: uuid.UUID) -> sa.Select[Any]:
    """A plan's rows of one kind (objectives, actions, targets...), for a page."""
    return sa.select(model).where(model.plan_id == plan_id)


def incubation_items_statement(plan_id: uuid.UUID, *, status: str | None = None) -> sa.Select[Any]:
    stmt = sa.select(IncubationItem).where(IncubationItem.plan_id == plan_id)
    if status:
        stmt = stmt.where(IncubationItem.status == status)
    return stmt


async def get_visible(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID
) -> tuple[AccountPlan, Account] | None:
    stmt = (
        sa.select(AccountPlan, Account)
        .join(Account, Account.id == AccountPlan.account_id)
        .where(AccountPlan.id == plan_id, visible(principal, session_clock(session).today()))
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


async def period_taken(session: AsyncSession, account_id: uuid.UUID, period: str) -> bool:
    stmt = sa.select(sa.literal(True)).where(AccountPlan.account_id == account_id, AccountPlan.period == period)
    return (await session.execute(stmt)).first() is not None


async def belongs(session: AsyncSession, model: Any, plan_id: uuid.UUID, row_id: uuid.UUID) -> Any:
    stmt = sa.select(model).where(model.id == row_id, model.plan_id == plan_id)
    return (await session.execute(stmt)).scalar_one_or_none()


def _count(model: Any, plan_id: uuid.UUID, *where: Any) -> sa.ScalarSelect[Any]:
    return sa.select(sa.func.count()).select_from(model).where(model.plan_id == plan_id, *where).scalar_subquery()


async def facts(session: AsyncSession, plan: AccountPlan) -> PlanFacts:
    """Everything completeness is judged on, in one round trip."""
    without_actions = (
        sa.select(sa.func.count())
        .select_from(PlanObjective)
        .where(
            PlanObjective.plan_id == plan.id,
            ~sa.exists().where(PlanAction.objective_id == PlanObjective.id),
        )
        .scalar_subquery()
    )
    row = (
        await session.execute(
            sa.select(
                _count(PlanObjective, plan.id),
                without_actions,
                _count(RelationshipTarget, plan.id),
                _count(WhitespaceCell, plan.id),
                _count(WhitespaceCell, plan.id, WhitespaceCell.status == "competitor"),
                _count(IncumbentContract, plan.id),
                _count(IncubationItem, plan.id),
            )
        )
    ).one()
    return PlanFacts(
        has_goal=bool(plan.goal),
        has_value_proposition=bool(plan.value_proposition),
        critical_success_factors=len(plan.critical_success_factors or []),
        objectives=row[0],
        objectives_without_actions=row[1],
        relationship_targets=row[2],
        guiding_team_members=len(plan.guiding_team_members or []),
        whitespace_cells=row[3],
        competitor_facts=row[4] + row[5],
        incubation_items=row[6],
    )


async def targets_with_levels(session: AsyncSession, plan_id: uuid.UUID) -> list[Any]:
    stmt = (
        sa.select(RelationshipTarget, Contact.name, best_level_rank(RelationshipTarget.contact_id).label("best_rank"))
        .join(Contact, Contact.id == RelationshipTarget.contact_id)
        .where(RelationshipTarget.plan_id == plan_id)
        .order_by(RelationshipTarget.created_at, RelationshipTarget.id)
    )
    return list(await session.execute(stmt))


async def upsert_target(session: AsyncSession, values: dict[str, Any]) -> None:
    stmt = insert(RelationshipTarget).values(id=uuid.uuid4(), **values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[RelationshipTarget.plan_id, RelationshipTarget.contact_id],
            set_={
                "target_level": stmt.excluded.target_level,
                "owner_id": stmt.excluded.owner_id,
                "version": RelationshipTarget.version + 1,
                "updated_at": sa.func.now(),
            },
        )
    )


async def upsert_cell(session: AsyncSession, values: dict[str, Any]) -> uuid.UUID:
    stmt = insert(WhitespaceCell).values(id=uuid.uuid4(), **values)
    keep = {"plan_id", "business_unit", "solution"}
    set_ = {k: stmt.excluded[k] for k in values if k not in keep}
    set_.update(version=WhitespaceCell.version + 1, updated_at=sa.func.now())
    stmt = stmt.on_conflict_do_update(
        index_elements=[WhitespaceCell.plan_id, WhitespaceCell.business_unit, WhitespaceCell.solution], set_=set_
    ).returning(WhitespaceCell.id)
    return (await session.execute(stmt)).scalar_one()


async def footprint_rows(session: AsyncSession, plan_id: uuid.UUID) -> tuple[list[Any], list[Any], list[Any]]:
    cells = (
        (
            await session.execute(
                sa.select(WhitespaceCell).where(
                    WhitespaceCell.plan_id == plan_id, WhitespaceCell.status == "competitor"
                )
            )
        )
        .scalars()
        .all()
    )
    contracts = (
        (
            await session.execute(
                sa.select(IncumbentContract)
                .where(IncumbentContract.plan_id == plan_id)
                .order_by(IncumbentContract.expires_on)
            )
        )
        .scalars()
        .all()
    )
    actions = (
        (
            await session.execute(
                sa.select(PlanAction).where(
                    PlanAction.plan_id == plan_id, PlanAction.incumbent_contract_id.is_not(None)
                )
            )
        )
        .scalars()
        .all()
    )
    return list(cells), list(contracts), list(actions)


async def incubation_figures(session: AsyncSession, where: sa.ColumnElement[bool]) -> dict[str, Any]:
    """Counts by status and incubation days (idea → promotion) in one aggregate query."""
    days = sa.extract("epoch", IncubationItem.promoted_at - IncubationItem.created_at) / 86400.0
    stmt = sa.select(
        *[
            sa.func.count().filter(IncubationItem.status == s).label(s)
            for s in ("idea", "validated", "qualified", "promoted", "dropped")
        ],
        sa.func.percentile_cont(0.5).within_group(days).filter(IncubationItem.promoted_at.is_not(None)).label("median"),
        sa.func.avg(days).filter(IncubationItem.promoted_at.is_not(None)).label("mean"),
        sa.func.count().filter(IncubationItem.opportunity_stage == "won").label("won"),
        sa.func.sum(IncubationItem.amount).filter(IncubationItem.status == "promoted").label("promoted_amount"),
    ).where(where)
    return dict((await session.execute(stmt)).mappings().one())


async def lock_item(session: AsyncSession, plan_id: uuid.UUID, item_id: uuid.UUID) -> IncubationItem | None:
    """Row lock held across the promotion call: a concurrent promotion of the same item waits
    and then finds it promoted."""
    stmt = (
        sa.select(IncubationItem)
        .where(IncubationItem.id == item_id, IncubationItem.plan_id == plan_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()
