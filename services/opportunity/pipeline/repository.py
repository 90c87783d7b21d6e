"""The pipeline's two aggregate queries: by stage, and open deals by expected close month."""

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, path_within
from services.opportunity.domain.stages import DEFAULT_PROBABILITY, OPEN_STAGES, Stage
from services.opportunity.opportunities import repository as opportunities
from services.opportunity.opportunities.models import Opportunity


def _scope(principal: Principal, scope: str) -> sa.ColumnElement[bool]:
    if scope == "me":
        mine = [Opportunity.owner_id == principal.employee_id]
        if (member := opportunities.member_clause(principal)) is not None:
            mine.append(member)
        return sa.or_(*mine)
    return path_within(
        Opportunity.org_unit_path, principal.org_unit_path if scope == "team" else principal.organization_path
    )


async def pipeline(
    session: AsyncSession, principal: Principal, *, scope: str, months: int
) -> tuple[Sequence[sa.Row[Any]], Sequence[sa.Row[Any]]]:
    """Rows of (stage or month, currency, n, amount, weighted) within what the principal sees."""
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
    first = dt.date.today().replace(day=1)
    month = sa.func.date_trunc("month", Opportunity.expected_close_date).cast(sa.Date).label("month")
    by_month = (
        await session.execute(
            sa.select(month, *measures)
            .where(
                where,
                Opportunity.stage.in_([s.value for s in OPEN_STAGES]),
                Opportunity.expected_close_date >= first,
                Opportunity.expected_close_date < first + dt.timedelta(days=31 * months),
            )
            .group_by(month, Opportunity.currency)
            .order_by(month, Opportunity.currency)
        )
    ).all()
    return by_stage, by_month
