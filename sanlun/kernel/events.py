"""Events between services: a transactional outbox, an HTTP dispatcher, an idempotent inbox.

    publish(session, Event(...))   one outbox row per subscriber, in the caller's
                                   transaction: no state change without its event
    OutboxDispatcher               delivers pending rows by POST to the subscriber's
                                   /internal/events as CloudEvents JSON
    events_router(handlers)        the consumer side: records each event id in
                                   `inbox` in the same transaction as its effect

Ordering: a row is only claimed when no earlier pending row exists for the same
(subscriber, subject), so events about one subject arrive in order even with
several dispatcher replicas (rows are claimed with FOR UPDATE SKIP LOCKED).
A failing delivery is retried with exponential backoff and full jitter; after
`max_attempts` the row is parked (kept, visible to operators, replayable) and
no longer holds back later events of its subject.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import fnmatch
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa
import structlog
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.db import Database, utcnow

log = structlog.get_logger("sanlun.events")

PENDING, DELIVERED, PARKED = "pending", "delivered", "parked"

DELIVERED_TOTAL = Counter("sanlun_events_delivered_total", "Events delivered", ["service", "subscriber"])
FAILURES_TOTAL = Counter("sanlun_events_delivery_failures_total", "Failed delivery attempts", ["service", "subscriber"])
PARKED_TOTAL = Counter("sanlun_events_parked_total", "Events parked after too many failures", ["service", "subscriber"])
BACKLOG = Gauge("sanlun_outbox_backlog", "Outbox rows by status", ["service", "status"])
DELIVERY_LATENCY = Histogram(
    "sanlun_events_delivery_latency_seconds",
    "From publish (commit) to successful delivery",
    ["service", "subscriber"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)


@dataclass(frozen=True, slots=True)
class Event:
    """A fact that happened: `type` is `<aggregate>.<past-tense verb>`."""

    type: str
    subject: str
    data: Mapping[str, Any]
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    time: dt.datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True)
class Subscriptions:
    """Which event types go to which subscriber: `{subscriber: (pattern, ...)}`
    with fnmatch patterns such as `opportunity.*`."""

    routes: Mapping[str, Sequence[str]]

    def subscribers_of(self, event_type: str, *, source: str) -> list[str]:
        return sorted(
            name
            for name, patterns in self.routes.items()
            if name != source and any(fnmatch.fnmatchcase(event_type, p) for p in patterns)
        )


def outbox_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "outbox",
        metadata,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", JSONB, nullable=False),
        sa.Column("subscriber", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, default=PENDING),
        sa.Column("attempts", sa.Integer, nullable=False, default=0),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("event_id", "subscriber"),
        sa.Index("ix_outbox_pending_id", "id", postgresql_where=sa.text("status = 'pending'")),
        sa.Index("ix_outbox_pending_subject", "subscriber", "subject", "id", postgresql_where=sa.text("status = 'pending'")),
        sa.Index("ix_outbox_status_id", "status", "id"),
        sa.Index("ix_outbox_delivered_at", "delivered_at", postgresql_where=sa.text("status = 'delivered'")),
    )


def inbox_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "inbox",
        metadata,
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Index("ix_inbox_received_at", "received_at"),
    )


@dataclass(frozen=True, slots=True)
class EventsContext:
    """What `publish` needs to know about the process it runs in."""

    source: str
    outbox: sa.Table
    subscriptions: Subscriptions
    channel: str


EVENTS_KEY = "sanlun.events"


async def publish(session: AsyncSession, event: Event) -> int:
    """Write `event` into the outbox inside the caller's transaction; returns
    how many subscribers will receive it. The dispatcher is woken by NOTIFY,
    which Postgres delivers only when the transaction commits."""
    return await publish_many(session, [event])


async def publish_many(session: AsyncSession, events: Sequence[Event], *, chunk: int = 2000) -> int:
    """`publish` for many events at once (evaluating an organisation can
    change thousands of stages): one INSERT per `chunk` rows, one NOTIFY."""
    ctx: EventsContext | None = session.info.get(EVENTS_KEY)
    if ctx is None:
        raise RuntimeError("session has no events context; was it opened by a Sanlun service?")
    now = utcnow()
    rows = [
        {
            "event_id": event.id,
            "type": event.type,
            "source": ctx.source,
            "subject": event.subject,
            "time": event.time,
            "data": dict(event.data),
            "subscriber": name,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for event in events
        for name in ctx.subscriptions.subscribers_of(event.type, source=ctx.source)
    ]
    if not rows:
        return 0
    for start in range(0, len(rows), chunk):
        await session.execute(sa.insert(ctx.outbox), rows[start : start + chunk])
    await session.execute(sa.text(f"NOTIFY {ctx.channel}"))
    return len(rows)


def cloudevent(row: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(row.event_id),
        "type": row.type,
        "source": row.source,
        "subject": row.subject,
        "time": row.time.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": row.data,
    }


def backoff_seconds(attempts: int, *, base: float, cap: float) -> float:
    """Exponential backoff with full jitter (attempts counts failures so far)."""
    return random.uniform(0, min(cap, base * (2 ** max(0, attempts - 1))))


class OutboxDispatcher:
    def __init__(
        self,
        *,
        db: Database,
        context: EventsContext,
        http: httpx.AsyncClient,
        resolve_url: Callable[[str], str | None],
        service_token: Callable[[], str],
        max_attempts: int = 8,
        batch_size: int = 50,
        poll_seconds: float = 1.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 60.0,
        timeout_seconds: float = 5.0,
    ) -> None:
        self.db = db
        self.ctx = context
        self.http = http
        self.resolve_url = resolve_url
        self.service_token = service_token
        self.max_attempts = max_attempts
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.timeout = timeout_seconds
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: Any = None
        self._listen_conn: Any = None

    # -- lifecycle -------------------------------------------------------
    async def start(self) -> None:
        await self._listen()
        self._task = asyncio.create_task(self._run(), name=f"outbox-dispatcher-{self.ctx.source}")

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._task:
            try:
                await asyncio.wait_for(self._task, timeout=self.timeout + 2)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
        if self._listen_conn is not None:
            try:
                await self._listen_conn.close()
            except Exception:  # the connection may already be gone
                pass

    async def _listen(self) -> None:
        try:
            conn = await self.db.engine.connect()
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            await driver.add_listener(self.ctx.channel, lambda *_: self._wake.set())
            self._listen_conn = conn
        except Exception as exc:  # polling still delivers, only later
            log.warning("outbox_listen_failed", error=repr(exc))

    async def _run(self) -> None:
        last_gauge = 0.0
        while not self._stopping.is_set():
            # Clear before looking: a NOTIFY that arrives while we dispatch
            # must wake the next wait, not be lost until the next poll.
            self._wake.clear()
            try:
                handled = await self.dispatch_once()
                if time.monotonic() - last_gauge > 5:
                    await self.update_backlog_gauge()
                    last_gauge = time.monotonic()
            except Exception as exc:  # the loop must survive a database restart
                log.warning("outbox_dispatch_failed", error=repr(exc))
                handled = 0
            if handled:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            except TimeoutError:
                pass

    # -- one round -------------------------------------------------------
    async def dispatch_once(self) -> int:
        """Claim a batch of deliverable rows, deliver them, record outcomes.
        Returns the number of rows handled."""
        t = self.ctx.outbox
        earlier = t.alias("earlier")
        deliverable = (
            sa.select(t)
            .where(
                t.c.status == PENDING,
                t.c.next_attempt_at <= sa.func.now(),
                ~sa.exists().where(
                    earlier.c.subscriber == t.c.subscriber,
                    earlier.c.subject == t.c.subject,
                    earlier.c.status == PENDING,
                    earlier.c.id < t.c.id,
                ),
            )
            .order_by(t.c.id)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True, of=t)
        )
        async with self.db.transaction() as session:
            rows = (await session.execute(deliverable)).all()
            if not rows:
                return 0
            by_subscriber: dict[str, list[Any]] = {}
            for row in rows:
                by_subscriber.setdefault(row.subscriber, []).append(row)
            outcomes: dict[int, str | None] = {}
            for result in await asyncio.gather(*(self._deliver(name, batch) for name, batch in by_subscriber.items())):
                outcomes.update(result)
            delivered = [row for row in rows if outcomes[row.id] is None]
            if delivered:
                await self._record_delivered(session, delivered)
            for row in rows:
                if (error := outcomes[row.id]) is not None:
                    await self._record_failure(session, row, error)
        return len(rows)

    async def _deliver(self, subscriber: str, rows: list[Any]) -> dict[int, str | None]:
        """POST the rows to one subscriber as a CloudEvents batch (one
        transaction there instead of one per event); map each row to None
        (delivered) or its error."""
        url = self.resolve_url(subscriber)
        if not url:
            return {row.id: f"no URL configured for subscriber {subscriber}" for row in rows}
        error: str | None
        try:
            response = await self.http.post(
                url.rstrip("/") + "/internal/events",
                json=[cloudevent(row) for row in rows],
                headers={
                    "Authorization": f"Bearer {self.service_token()}",
                    "Content-Type": "application/cloudevents-batch+json",
                },
                timeout=self.timeout,
            )
        except httpx.TimeoutException:
            error = f"timeout after {self.timeout}s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        else:
            if response.is_success:
                try:
                    failed = {
                        r["id"]: r.get("error") or "failed"
                        for r in response.json()["results"]
                        if r.get("status") == "failed"
                    }
                except (ValueError, KeyError, TypeError):
                    return {row.id: "subscriber answered without per-event results" for row in rows}
                return {row.id: failed.get(str(row.event_id)) for row in rows}
            error = f"HTTP {response.status_code}: {response.text[:300]}"
        return {row.id: error for row in rows}

    async def _record_delivered(self, session: AsyncSession, rows: Sequence[Any]) -> None:
        t = self.ctx.outbox
        await session.execute(
            sa.update(t)
            .where(t.c.id.in_([row.id for row in rows]))
            .values(status=DELIVERED, delivered_at=sa.func.clock_timestamp(), last_error=None)
        )
        now = utcnow()
        for row in rows:
            labels = (self.ctx.source, row.subscriber)
            DELIVERED_TOTAL.labels(*labels).inc()
            DELIVERY_LATENCY.labels(*labels).observe(max(0.0, (now - row.created_at).total_seconds()))

    async def _record_failure(self, session: AsyncSession, row: Any, error: str) -> None:
        t = self.ctx.outbox
        labels = (self.ctx.source, row.subscriber)
        attempts = row.attempts + 1
        FAILURES_TOTAL.labels(*labels).inc()
        if attempts >= self.max_attempts:
            values: dict[str, Any] = {"status": PARKED, "attempts": attempts, "last_error": error}
            PARKED_TOTAL.labels(*labels).inc()
            log.warning("event_parked", event_id=str(row.event_id), type=row.type, subscriber=row.subscriber, error=error)
        else:
            delay = backoff_seconds(attempts, base=self.backoff_base, cap=self.backoff_cap)
            values = {
                "attempts": attempts,
                "last_error": error,
                "next_attempt_at": utcnow() + dt.timedelta(seconds=delay),
            }
        await session.execute(sa.update(t).where(t.c.id == row.id).values(**values))

    async def update_backlog_gauge(self) -> None:
        t = self.ctx.outbox
        async with self.db.transaction() as session:
            counts = dict(
                (
                    await session.execute(
                        sa.select(t.c.status, sa.func.count()).where(t.c.status != DELIVERED).group_by(t.c.status)
                    )
                ).all()
            )
        for status in (PENDING, PARKED):
            BACKLOG.labels(self.ctx.source, status).set(counts.get(status, 0))


EventHandler = Callable[..., Awaitable[None]]
