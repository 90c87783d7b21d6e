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
A failing delivery is retried with capped exponential backoff and jitter for
as long as the retry horizon (a day by default: outages and deploys never park
anything); only a row that has been failing for longer is parked (kept,
visible to operators, replayable one by one or in bulk) and no longer holds
back later events of its subject. A subscriber that fails as a whole is
probed once per backoff step, and its first success releases its whole
backlog at once. The LISTEN connection that wakes the dispatcher is
re-established whenever it is lost; meanwhile the dispatcher polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import fnmatch
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import aiohttp
import asyncpg
import pydantic_core
import sqlalchemy as sa
import structlog
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.clock import session_clock
from sanlun.kernel.db import Database, utcnow
from sanlun.kernel.reads import Prebuilt

log = structlog.get_logger("sanlun.events")

PENDING, DELIVERED, PARKED = "pending", "delivered", "parked"

DELIVERED_TOTAL = Counter("sanlun_events_delivered_total", "Events delivered", ["service", "subscriber"])
FAILURES_TOTAL = Counter("sanlun_events_delivery_failures_total", "Failed delivery attempts", ["service", "subscriber"])
PARKED_TOTAL = Counter("sanlun_events_parked_total", "Events parked after too many failures", ["service", "subscriber"])
BACKLOG = Gauge("sanlun_outbox_backlog", "Outbox rows by status", ["service", "status"])
SUBSCRIBER_PENDING = Gauge(
    "sanlun_outbox_pending_events", "Events waiting for delivery, per subscriber", ["service", "subscriber"]
)
SUBSCRIBER_PARKED = Gauge("sanlun_outbox_parked_events", "Parked events, per subscriber", ["service", "subscriber"])
OLDEST_PENDING_AGE = Gauge(
    "sanlun_outbox_oldest_pending_age_seconds",
    "Age of the oldest event waiting for delivery, per subscriber (0 when none)",
    ["service", "subscriber"],
)
SUBSCRIBER_FAILING = Gauge(
    "sanlun_events_subscriber_failing",
    "1 while deliveries to the subscriber fail as a whole (probed, not hammered)",
    ["service", "subscriber"],
)
LISTENING = Gauge("sanlun_outbox_listening", "1 while the dispatcher's LISTEN connection is up", ["service"])

# A round in flight at shutdown gets this long to record its outcome (see `stop`).
STOP_GRACE_SECONDS = 1.0
# Re-listening after a lost LISTEN connection: at once, then backing off while
# the database refuses connections.
RELISTEN_MIN_SECONDS = 0.2
RELISTEN_MAX_SECONDS = 10.0
# A claim locks at most this many windows of due rows while looking for rows
# whose subject has no earlier pending row (see OutboxDispatcher._claim).
CLAIM_WINDOWS = 4
STRINGS = ARRAY(sa.String)
BIGINTS = ARRAY(sa.BigInteger)
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
    # When it happened in business time; None = now by the publishing
    # session's clock (sanlun.kernel.clock), so a simulated day's facts carry
    # that day.
    time: dt.datetime | None = None


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
        # When a delivery of this row first failed (the retry horizon runs from
        # here); a replay clears it.
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("event_id", "subscriber"),
        sa.Index("ix_outbox_pending_id", "id", postgresql_where=sa.text("status = 'pending'")),
        sa.Index(
            "ix_outbox_pending_subject", "subscriber", "subject", "id", postgresql_where=sa.text("status = 'pending'")
        ),
        sa.Index("ix_outbox_status_id", "status", "id"),
        sa.Index("ix_outbox_delivered_at", "delivered_at", postgresql_where=sa.text("status = 'delivered'")),
        # Backlog gauges, parking past the horizon and bulk replay, by subscriber.
        sa.Index(
            "ix_outbox_waiting",
            "subscriber",
            "status",
            "created_at",
            postgresql_where=sa.text("status IN ('pending', 'parked')"),
        ),
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


@dataclass(slots=True, eq=False)
class EventsContext:
    """What `publish` needs to know about the process it runs in."""

    source: str
    outbox: sa.Table
    subscriptions: Subscriptions
    channel: str
    # Outbox rows published by this process since the dispatcher last had the
    # table analyzed (see OutboxDispatcher._analyze_if_grown).
    published: int = field(default=0, compare=False)


EVENTS_KEY = "sanlun.events"
# Published rows after which the dispatcher refreshes the outbox's statistics.
ANALYZE_AFTER_ROWS = 2000


async def publish(session: AsyncSession, event: Event) -> int:
    """Write `event` into the outbox inside the caller's transaction; returns
    how many subscribers will receive it. The dispatcher is woken by NOTIFY,
    which Postgres delivers only when the transaction commits."""
    return await publish_many(session, [event])


