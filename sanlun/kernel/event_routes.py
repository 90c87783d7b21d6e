"""HTTP side of events: the consumer endpoint and the operators' outbox view.

`/internal/events` accepts only service tokens (HS256 signed with the service
secret, role `service`), never a user's token; the gateway never routes
`/internal/*`. `/ops/outbox` lets an operator (role `ops` or `group_admin`)
see the backlog and parked events with their last error, and replay one or
many (`POST /ops/outbox/replay` with filters).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import jwt
import sqlalchemy as sa
import structlog
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import CurrentPrincipal, Principal, bearer_token, mint_token, require_roles
from sanlun.kernel.db import DbSession, get_session, rows_affected, utcnow
from sanlun.kernel.errors import (
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    UnsupportedMediaType,
    problem_responses,
)
from sanlun.kernel.events import DELIVERED, PARKED, PENDING, Batched, EventHandler
from sanlun.kernel.pagination import Page, Pagination, paginate
from sanlun.kernel.reads import json_response
from sanlun.kernel.routing import TransactionalRoute

SERVICE_ROLE = "service"
log = structlog.get_logger("sanlun.events")


def mint_service_token(secret: str, source: str, ttl_seconds: int = 3600) -> str:
    return mint_token(
        secret, subject=f"service:{source}", org_unit_path="/", roles=[SERVICE_ROLE], ttl_seconds=ttl_seconds
    )


# Service tokens verified already, until they expire: a dispatcher sends the
# same token for an hour, and checking its signature on every delivery cost
# more CPU than recording the event.
_VERIFIED: dict[tuple[str, str], tuple[Principal, float]] = {}
_VERIFIED_MAX = 256


async def authenticate_service(request: Request) -> Principal:
    secret = request.app.state.settings.service_secret.get_secret_value()
    token = bearer_token(request)
    known = _VERIFIED.get((secret, token))
    if known is not None and known[1] > time.time():
        return known[0]
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["sub", "exp"]})
    except jwt.PyJWTError as exc:
        raise Unauthorized("Internal routes need a valid service token.") from exc
    roles = claims.get("roles") or []
    if SERVICE_ROLE not in roles or not str(claims["sub"]).startswith("service:"):
        raise Forbidden("Internal routes accept only service tokens.")
    principal = Principal(subject=str(claims["sub"]), org_unit_path="/", roles=frozenset([SERVICE_ROLE]))
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()
    _VERIFIED[(secret, token)] = (principal, float(claims["exp"]))
    return principal


ServicePrincipal = Annotated[Principal, Depends(authenticate_service)]


class CloudEvent(BaseModel):
    model_config = ConfigDict(extra="allow")

    specversion: str = "1.0"
    id: uuid.UUID
    type: str = Field(min_length=1, max_length=100)
    source: str = Field(min_length=1, max_length=100)
    subject: str = Field(min_length=1, max_length=200)
    time: dt.datetime
    data: dict[str, Any]


class EventResult(BaseModel):
    id: uuid.UUID
    status: Literal["processed", "ignored", "duplicate", "failed"]
    error: str | None = None


class EventReceipt(BaseModel):
    results: list[EventResult]


RECEIVED: TypeAdapter[CloudEvent | list[CloudEvent]] = TypeAdapter(CloudEvent | list[CloudEvent])


async def events_of(request: Request) -> CloudEvent | list[CloudEvent]:
    """The request's event or batch, parsed and validated from its bytes."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media and media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        raise UnsupportedMediaType(f"Send the events as application/cloudevents-batch+json (got {media}).")
    body = await request.body()
    if not body:
        raise RequestValidationError([{"loc": ("body",), "msg": "Field required", "type": "missing"}])
    try:
        return RECEIVED.validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from exc


