"""Solution recommendation for an opportunity, with its evidence."""

import asyncio
import datetime as dt
import uuid
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from sanlun.kernel.auth import CurrentPrincipal
from sanlun.kernel.db import DbSession
from sanlun.kernel.errors import NotFound, Unauthorized, problem_responses
from sanlun.kernel.routing import TransactionalRoute
from services.opportunity.opportunities import service as opportunities
from services.opportunity.opportunities.router import OpportunityId
from services.opportunity.recommendations import ranking, repository
from services.opportunity.sales_people.models import SalesPerson

router = APIRouter(
    prefix="/api/v1/opportunities/{opportunity_id}/recommended-solutions",
    tags=["recommendations"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized, NotFound),
)


class Evidence(BaseModel):
    wins_similar_accounts: int = Field(description="Wins in the window with the same industry and size band.")
    wins_industry: int
    losses_industry: int
    wins_overall: int
    win_rate: float = Field(description="Smoothed win rate in the industry (overall rate as the prior).")
    tag_match: float = Field(description="0, 0.5 or 1: the solution is tagged for the industry and/or size band.")
    last_win_month: dt.date | None


class Recommendation(BaseModel):
    solution_id: uuid.UUID
    name: str
    score: float
    evidence: Evidence


class Recommendations(BaseModel):
    opportunity_id: uuid.UUID
    window: dict[str, dt.date]
    items: list[Recommendation]
    owner_stage: str | None = Field(description="The owner's last stage seen; L1 owners also get resources.")
    resources: dict[str, Any] | None = Field(None, description="Reference cases and experts (L1 owners only).")


async def _resources(request: Request, industry: str | None, solution_id: str | None) -> dict[str, Any]:
    settings = request.app.state.settings
    http: httpx.AsyncClient = request.app.state.http
    headers = {k: v for k in ("authorization", "x-request-id") if (v := request.headers.get(k))}
    base = settings.resource_share_url.rstrip("/") + "/api/v1/resources"

    async def fetch(kind: str) -> list[Any]:
        params = {"type": kind, "limit": 5, **({"industry": industry} if industry else {}),
                  **({"solution": solution_id} if solution_id else {})}
        response = await http.get(base, params=params, headers=headers, timeout=settings.http_timeout_seconds)
        response.raise_for_status()
        return list(response.json().get("items", []))

    try:
        cases, experts = await asyncio.gather(fetch("reference_case"), fetch("expert"))
    except (httpx.HTTPError, ValueError) as exc:
        return {"available": False, "reason": f"resource_share: {type(exc).__name__}"}
    return {"available": True, "reference_cases": cases, "experts": experts}


@router.get("", summary="Top solutions for this opportunity, with evidence", response_model=Recommendations)
async def recommend_solutions(
    opportunity_id: OpportunityId,
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    k: Annotated[int, Query(ge=1, le=20, description="How many solutions.")] = 3,
    as_of: Annotated[dt.date | None, Query(description="Evaluate as of this date (default today).")] = None,
    window_months: Annotated[int, Query(ge=1, le=60, description="History window in months.")] = 12,
    include_resources: Annotated[
        bool, Query(description="For an L1 owner, also fetch reference cases and experts from resource sharing.")
    ] = True,
) -> Recommendations:
    o = await opportunities.get(session=session, principal=principal, opportunity_id=opportunity_id)
    until = as_of or dt.date.today()
    since = (until.replace(day=1) - dt.timedelta(days=31 * (window_months - 1))).replace(day=1)
    counts = {r.solution_id: r for r in await repository.outcome_counts(
        session, industry=o.industry, size_band=o.size_band, since=since, until=until)}
    attached = set(o.solution_ids or [])
    candidates, last_win = [], {}
    for s in await repository.active_solutions(session):
        if s.id in attached:
            continue
        c = counts.get(s.id)
        last_win[str(s.id)] = c.last_win_month if c else None
        candidates.append(ranking.Candidate(
            solution_id=str(s.id), name=s.name, industries=tuple(s.industries), size_bands=tuple(s.size_bands),
            **({} if c is None else {
                "wins_similar": int(c.wins_similar), "losses_similar": int(c.losses_similar),
                "wins_industry": int(c.wins_industry), "losses_industry": int(c.losses_industry),
                "wins_all": int(c.wins_all), "losses_all": int(c.losses_all),
            }),
        ))
    ranked = ranking.rank(candidates, industry=o.industry, size_band=o.size_band, k=k)
    items = [Recommendation(
        solution_id=r.candidate.solution_id, name=r.candidate.name, score=r.score,
        evidence=Evidence(
            wins_similar_accounts=r.candidate.wins_similar, wins_industry=r.candidate.wins_industry,
            losses_industry=r.candidate.losses_industry, wins_overall=r.candidate.wins_all, win_rate=r.win_rate,
            tag_match=r.tag_match, last_win_month=last_win.get(r.candidate.solution_id),
        ),
    ) for r in ranked]
    owner = await session.get(SalesPerson, o.owner_id) if o.owner_id else None
    stage = owner.stage if owner else None
    resources = None
    if stage == "L1_SUBSISTENCE" and include_resources:
        resources = await _resources(request, o.industry, str(items[0].solution_id) if items else None)
    return Recommendations(opportunity_id=o.id, window={"since": since, "until": until}, items=items,
                           owner_stage=stage, resources=resources)