async def publish_many(session: AsyncSession, events: Sequence[Event]) -> int:
    """`publish` for many events at once (a bulk upsert or evaluating an
    organisation can change thousands of records): one INSERT of every outbox
    row (each column an array), one NOTIFY."""
    ctx: EventsContext | None = session.info.get(EVENTS_KEY)
    if ctx is None:
        raise RuntimeError("session has no events context; was it opened by a Sanlun service?")
    happened = session_clock(session).now()
    subscribers: dict[str, list[str]] = {}
    rows: list[tuple[Any, ...]] = []
    for event in events:
        names = subscribers.get(event.type)
        if names is None:
            names = subscribers[event.type] = ctx.subscriptions.subscribers_of(event.type, source=ctx.source)
        if names:
            data = json.dumps(dict(event.data))
            rows += [(event.id, event.type, event.subject, event.time or happened, data, name) for name in names]
    if not rows:
        return 0
    ctx.published += len(rows)
    columns = zip(
        ("ids", "types", "subjects", "times", "data", "names"), map(list, zip(*rows, strict=True)), strict=True
    )
    await session.execute(
        sa.text(
            f"INSERT INTO {ctx.outbox.fullname} (event_id, type, source, subject, time, data, subscriber, status, "  # noqa: S608 - the table's own name; values are bound
            "attempts, next_attempt_at, created_at) SELECT e, t, :source, s, h, CAST(d AS jsonb), n, :status, 0, "
            ":now, :now FROM unnest(CAST(:ids AS uuid[]), CAST(:types AS text[]), CAST(:subjects AS text[]), "
            "CAST(:times AS timestamptz[]), CAST(:data AS text[]), CAST(:names AS text[])) AS r(e, t, s, h, d, n)"
        ),
        {**dict(columns), "source": ctx.source, "status": PENDING, "now": utcnow()},
    )
    await session.execute(sa.text(f"NOTIFY {ctx.channel}"))
    return len(rows)


