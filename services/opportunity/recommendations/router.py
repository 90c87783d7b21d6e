"""Solution recommendation for an opportunity, with its evidence; and for many at once."""

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request

from sanlun.kernel.auth import CurrentPrincipal
from sanlun.kernel.clock import check_as_of, request_clock
from sanlun.kernel.errors import NotFound, Unauthorized, Unprocessable, problem_responses
from sanlun.kernel.peers import PeersDep
from sanlun.kernel.routing import TransactionalRoute
from services.opportunity.opportunities import reads
from services.opportunity.opportunities.router import OpportunityId
from services.opportunity.recommendations import service
from services.opportunity.recommendations.schemas import (
    BatchRecommendationRequest,
    BatchRecommendations,
    Recommendations,
)

router = APIRouter(tags=["recommendations"], route_class=TransactionalRoute, responses=problem_responses(Unauthorized))


@router.get(
    "/api/v1/opportunities/{opportunity_id}/recommended-solutions",
    summary="Top solutions for this opportunity, with evidence",
    response_model=Recommendations,
    responses=problem_responses(NotFound, Unprocessable),
)
async def recommend_solutions(
    opportunity_id: OpportunityId,
    request: Request,
    principal: CurrentPrincipal,
    peers: PeersDep,
    k: Annotated[int, Query(ge=1, le=20, description="How many solutions.")] = 3,
    as_of: Annotated[
        dt.date | None,
        Query(
            description=(
                "Evaluate as of this date: the evidence window ends here (default: the business clock's today); "
                "1900-01-01 to 2199-12-31."
            )
        ),
    ] = None,
    window_months: Annotated[int, Query(ge=1, le=60, description="History window in months.")] = 12,
    include_resources: Annotated[
        bool, Query(description="For an L1 owner, also fetch reference cases and experts from resource sharing.")
    ] = True,
) -> Recommendations:
    check_as_of(as_of)
    async with request.app.state.db.read() as conn:
        o = await reads.get_visible(conn, principal, opportunity_id)
        if o is None:
            raise NotFound(f"Opportunity {opportunity_id} was not found.")
        day = as_of or request_clock(request).today()
        (result,) = await service.recommend(conn, [o], k=k, as_of=day, window_months=window_months)
    if result.owner_stage == "L1_SUBSISTENCE" and include_resources:
        top = str(result.items[0].solution_id) if result.items else None
        result.resources = await service.resources(peers, industry=o["industry"], solution_id=top)
    return result


@router.post(
    "/api/v1/opportunities/recommended-solutions:batch-get",
    summary="Top solutions for many opportunities at once (no resources)",
    response_model=BatchRecommendations,
    responses=problem_responses(Unprocessable),
)
async def recommend_solutions_batch(
    data: BatchRecommendationRequest, request: Request, principal: CurrentPrincipal
) -> BatchRecommendations:
    """One call for a page of deals: the catalogue and the roll-up are read once
    per industry and size band rather than once per deal. Ids you may not see
    are listed in `not_found`, exactly like unknown ones."""
    check_as_of(data.as_of, loc="body")
    wanted = list(dict.fromkeys(data.opportunity_ids))
    async with request.app.state.db.read() as conn:
        found = await reads.visible_by_ids(conn, principal, wanted)
        ordered = [found[i] for i in wanted if i in found]
        day = data.as_of or request_clock(request).today()
        items = await service.recommend(conn, ordered, k=data.k, as_of=day, window_months=data.window_months)
    return BatchRecommendations(items=items, not_found=[i for i in wanted if i not in found])