def internal_events_router(inbox: sa.Table, handlers: Mapping[str, EventHandler | Batched]) -> APIRouter:
    router = APIRouter(tags=["internal"], route_class=TransactionalRoute, include_in_schema=False)
    # One statement for any number of events (arrays, not a VALUES row per
    # event): built once, compiled once, and its RETURNING names the new ones.
    received = (
        sa.func.unnest(
            sa.bindparam("ids", type_=ARRAY(sa.Uuid)),
            sa.bindparam("types", type_=ARRAY(sa.String)),
            sa.bindparam("sources", type_=ARRAY(sa.String)),
        )
        .table_valued("event_id", "type", "source")
        .render_derived()
    )
    record = (
        insert(inbox)
        .from_select(
            ["event_id", "type", "source", "received_at"],
            sa.select(
                received.c.event_id,
                received.c.type,
                received.c.source,
                sa.bindparam("received_at", type_=sa.DateTime(timezone=True)),
            ),
        )
        .on_conflict_do_nothing()
        .returning(inbox.c.event_id)
    )

    async def first_seen(session: AsyncSession, events: list[CloudEvent]) -> set[uuid.UUID]:
        """Insert the inbox rows of `events` in one statement; the ids not seen before."""
        unique = list({e.id: e for e in events}.values())
        params = {
            "ids": [e.id for e in unique],
            "types": [e.type for e in unique],
            "sources": [e.source for e in unique],
            "received_at": utcnow(),
        }
        return set((await session.execute(record, params)).scalars())

    Handler = EventHandler | Batched | None
    Run = tuple[Handler, list[CloudEvent]]

    def runs(batch: list[CloudEvent]) -> list[Run]:
        """The batch in order, cut into runs: consecutive events of one
        `Batched` handler, or of no handler; an event of a one-by-one handler
        alone."""
        cut: list[Run] = []
        for event in batch:
            handler = handlers.get(event.type)
            if cut and (handler is None or isinstance(handler, Batched)) and cut[-1][0] == handler:
                cut[-1][1].append(event)  # the same handle, or none
            else:
                cut.append((handler, [event]))
        return cut

    async def apply(session: AsyncSession, handler: Handler, events: list[CloudEvent]) -> list[EventResult]:
        """One run: its inbox rows in one statement, then its handler on the
        events not seen before."""
        new = await first_seen(session, events)
        done = "ignored" if handler is None else "processed"
        fresh, results = [], []
        for e in events:
            if e.id in new:
                new.discard(e.id)  # a repeat of an id inside the run is a duplicate
                fresh.append(e)
                results.append(EventResult(id=e.id, status=done))
            else:
                results.append(EventResult(id=e.id, status="duplicate"))
        if not fresh or handler is None:
            return results
        if isinstance(handler, Batched):
            await handler.handle(session=session, events=fresh)
        else:
            await handler(session=session, event=fresh[0])
        return results

    async def in_savepoint(session: AsyncSession, handler: Handler, events: list[CloudEvent]) -> list[EventResult]:
        async with session.begin_nested():
            return await apply(session, handler, events)

    async def one_by_one(session: AsyncSession, handler: Handler, events: list[CloudEvent]) -> list[EventResult]:
        """Each event in a savepoint of its own: only the event that really
        fails is reported `failed` (and leaves no inbox row: its redelivery
        is new)."""
        results: list[EventResult] = []
        for event in events:
            try:
                results += await in_savepoint(session, handler, [event])
            except Exception as exc:  # noqa: BLE001 - reported per event; the sender retries it
                log.warning("event_failed", event_id=str(event.id), type=event.type, error=repr(exc))
                results.append(EventResult(id=event.id, status="failed", error=f"{type(exc).__name__}: {exc}"[:300]))
        return results

    async def guarded(session: AsyncSession, handler: Handler, events: list[CloudEvent]) -> list[EventResult]:
        """A run in a savepoint; if it fails, its events one by one."""
        if len(events) > 1:
            try:
                return await in_savepoint(session, handler, events)
            except Exception as exc:  # noqa: BLE001 - one by one below finds the culprit
                log.info("event_run_retried_alone", events=len(events), error=repr(exc))
        return await one_by_one(session, handler, events)

    @router.post("/internal/events", summary="Receive events from another service", response_model=EventReceipt)
    async def receive_events(request: Request) -> Response:
        """One event (structured mode) or a batch, applied in order. Each
        event's effect commits with its inbox row or neither does.
        Consecutive events of a `Batched` handler are applied together (one
        inbox statement, one call), and so are consecutive events nobody
        handles (recorded, `ignored`). The batch is first applied straight in
        the request's transaction, without a savepoint; if an event fails,
        that is rolled back and the batch applied again with a savepoint per
        run (and per event in the run that failed), so a failing event is
        reported `failed` and the sender retries only it.

        Every delivery of every event passes here, so the route does by hand
        what FastAPI's dependencies and body parsing would (the service
        token, pydantic-core parsing the JSON bytes, the session), at a
        fraction of their CPU; an invalid body answers as FastAPI's would."""
        await authenticate_service(request)
        events = await events_of(request)
        session = await get_session(request)
        batch = runs(events if isinstance(events, list) else [events])
        results: list[EventResult] = []
        failed = 0
        try:
            for failed, (handler, run) in enumerate(batch):  # noqa: B007 - `failed` names the run that raised
                results += await apply(session, handler, run)
            return json_response(EventReceipt(results=results))
        except Exception as exc:  # noqa: BLE001 - applied again below, in savepoints
            log.info("event_batch_retried_in_savepoints", events=sum(len(r) for _, r in batch), error=repr(exc))
            await session.rollback()
        results = []
        for i, (handler, run) in enumerate(batch):
            # The run that failed goes one by one at once; the others may still go whole.
            results += await (one_by_one if i == failed else guarded)(session, handler, run)
        return json_response(EventReceipt(results=results))

    return router