def cloudevents_batch(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """Outbox rows as a CloudEvents JSON batch; each row's `data` is the JSON
    text Postgres stored, spliced in as it is (not parsed and written again)."""
    events = []
    for row in rows:
        head = pydantic_core.to_json(
            {
                "specversion": "1.0",
                "id": str(row["event_id"]),
                "type": row["type"],
                "source": row["source"],
                "subject": row["subject"],
                "time": row["time"].astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
                "datacontenttype": "application/json",
            }
        )
        events.append(head[:-1] + b',"data":' + row["data"].encode() + b"}")
    return b"[" + b",".join(events) + b"]"


def backoff_seconds(attempts: int, *, base: float, cap: float) -> float:
    """Exponential backoff, capped, with "equal" jitter (attempts counts
    failures so far): somewhere between half the step and the step, so the
    wait never exceeds `cap` and never collapses to zero."""
    step = min(cap, base * 2.0 ** max(0, attempts - 1))
    return step / 2 + random.uniform(0, step / 2)  # noqa: S311 - jitter, not a secret


@dataclass(slots=True)
class SubscriberHealth:
    """What this dispatcher knows about one subscriber. `healthy` is False
    until a delivery has succeeded (after a start nobody knows, so the first
    success releases whatever an earlier process left waiting)."""

    healthy: bool = False
    failures: int = 0
    failing_since: dt.datetime | None = None
    probe_at: dt.datetime | None = None
    last_error: str | None = None


async def _changed(conn: asyncpg.Connection, statement: Prebuilt, params: Mapping[str, Any]) -> int:
    """Run an UPDATE; how many rows it changed."""
    status: str = await conn.execute(statement.sql, *statement.args(params))
    return int(status.rsplit(" ", 1)[-1]) if status[-1:].isdigit() else 0


class RoundStatements:
    """Every statement a dispatcher's round sends, built for its outbox and
    compiled once for asyncpg (`Prebuilt`)."""

    def __init__(self, t: sa.Table) -> None:
        def param(name: str, column: sa.Column[Any]) -> sa.BindParameter[Any]:
            return sa.bindparam(name, type_=column.type)

        ids = sa.bindparam("ids", type_=BIGINTS)
        # The due rows, `data` as the JSON text Postgres stored (sent on as it is).
        self.due = Prebuilt(
            sa.select(*(c for c in t.c if c.name != "data"), sa.cast(t.c.data, sa.Text).label("data"))
            .where(
                t.c.status == PENDING,
                t.c.next_attempt_at <= param("now", t.c.next_attempt_at),
                t.c.id > param("after", t.c.id),
                t.c.subscriber != sa.all_(sa.bindparam("waiting", type_=STRINGS)),
                t.c.subject != sa.all_(sa.bindparam("seen", type_=STRINGS)),
            )
            .order_by(t.c.id)
            .limit(sa.bindparam("limit", type_=sa.Integer))
            .with_for_update(skip_locked=True)
        )
        self.earliest = Prebuilt(
            sa.select(t.c.subscriber, t.c.subject, sa.func.min(t.c.id))
            .where(
                t.c.status == PENDING,
                t.c.id <= param("top", t.c.id),
                t.c.subscriber == sa.any_(sa.bindparam("subscribers", type_=STRINGS)),
                t.c.subject == sa.any_(sa.bindparam("subjects", type_=STRINGS)),
            )
            .group_by(t.c.subscriber, t.c.subject)
        )
        self.delivered = Prebuilt(
            sa.update(t)
            .where(t.c.id == sa.any_(ids))
            .values(status=DELIVERED, delivered_at=sa.func.clock_timestamp(), last_error=None)
        )
        # One event refused: its own backoff (next_attempt_at), or parked.
        self.refused = Prebuilt(
            sa.update(t)
            .where(t.c.id == param("id", t.c.id))
            .values(
                attempts=param("attempts", t.c.attempts),
                last_error=param("error", t.c.last_error),
                first_failed_at=param("first_failed_at", t.c.first_failed_at),
                status=param("status", t.c.status),
                next_attempt_at=sa.func.coalesce(param("next_attempt_at", t.c.next_attempt_at), t.c.next_attempt_at),
            )
        )
        # The subscriber failed: the rows sent wait for the probe, every row
        # waiting for it has failed from now on, those past the horizon park.
        now = param("now", t.c.first_failed_at)
        self.failed = Prebuilt(
            sa.update(t)
            .where(t.c.id == sa.any_(ids))
            .values(
                attempts=t.c.attempts + 1,
                last_error=param("error", t.c.last_error),
                next_attempt_at=param("probe_at", t.c.next_attempt_at),
                first_failed_at=sa.func.coalesce(t.c.first_failed_at, now),
            )
        )
        waiting = sa.and_(t.c.subscriber == param("subscriber", t.c.subscriber), t.c.status == PENDING)
        self.failing_since = Prebuilt(
            sa.update(t).where(waiting, t.c.first_failed_at.is_(None)).values(first_failed_at=now)
        )
        self.past_horizon = Prebuilt(
            sa.update(t)
            .where(waiting, t.c.first_failed_at <= param("horizon_start", t.c.first_failed_at))
            .values(status=PARKED, last_error=sa.func.coalesce(t.c.last_error, param("error", t.c.last_error)))
            .returning(t.c.event_id, t.c.type)
        )
        # The subscriber answered: what waits for its own backoff goes now.
        self.release = Prebuilt(
            sa.update(t)
            .where(waiting, t.c.next_attempt_at > param("now", t.c.next_attempt_at))
            .values(next_attempt_at=param("now", t.c.next_attempt_at))
        )


class OutboxDispatcher:
    """Delivers the outbox of one service; see the module docstring.

    A subscriber that fails as a whole (unreachable, timeout, non-2xx) is
    *probed*: its rows are not claimed again before `probe_at`, and then one
    batch goes (the probe), so a subscriber that is down for an hour gets one
    request per backoff step, at most `backoff_cap` apart. The first success
    releases every row of that subscriber that still waits for its own
    backoff, and the backlog drains at once. An event is parked only once it
    has waited `retry_horizon` since its first failed delivery (the subscriber
    failing counts as a failure of every event waiting for it). A single event
    the subscriber refuses (reported `failed` in a 2xx answer: its handler
    raised, which a retry seldom mends) backs off on its own and parks after
    `max_attempts` refusals or the horizon, whichever comes first, so it holds
    back the later events of its subject for about a minute, not a day.
    `now` is the dispatcher's clock (tests move it).
    """

    def __init__(
        self,
        *,
        db: Database,
        context: EventsContext,
        resolve_url: Callable[[str], str | None],
        service_token: Callable[[], str],
        retry_horizon_seconds: float = 86_400.0,
        max_attempts: int = 8,
        batch_size: int = 50,
        max_batch_size: int = 500,
        lanes: int = 2,
        poll_seconds: float = 1.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 10.0,
        timeout_seconds: float = 5.0,
        metrics_interval_seconds: float = 5.0,
        listen_check_seconds: float = 30.0,
        now: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.db = db
        self.ctx = context
        self.resolve_url = resolve_url
        self.service_token = service_token
        self.retry_horizon = dt.timedelta(seconds=retry_horizon_seconds)
        self.max_attempts = max_attempts
        self.batch_size = batch_size
        self.max_batch_size = max(batch_size, max_batch_size)
        self.lanes = max(1, lanes)
        self._batch = batch_size  # the next claim's size: grows while a backlog drains
        self.poll_seconds = poll_seconds
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.timeout = timeout_seconds
        self.metrics_interval = metrics_interval_seconds
        self.listen_check_seconds = listen_check_seconds
        self.now = now
        self.health: dict[str, SubscriberHealth] = {}
        self._wake = asyncio.Event()
        self._extra_lanes = 0
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listen_conn: Any = None
        self._listen_driver: Any = None
        self._listen_lost = False
        self._listened_once = False
        self._relisten_delay = RELISTEN_MIN_SECONDS
        self._relisten_at = 0.0
        self._listen_checked_at = 0.0
        self._gauged: set[str] = set()
        self._sql = RoundStatements(context.outbox)
        self._analyze_after = ANALYZE_AFTER_ROWS  # published rows before the next ANALYZE (`_analyze_if_grown`)
        self._delivery: aiohttp.ClientSession | None = None  # opened on the first delivery, closed by `close`

    # -- lifecycle -------------------------------------------------------
    async def start(self) -> None:
        await self._listen()
        self.ctx.published = ANALYZE_AFTER_ROWS  # a backlog left by an earlier process gets fresh statistics too
        self._task = asyncio.create_task(self._run(), name=f"outbox-dispatcher-{self.ctx.source}")

    async def stop(self) -> None:
        """Stop soon: a round in flight gets `STOP_GRACE_SECONDS` to record its
        outcome, then it is cancelled. A cancelled round's rows stay pending
        (its transaction rolls back) and go again after the restart; the
        consumers' inbox makes that second delivery harmless. Waiting out a
        peer that is itself shutting down would hold up every deploy."""
        self._stopping.set()
        self._wake.set()
        if self._task:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=STOP_GRACE_SECONDS)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._task
        await self._drop_listen_connection()
        await self.close()
        LISTENING.labels(self.ctx.source).set(0)

    # -- LISTEN ----------------------------------------------------------
    @property
    def listening(self) -> bool:
        driver = self._listen_driver
        return driver is not None and not self._listen_lost and not driver.is_closed()

    async def _listen(self) -> bool:
        """Open a connection that LISTENs on the service's channel. On failure
        the dispatcher polls and `_ensure_listening` tries again with backoff."""
        conn = None
        try:
            # Bounded: a database that is down must not hold up the dispatch loop.
            conn = await asyncio.wait_for(self.db.engine.connect(), timeout=max(1.0, self.timeout))
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            if driver is None:
                raise RuntimeError("the pooled connection has no asyncpg driver connection")
            self._listen_lost = False
            driver.add_termination_listener(self._on_listen_lost)
            await driver.add_listener(self.ctx.channel, self._on_notify)
        except Exception as exc:  # noqa: BLE001 - polling still delivers, only later
            log.warning("outbox_listen_failed", service=self.ctx.source, error=repr(exc), retry_in=self._relisten_delay)
            if conn is not None:
                await _discard(conn)
            self._relisten_at = time.monotonic() + self._relisten_delay
            self._relisten_delay = min(RELISTEN_MAX_SECONDS, self._relisten_delay * 2)
            LISTENING.labels(self.ctx.source).set(0)
            return False
        self._listen_conn, self._listen_driver = conn, driver
        self._relisten_delay = RELISTEN_MIN_SECONDS
        self._listen_checked_at = time.monotonic()
        LISTENING.labels(self.ctx.source).set(1)
        log.info("outbox_listening", service=self.ctx.source, channel=self.ctx.channel, again=self._listened_once)
        self._listened_once = True
        return True

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    def _on_listen_lost(self, *_: Any) -> None:
        # asyncpg calls this when the connection closes for any reason: a
        # terminated backend, a database restart, a broken network.
        self._listen_lost = True
        self._wake.set()

    async def _drop_listen_connection(self) -> None:
        conn, self._listen_conn, self._listen_driver = self._listen_conn, None, None
        if conn is not None:
            await _discard(conn)

    async def _ensure_listening(self) -> None:
        """Called every loop: notice a lost LISTEN connection (termination
        callback, `is_closed`, or a cheap query every `listen_check_seconds`
        for a connection that died silently) and listen again, with backoff
        while the database refuses."""
        if self._listen_driver is not None and self.listening:
            if time.monotonic() - self._listen_checked_at < self.listen_check_seconds:
                return
            try:
                await asyncio.wait_for(self._listen_driver.fetchval("SELECT 1"), timeout=5)
                self._listen_checked_at = time.monotonic()
                return
            except Exception:  # noqa: BLE001 - any failure means the LISTEN connection is gone
                self._listen_lost = True
        if self._listen_driver is not None:
            log.warning("outbox_listen_lost", service=self.ctx.source, channel=self.ctx.channel)
            LISTENING.labels(self.ctx.source).set(0)
            await self._drop_listen_connection()
            self._relisten_at = 0.0  # try again at once; back off only if that fails
        if time.monotonic() >= self._relisten_at:
            await self._listen()

    # -- the loop --------------------------------------------------------
    async def _run(self) -> None:
        """One lane claims and delivers while the outbox is quiet: events
        that come while it waits for a subscriber go together in its next
        round, the fewest rounds for the CPU (a second lane woken for each
        event doubled the rounds and, on a busy machine, the latency). While
        a backlog drains (a round came back full, or held rows back behind
        one it delivered) up to `lanes - 1` more lanes join, each until a
        round of its own comes back short. Lanes never share a row (SKIP
        LOCKED), and a row waits while an earlier one of its subject is in
        flight in another lane, as with replicas."""
        async with asyncio.TaskGroup() as extra:
            await self._main_lane(extra)

    async def _main_lane(self, extra: asyncio.TaskGroup) -> None:
        last_gauge = 0.0
        retry_delay = 0.0
        while not self._stopping.is_set():
            # Clear before looking: a NOTIFY that arrives while we dispatch
            # must wake the next wait, not be lost until the next poll.
            self._wake.clear()
            try:
                await self._ensure_listening()
            except Exception as exc:  # noqa: BLE001 - without LISTEN the loop still polls
                log.warning("outbox_listen_check_failed", error=repr(exc))
            try:
                await self._analyze_if_grown()
                handled, again = await self._dispatch()
                retry_delay = 0.0
            except Exception as exc:  # noqa: BLE001 - the loop must survive a database restart
                log.warning("outbox_dispatch_failed", error=repr(exc))
                handled, again = 0, False
                # Soon again (the pool replaces broken connections), not a whole poll later.
                retry_delay = min(self.poll_seconds, max(0.1, retry_delay * 2))
            if time.monotonic() - last_gauge > self.metrics_interval:
                try:
                    await self.update_backlog_gauge()
                except Exception as exc:  # noqa: BLE001 - a stale gauge must not stop delivery
                    log.warning("outbox_gauge_failed", error=repr(exc))
                last_gauge = time.monotonic()
            if handled and again:
                while self._extra_lanes < self.lanes - 1:
                    self._extra_lanes += 1
                    extra.create_task(self._extra_lane())
                continue
            if handled and not self.listening:
                continue  # else a NOTIFY that came meanwhile ends the wait at once
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._wait_seconds(retry_delay))

    async def _extra_lane(self) -> None:
        """Rounds beside the main lane while a backlog drains. When it stops,
        the main lane looks once more: a row it held back behind one in
        flight in this lane is due now, and nobody would notify it."""
        try:
            while not self._stopping.is_set():
                handled, again = await self._dispatch()
                if not (handled and again):
                    return
        except Exception as exc:  # noqa: BLE001 - the main lane goes on; a later backlog starts another
            log.warning("outbox_dispatch_failed", error=repr(exc))
        finally:
            self._extra_lanes -= 1
            self._wake.set()

    def _wait_seconds(self, retry_delay: float = 0.0) -> float:
        """The poll (or `retry_delay` after a failed round), shortened to the
        next probe due and, while not listening, to the next attempt to
        listen again."""
        wait = retry_delay or self.poll_seconds
        now = self.now()
        for h in self.health.values():
            if h.probe_at is not None:
                wait = min(wait, (h.probe_at - now).total_seconds())
        if not self.listening:
            wait = min(wait, self._relisten_at - time.monotonic())
        return max(0.01, wait)

    async def _analyze_if_grown(self) -> None:
        """Fresh planner statistics after a burst (an import publishes tens of
        thousands of rows in seconds): with the statistics of a near-empty
        table, Postgres ran the old claim's per-subject anti-join as a scan per
        row (one claim of 50 rows took a minute over a 17,600-row backlog);
        autovacuum analyzes the table only later. The claim no longer depends
        on them, and the rest of the dispatcher's statements barely do, so the
        table is analyzed when it has grown by half since it last was (at
        least `ANALYZE_AFTER_ROWS`): a handful of times over a 100,000-row
        import, not fifty (each samples up to 30,000 rows: a quarter of the
        database's time during such an import)."""
        if self.ctx.published < self._analyze_after:
            return
        self.ctx.published = 0
        t = self.ctx.outbox
        # Not the events' JSON: the claim never filters on it, and sampling
        # it was a quarter of the database's CPU during a large import.
        columns = ", ".join(f'"{c.name}"' for c in t.columns if not isinstance(c.type, sa.JSON))
        async with self.db.engine.connect() as conn:
            await conn.execute(sa.text(f'ANALYZE "{t.schema}"."{t.name}" ({columns})'))
            rows = (
                await conn.execute(
                    sa.text("SELECT reltuples FROM pg_class WHERE oid = CAST(:t AS regclass)"),
                    {"t": f'"{t.schema}"."{t.name}"'},
                )
            ).scalar_one()
            await conn.commit()
        self._analyze_after = max(ANALYZE_AFTER_ROWS, int(rows) // 2)

    # -- one round -------------------------------------------------------
    async def dispatch_once(self) -> int:
        """Claim a batch of deliverable rows, deliver them (one request per
        subscriber, all subscribers at once), record the outcomes. Returns the
        number of rows handled. After a round that delivered a whole batch
        the next one claims twice as many, up to `max_batch_size`: a backlog
        drains in large batches while a quiet outbox goes row by row."""
        return (await self._dispatch())[0]

    async def _dispatch(self) -> tuple[int, bool]:
        """`dispatch_once`, and whether rows may be due at once (see `_claim`)."""
        now = self.now()
        waiting = [name for name, h in self.health.items() if h.probe_at is not None and h.probe_at > now]
        limit = self._batch
        async with self._transaction() as conn:
            rows, again = await self._claim(conn, now, waiting, limit)
            if not rows:
                self._batch = self.batch_size
                return 0, False
            by_subscriber: dict[str, list[asyncpg.Record]] = {}
            for row in rows:
                by_subscriber.setdefault(row["subscriber"], []).append(row)
            names = list(by_subscriber)
            results = await asyncio.gather(*(self._deliver(name, by_subscriber[name]) for name in names))
            now = self.now()
            whole = len(rows) >= limit
            for name, (outcomes, subscriber_error) in zip(names, results, strict=True):
                batch = by_subscriber[name]
                if subscriber_error is not None:
                    whole = False
                    await self._subscriber_failed(conn, name, batch, subscriber_error, now)
                    continue
                delivered = [row for row in batch if outcomes[row["id"]] is None]
                if delivered:
                    await self._record_delivered(conn, delivered, now)
                for row in batch:
                    if (error := outcomes[row["id"]]) is not None:
                        await self._record_failure(conn, row, error, now)
                await self._subscriber_answered(conn, name, now)
        self._batch = min(self.max_batch_size, limit * 2) if whole else self.batch_size
        return len(rows), again

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A round's transaction on a pooled connection, its statements sent
        to asyncpg as they are (`RoundStatements`): a round is a handful of
        statements, and SQLAlchemy's session cost more CPU than they did. A
        connection is never pooled again mid-transaction (a round cancelled
        while rolling back): it is discarded."""
        async with self.db.engine.connect() as pooled:
            raw = await pooled.get_raw_connection()
            conn = cast(asyncpg.Connection, raw.driver_connection)
            try:
                async with conn.transaction():
                    yield conn
            finally:
                if conn.is_closed() or conn.is_in_transaction():
                    await pooled.invalidate()

    async def _claim(
        self, conn: asyncpg.Connection, now: dt.datetime, waiting: list[str], limit: int
    ) -> tuple[list[asyncpg.Record], bool]:
        """Lock up to `limit` due rows in id order (SKIP LOCKED: never a row
        another round or replica is sending) and keep those that are the
        earliest pending row of their (subscriber, subject): a later event of
        a subject waits while an earlier one is pending anywhere, in flight
        elsewhere or backing off. One statement locks, one grouped statement
        finds the earliest pending id of the locked rows' subjects; both are
        a scan of the locked prefix whatever the planner's statistics say
        (a per-row anti-join planned on a near-empty table's statistics took
        23 s for 50 rows over a 5,000-row burst). Locked rows that must wait
        stay pending and are released with the round. When most of a window
        waits (a subject with a long run of events), the next window skips
        the subjects already seen, up to `CLAIM_WINDOWS` windows, so the
        other subjects still go. Also returns whether rows may be due at once
        (a full window, or rows held back behind one delivered now)."""
        claimed: list[asyncpg.Record] = []
        seen: set[str] = set()
        after, again = 0, False
        for _ in range(CLAIM_WINDOWS):
            # Failing subscribers wait for their next probe; the subjects seen
            # in an earlier window would only wait behind the rows locked there.
            params = {"now": now, "after": after, "limit": limit, "waiting": waiting, "seen": sorted(seen)}
            locked = await self._sql.due.fetch(conn, params)
            if not locked:
                break
            earliest = await self._earliest_pending(conn, locked)
            heads = [row for row in locked if earliest[(row["subscriber"], row["subject"])] == row["id"]]
            again = again or len(locked) >= limit or len(heads) < len(locked)
            claimed += heads
            if len(locked) < limit or len(claimed) * 2 >= limit:
                break
            seen.update(row["subject"] for row in locked)
            after = locked[-1]["id"]
        return claimed[:limit], again

    async def _earliest_pending(
        self, conn: asyncpg.Connection, rows: Sequence[asyncpg.Record]
    ) -> dict[tuple[str, str], int]:
        """The smallest pending outbox id of each (subscriber, subject) of `rows`."""
        params = {
            "top": rows[-1]["id"],
            "subscribers": sorted({row["subscriber"] for row in rows}),
            "subjects": sorted({row["subject"] for row in rows}),
        }
        return {(r[0], r[1]): r[2] for r in await self._sql.earliest.fetch(conn, params)}

    async def _deliver(self, subscriber: str, rows: list[asyncpg.Record]) -> tuple[dict[int, str | None], str | None]:
        """POST the rows to one subscriber as a CloudEvents batch (one
        transaction there instead of one per event). Returns each row's
        outcome (None = delivered, else the event's error) and the
        subscriber's error when the whole request failed."""
        url = self.resolve_url(subscriber)
        if not url:
            return {}, f"no URL configured for subscriber {subscriber}"
        try:
            async with self._session().post(
                url.rstrip("/") + "/internal/events",
                data=cloudevents_batch(rows),
                headers={
                    "Authorization": f"Bearer {self.service_token()}",
                    "Content-Type": "application/cloudevents-batch+json",
                },
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                if response.status >= 300:
                    return {}, f"HTTP {response.status}: {(await response.text(errors='replace'))[:300]}"
                body = await response.read()
        except TimeoutError:
            return {}, f"timeout after {self.timeout}s"
        except aiohttp.ClientConnectorError as exc:
            return {}, f"ConnectError: {exc}"[:500]
        except aiohttp.ClientError as exc:
            return {}, f"{type(exc).__name__}: {exc}"[:500]
        try:
            failed = {
                r["id"]: r.get("error") or "failed"
                for r in pydantic_core.from_json(body)["results"]
                if r.get("status") == "failed"
            }
        except (ValueError, KeyError, TypeError):
            return {}, "subscriber answered without per-event results"
        return {row["id"]: failed.get(str(row["event_id"])) for row in rows}, None

    async def _record_delivered(
        self, conn: asyncpg.Connection, rows: Sequence[asyncpg.Record], now: dt.datetime
    ) -> None:
        await _changed(conn, self._sql.delivered, {"ids": [row["id"] for row in rows]})
        for subscriber in {row["subscriber"] for row in rows}:
            labels = (self.ctx.source, subscriber)
            latency = DELIVERY_LATENCY.labels(*labels)
            these = [row for row in rows if row["subscriber"] == subscriber]
            DELIVERED_TOTAL.labels(*labels).inc(len(these))
            for row in these:
                latency.observe(max(0.0, (now - row["created_at"]).total_seconds()))

    async def _record_failure(
        self, conn: asyncpg.Connection, row: asyncpg.Record, error: str, now: dt.datetime
    ) -> None:
        """One event refused while its subscriber answers: it backs off on
        its own and parks after `max_attempts` refusals or the horizon."""
        labels = (self.ctx.source, row["subscriber"])
        attempts = row["attempts"] + 1
        first_failed_at = row["first_failed_at"] or now
        FAILURES_TOTAL.labels(*labels).inc()
        status, next_attempt_at = PENDING, None
        if attempts >= self.max_attempts or now - first_failed_at >= self.retry_horizon:
            status = PARKED
            PARKED_TOTAL.labels(*labels).inc()
            log.warning(
                "event_parked",
                event_id=str(row["event_id"]),
                type=row["type"],
                subscriber=row["subscriber"],
                error=error,
                attempts=attempts,
                failing_since=first_failed_at.isoformat(),
            )
        else:
            delay = backoff_seconds(attempts, base=self.backoff_base, cap=self.backoff_cap)
            next_attempt_at = now + dt.timedelta(seconds=delay)
        params = {
            "id": row["id"],
            "attempts": attempts,
            "error": error,
            "first_failed_at": first_failed_at,
            "status": status,
            "next_attempt_at": next_attempt_at,
        }
        await _changed(conn, self._sql.refused, params)

    async def _subscriber_failed(
        self, conn: asyncpg.Connection, name: str, rows: Sequence[asyncpg.Record], error: str, now: dt.datetime
    ) -> None:
        """The subscriber failed as a whole: wait for the next probe, count a
        failure for every event waiting for it, park those past the horizon."""
        health = self.health.setdefault(name, SubscriberHealth())
        if health.healthy or health.failing_since is None:
            log.warning("subscriber_failing", service=self.ctx.source, subscriber=name, error=error)
            health.failing_since = now
        health.healthy = False
        health.failures += 1
        health.last_error = error
        health.probe_at = now + dt.timedelta(
            seconds=backoff_seconds(health.failures, base=self.backoff_base, cap=self.backoff_cap)
        )
        SUBSCRIBER_FAILING.labels(self.ctx.source, name).set(1)
        FAILURES_TOTAL.labels(self.ctx.source, name).inc(len(rows))
        sql = self._sql
        params = {"ids": [row["id"] for row in rows], "error": error, "probe_at": health.probe_at, "now": now}
        await _changed(conn, sql.failed, params)
        await _changed(conn, sql.failing_since, {"subscriber": name, "now": now})
        params = {"subscriber": name, "error": error, "horizon_start": now - self.retry_horizon}
        parked = await sql.past_horizon.fetch(conn, params)
        if parked:
            PARKED_TOTAL.labels(self.ctx.source, name).inc(len(parked))
            log.warning(
                "events_parked",
                service=self.ctx.source,
                subscriber=name,
                count=len(parked),
                error=error,
                horizon_seconds=self.retry_horizon.total_seconds(),
                event_ids=[str(r["event_id"]) for r in parked[:20]],
            )

    async def _subscriber_answered(self, conn: asyncpg.Connection, name: str, now: dt.datetime) -> None:
        """The subscriber answered: if it was failing (or this process has
        not seen it yet), its waiting events go now instead of after each
        one's backoff."""
        health = self.health.setdefault(name, SubscriberHealth())
        if health.healthy:
            return
        released = await _changed(conn, self._sql.release, {"subscriber": name, "now": now})
        if health.failing_since is not None:
            log.info(
                "subscriber_recovered",
                service=self.ctx.source,
                subscriber=name,
                released=released,
                failing_for_seconds=round((now - health.failing_since).total_seconds(), 1),
            )
        self.health[name] = SubscriberHealth(healthy=True)
        SUBSCRIBER_FAILING.labels(self.ctx.source, name).set(0)

    def _session(self) -> aiohttp.ClientSession:
        """Deliveries go through aiohttp (a fifth of httpx's CPU per request),
        on connections kept for 4 s: less than uvicorn's 5 s keep-alive, so a
        request is seldom sent on a connection the subscriber is closing."""
        if self._delivery is None or self._delivery.closed:
            self._delivery = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=100, keepalive_timeout=4.0),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._delivery

    async def close(self) -> None:
        """Close the delivery connections (`stop` does; a dispatcher driven by
        hand through `dispatch_once` closes them itself)."""
        if self._delivery is not None:
            await self._delivery.close()
            self._delivery = None

    async def update_backlog_gauge(self) -> None:
        """Backlog per status, and per subscriber the events waiting, parked
        and the age of the oldest waiting one: one grouped query served by
        `ix_outbox_waiting`."""
        t = self.ctx.outbox
        async with self.db.transaction() as session:
            rows = (
                await session.execute(
                    sa.select(t.c.subscriber, t.c.status, sa.func.count(), sa.func.min(t.c.created_at))
                    .where(t.c.status.in_((PENDING, PARKED)))
                    .group_by(t.c.subscriber, t.c.status)
                )
            ).all()
        now = self.now()
        totals = {PENDING: 0, PARKED: 0}
        seen: set[str] = set()
        for subscriber, status, count, _oldest in rows:
            totals[status] += count
            seen.add(subscriber)
        names = seen | self._gauged | set(self.ctx.subscriptions.routes) - {self.ctx.source}
        by_key = {(r[0], r[1]): r for r in rows}
        for name in names:
            labels = (self.ctx.source, name)
            pending, parked = by_key.get((name, PENDING)), by_key.get((name, PARKED))
            SUBSCRIBER_PENDING.labels(*labels).set(pending[2] if pending else 0)
            SUBSCRIBER_PARKED.labels(*labels).set(parked[2] if parked else 0)
            OLDEST_PENDING_AGE.labels(*labels).set(max(0.0, (now - pending[3]).total_seconds()) if pending else 0)
        self._gauged = names
        for status, count in totals.items():
            BACKLOG.labels(self.ctx.source, status).set(count)


async def _discard(conn: Any) -> None:
    """Close a connection that must not go back to the pool (it listened, or
    it is broken)."""
    with contextlib.suppress(Exception):
        await conn.invalidate()
    with contextlib.suppress(Exception):
        await conn.close()


EventHandler = Callable[..., Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Batched:
    """A handler that takes a run of events at once: `await handle(session=,
    events=[...])`. The consumer hands it every consecutive event of a
    delivered batch that maps to it (so the order across handlers holds),
    records their inbox rows in one statement and applies them in one
    savepoint, instead of one savepoint and a few statements per event. If
    the run fails as a whole, each event is retried alone, so only the event
    that really fails is reported `failed` (and redelivered)."""

    handle: Callable[..., Awaitable[None]]
