"""Operators' view of implicit sharing: rebuild it from the opportunity service."""

from typing import Annotated

from fastapi import APIRouter, Query

from sanlun.kernel.auth import CurrentPrincipal, require_roles
from sanlun.kernel.db import DbSession
from sanlun.kernel.errors import (
    Forbidden,
    Unauthorized,
    UpstreamTimeout,
    UpstreamUnavailable,
    problem_responses,
)
from sanlun.kernel.peers import PeersDep
from sanlun.kernel.routing import TransactionalRoute
from services.key_account.accounts import sharing
from services.key_account.accounts.schemas import ShareResync

router = APIRouter(
    prefix="/ops/account-shares",
    tags=["operations"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized, Forbidden),
)


@router.post(
    "/resync",
    summary="Rebuild implicit sharing (deal owners and teams read the deal's account) from the opportunity service",
    response_model=ShareResync,
    responses=problem_responses(UpstreamUnavailable, UpstreamTimeout),
)
async def resync_account_shares(
    session: DbSession,
    principal: CurrentPrincipal,
    peers: PeersDep,
    page_size: Annotated[
        int, Query(ge=1, le=1000, description="Opportunities asked for per page of the participants listing.")
    ] = 500,
) -> ShareResync:
    """For installations whose deals came before the events did (an import, a
    restore): reads every page of the opportunity service's participants and
    writes them in one transaction. Newer facts that events brought are kept;
    opportunities no longer listed lose their shares. If the opportunity
    service fails midway, nothing changes (502/504)."""
    require_roles(principal, "ops", "group_admin")
    return ShareResync(**await sharing.resync(session=session, peers=peers, page_size=page_size))