class OutboxEntry(BaseModel):
    id: int
    event_id: uuid.UUID
    type: str
    subject: str
    subscriber: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    first_failed_at: dt.datetime | None = Field(
        None,
        description="When a delivery of this entry first failed; it is parked once it has failed this long "
        "ago by more than the retry horizon. A replay clears it.",
    )


class OutboxReplayRequest(BaseModel):
    """Which outbox entries to send again; every filter is optional and they
    combine with AND. `{}` replays every parked entry of this service."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "subscriber": "opportunity",
                    "type": "employee.*",
                    "since": "2026-11-26T00:00:00Z",
                    "until": "2026-11-27T00:00:00Z",
                    "status": "parked",
                }
            ]
        },
    )

    subscriber: str | None = Field(None, min_length=1, max_length=100, description="Only entries for this subscriber.")
    type: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_.*?-]+$",
        description="Event type, exact or a pattern with `*` (any run of characters) and `?` (one character), "
        "e.g. `employee.*`.",
    )
    since: AwareDatetime | None = Field(None, description="Only entries created at or after this instant.")
    until: AwareDatetime | None = Field(None, description="Only entries created before this instant.")
    status: Literal["parked", "pending"] = Field(
        "parked",
        description="`parked`: send parked entries again. `pending`: send waiting entries now instead "
        "of after their backoff.",
    )

    @field_validator("until")
    @classmethod
    def _until_after_since(cls, until: dt.datetime | None, info: ValidationInfo) -> dt.datetime | None:
        since = info.data.get("since")
        if until is not None and since is not None and until <= since:
            raise ValueError("until must be later than since")
        return until


class OutboxReplayResult(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"queued": 24}]})

    queued: int = Field(description="How many entries were set pending, due now.")


def _like_pattern(pattern: str) -> str:
    """An fnmatch-style `*`/`?` pattern as a LIKE pattern (`_` escaped)."""
    return pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("*", "%").replace("?", "_")


class OutboxSummary(BaseModel):
    service: str
    pending: int
    parked: int
    oldest_pending_at: dt.datetime | None


def _operator(principal: Principal) -> None:
    require_roles(principal, "ops", "group_admin")


def ops_router(outbox: sa.Table, service: str) -> APIRouter:
    router = APIRouter(
        prefix="/ops/outbox",
        tags=["operations"],
        route_class=TransactionalRoute,
        responses=problem_responses(Unauthorized, Forbidden),
    )

    @router.get("/summary", summary="Outbox backlog of this service", response_model=OutboxSummary)
    async def outbox_summary(session: DbSession, principal: CurrentPrincipal) -> OutboxSummary:
        _operator(principal)
        row = (
            await session.execute(
                sa.select(
                    sa.func.count().filter(outbox.c.status == PENDING),
                    sa.func.count().filter(outbox.c.status == PARKED),
                    sa.func.min(outbox.c.created_at).filter(outbox.c.status == PENDING),
                ).where(outbox.c.status != DELIVERED)
            )
        ).one()
        return OutboxSummary(service=service, pending=row[0], parked=row[1], oldest_pending_at=row[2])

    @router.get(
        "", summary="List outbox entries (backlog or parked) with their last error", response_model=Page[OutboxEntry]
    )
    async def list_outbox(
        request: Request,
        session: DbSession,
        principal: CurrentPrincipal,
        page: Pagination,
        status: Annotated[Literal["pending", "parked", "delivered"], Query(description="Which entries.")] = "parked",
    ) -> Page[OutboxEntry]:
        _operator(principal)
        stmt = sa.select(outbox).where(outbox.c.status == status)
        rows, next_cursor = await paginate(session, request, stmt, order_by=(outbox.c.id,), params=page, scalars=False)
        return Page[OutboxEntry](
            items=[OutboxEntry.model_validate(r, from_attributes=True) for r in rows], next_cursor=next_cursor
        )

    @router.post("/replay", summary="Replay parked (or waiting) events in bulk", response_model=OutboxReplayResult)
    async def replay_outbox_entries(
        body: OutboxReplayRequest, session: DbSession, principal: CurrentPrincipal
    ) -> OutboxReplayResult:
        """Set every matching entry pending and due now, with its attempts and
        failure clock reset, and wake the dispatcher. Ordering per subject is
        kept: the dispatcher still sends an earlier event of a subject first."""
        _operator(principal)
        conditions = [outbox.c.status == body.status]
        if body.subscriber is not None:
            conditions.append(outbox.c.subscriber == body.subscriber)
        if body.type is not None:
            if "*" in body.type or "?" in body.type:
                conditions.append(outbox.c.type.like(_like_pattern(body.type), escape="\\"))
            else:
                conditions.append(outbox.c.type == body.type)
        if body.since is not None:
            conditions.append(outbox.c.created_at >= body.since)
        if body.until is not None:
            conditions.append(outbox.c.created_at < body.until)
        queued = rows_affected(
            await session.execute(
                sa.update(outbox)
                .where(*conditions)
                .values(status=PENDING, attempts=0, next_attempt_at=utcnow(), first_failed_at=None)
            )
        )
        if queued:
            await session.execute(sa.text(f"NOTIFY sanlun_outbox_{service}"))
        log.info(
            "outbox_replayed",
            service=service,
            queued=queued,
            by=principal.subject,
            **body.model_dump(mode="json", exclude_none=True),
        )
        return OutboxReplayResult(queued=queued)

    @router.post(
        "/{entry_id}/replay",
        summary="Replay a parked event",
        response_model=OutboxEntry,
        responses=problem_responses(NotFound, Conflict),
    )
    async def replay_outbox_entry(
        entry_id: Annotated[int, Path(description="Outbox entry id.")], session: DbSession, principal: CurrentPrincipal
    ) -> OutboxEntry:
        _operator(principal)
        row = (await session.execute(sa.select(outbox).where(outbox.c.id == entry_id).with_for_update())).first()
        if row is None:
            raise NotFound(f"Outbox entry {entry_id} was not found.")
        if row.status != PARKED:
            raise Conflict(f"Outbox entry {entry_id} is {row.status}; only parked entries can be replayed.")
        updated = (
            await session.execute(
                sa.update(outbox)
                .where(outbox.c.id == entry_id)
                .values(status=PENDING, attempts=0, next_attempt_at=utcnow(), first_failed_at=None)
                .returning(outbox)
            )
        ).one()
        await session.execute(sa.text(f"NOTIFY sanlun_outbox_{service}"))
        return OutboxEntry.model_validate(updated, from_attributes=True)

    return router
