"""The pipeline's two aggregate queries: by stage, and by close month (open
deals by their expected close date, won and lost ones by the date they closed)."""

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, path_within
from services.opportunity.domain.stages import DEFAULT_PROBABILITY, OPEN_STAGES, OUTCOME_STAGES, Stage
from services.opportunity.opportunities import repository as opportunities
from services.opportunity.opportunities.models import Opportunity


def _scope(principal: Principal, scope: str) -> sa.ColumnElement[bool]:
    if scope == "me":
        if principal.employee_id is None:
            # No employee, no deals of one's own (`== None` would be `IS NULL`: every unassigned deal).
            return sa.false()
        mine = [Opportunity.owner_id == principal.employee_id]
        if (member := opportunities.member_clause(principal)) is not None:
            mine.append(member)
        return sa.or_(*mine)
    return path_within(
        Opportunity.org_unit_path, principal.org_unit_path if scope == "team" else principal.organization_path
    )


def add_months(first: dt.date, months: int) -> dt.date:
    index = first.year * 12 + first.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


async def pipeline(
    session: AsyncSession, principal: Principal, *, scope: str, months: int, months_back: int, as_of: dt.date
) -> tuple[Sequence[sa.Row[Any]], Sequence[sa.Row[Any]]]:
    """Rows of (stage or month, currency, n, amount, weighted) within what the
    principal sees; the month rows also count open, won and lost deals, from
    `months_back` months before `as_of`'s month to `months` months from it."""
    probability = sa.func.coalesce(
        Opportunity.win_probability,
        sa.case({s.value: DEFAULT_PROBABILITY[s] for s in Stage}, value=Opportunity.stage, else_=0),
    )
    where = sa.and_(opportunities.visible(principal), _scope(principal, scope))
    measures: list[Any] = [
        Opportunity.currency,
        sa.func.count().label("n"),
        sa.func.sum(Opportunity.amount_value).label("amount"),
        sa.func.sum(Opportunity.amount_value * probability).label("weighted"),
    ]
    by_stage = (
        await session.execute(
            sa.select(Opportunity.stage, *measures)
            .where(where)
            .group_by(Opportunity.stage, Opportunity.currency)
            .order_by(Opportunity.stage, Opportunity.currency)
        )
    ).all()
    first = as_of.replace(day=1)
    since, until = add_months(first, -months_back), add_months(first, months)
    open_stages = [s.value for s in OPEN_STAGES]
    outcomes = [s.value for s in OUTCOME_STAGES]
    is_open = Opportunity.stage.in_(open_stages)
    close_date = sa.case((is_open, Opportunity.expected_close_date), else_=Opportunity.closed_on)
    month = sa.func.date_trunc("month", close_date).cast(sa.Date).label("month")
    in_window = sa.or_(
        sa.and_(is_open, Opportunity.expected_close_date >= since, Opportunity.expected_close_date < until),
        # Abandoned deals have a close date but no forecast value: left out.
        sa.and_(Opportunity.stage.in_(outcomes), Opportunity.closed_on >= since, Opportunity.closed_on < until),
    )
    counts = [
        sa.func.count().filter(is_open).label("open_n"),
        sa.func.count().filter(Opportunity.stage == Stage.WON.value).label("won_n"),
        sa.func.count().filter(Opportunity.stage == Stage.LOST.value).label("lost_n"),
    ]
    # A won deal counts in full and a lost one not at all, whatever probability it last had.
    outcome_probability = sa.case(
        (Opportunity.stage == Stage.WON.value, 1), (Opportunity.stage == Stage.LOST.value, 0), else_=probability
    )
    month_measures = [*measures[:3], sa.func.sum(Opportunity.amount_value * outcome_probability).label("weighted")]
    by_month = (
        await session.execute(
            sa.select(month, *month_measures, *counts)
            .where(where, in_window)
            .group_by(month, Opportunity.currency)
            .order_by(month, Opportunity.currency)
        )
    ).all()
    return by_stage, by_month
