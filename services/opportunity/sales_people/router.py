from typing import Annotated

from fastapi import APIRouter, Query, Request

from sanlun.kernel.auth import CurrentPrincipal
from sanlun.kernel.db import DbSession
from sanlun.kernel.errors import Unauthorized, problem_responses
from sanlun.kernel.pagination import Page, Pagination, paginate
from sanlun.kernel.routing import TransactionalRoute
from services.opportunity.sales_people import repository
from services.opportunity.sales_people.models import SalesPerson
from services.opportunity.sales_people.schemas import SalesPersonRead

router = APIRouter(
    prefix="/api/v1/assignments",
    tags=["assignments"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized),
)


@router.get(
    "/sales-people",
    summary="Sales people the assignment node knows (kept from employee events)",
    response_model=Page[SalesPersonRead],
)
async def list_sales_people(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    page: Pagination,
    org_unit: Annotated[str | None, Query(max_length=500, description="Only this org unit and below.")] = None,
    active: Annotated[bool | None, Query(description="Only active (true) or inactive (false) people.")] = None,
) -> Page[SalesPersonRead]:
    stmt = repository.list_statement(principal, org_unit=org_unit, active=active)
    rows, next_cursor = await paginate(
        session, request, stmt, order_by=(SalesPerson.name, SalesPerson.employee_id), params=page
    )
    return Page[SalesPersonRead](items=[SalesPersonRead.model_validate(r) for r in rows], next_cursor=next_cursor)
