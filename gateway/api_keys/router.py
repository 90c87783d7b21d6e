import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from gateway.api_keys import repository, service
from gateway.api_keys.models import ApiKey
from gateway.api_keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from sanlun.kernel.auth import CurrentPrincipal
from sanlun.kernel.db import DbSession, utcnow
from sanlun.kernel.errors import (
    Forbidden,
    NotFound,
    PreconditionFailed,
    Unauthorized,
    Unprocessable,
    problem_responses,
)
from sanlun.kernel.etag import check_if_match, set_etag
from sanlun.kernel.pagination import Page, Pagination, paginate
from sanlun.kernel.routing import TransactionalRoute
from sanlun.kernel.types import OrgUnitPath

router = APIRouter(
    prefix="/api/v1/api-keys",
    tags=["api-keys"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized, Forbidden),
)

ApiKeyId = Annotated[uuid.UUID, Path(description="The API key's id.")]


def read_model(key: ApiKey) -> ApiKeyRead:
    return ApiKeyRead.model_validate({**_columns(key), "status": service.status_of(key, utcnow())})


def _columns(key: ApiKey) -> dict:
    return {name: getattr(key, name) for name in ApiKeyRead.model_fields if name != "status"}


@router.post(
    "",
    summary="Create an API key for an integrator (the key is shown once)",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    responses=problem_responses(Unprocessable),
)
async def create_api_key(
    data: ApiKeyCreate, request: Request, response: Response, session: DbSession, principal: CurrentPrincipal
) -> ApiKeyCreated:
    """Org admins create keys for their organisation, group admins for any unit.
    Only the key's SHA-256 is stored; the answer is the one place the key appears."""
    if request.headers.get("idempotency-key") is not None:
        # A replay would have to store the key in clear and show it twice.
        raise Unprocessable(
            "Idempotency-Key is not accepted here: a key is shown once. Create another if this answer was lost.",
            errors=[{"loc": ["header", "Idempotency-Key"], "msg": "not accepted when creating API keys"}],
        )
    key, secret = await service.create(session=session, principal=principal, data=data)
    response.headers["Location"] = f"/api/v1/api-keys/{key.id}"
    response.headers["Cache-Control"] = "no-store"
    set_etag(response, key.version)
    return ApiKeyCreated.model_validate({**read_model(key).model_dump(), "key": secret})


@router.get("", summary="List the API keys you administer", response_model=Page[ApiKeyRead])
async def list_api_keys(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    page: Pagination,
    org_unit: Annotated[OrgUnitPath | None, Query(description="Only keys of this org unit and below.")] = None,
) -> Page[ApiKeyRead]:
    service.require_admin(principal)
    stmt = repository.list_statement(principal, org_unit=org_unit)
    rows, next_cursor = await paginate(session, request, stmt, order_by=(ApiKey.created_at, ApiKey.id), params=page)
    return Page[ApiKeyRead](items=[read_model(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/{key_id}",
    summary="Get one API key (never the key itself)",
    response_model=ApiKeyRead,
    responses=problem_responses(NotFound),
)
async def get_api_key(
    key_id: ApiKeyId, response: Response, session: DbSession, principal: CurrentPrincipal
) -> ApiKeyRead:
    key = await service.get(session=session, principal=principal, key_id=key_id)
    set_etag(response, key.version)
    return read_model(key)


@router.delete(
    "/{key_id}",
    summary="Revoke an API key (it stops working on every gateway replica within seconds)",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(NotFound, PreconditionFailed),
)
async def revoke_api_key(
    key_id: ApiKeyId, request: Request, session: DbSession, principal: CurrentPrincipal
) -> Response:
    """Revoking twice is harmless. The record stays, with who revoked it and when."""
    key = await service.get(session=session, principal=principal, key_id=key_id)
    check_if_match(request, key.version)
    await service.revoke(session=session, principal=principal, key=key)
    request.app.state.api_keys.forget(key.key_hash)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
