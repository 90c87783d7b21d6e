"""The business clock: what "now" and "today" mean to a process.

Everything that decides by the date (stage evaluations and their dwell, "the
last 12 months" of signals, recommendations, close dates, overdue actions)
asks a `Clock` instead of the system time, so tests and the demo can run days
and months in seconds. Record timestamps (`created_at`, outbox and inbox
bookkeeping) stay on the real time: they say when something happened to the
database, not what business day it was.

One clock per application (`app.state.clock`); it also rides on every session
(`session.info[CLOCK_KEY]`) so event handlers and schedules reach it the way
they reach the events context. A process built with
`SANLUN_CLOCK_ADJUSTABLE=true` (tests, demos; refused in production) lets an
operator move it with `PUT /ops/clock`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import CurrentPrincipal, require_roles
from sanlun.kernel.errors import Forbidden, NotFound, Unauthorized, Unprocessable, problem_responses

CLOCK_KEY = "sanlun.clock"

# The dates an `as_of` may name: wide enough for any CRM history and plan,
# narrow enough that "as_of minus 12 months" or "plus a year" stays a date.
EARLIEST = dt.date(1900, 1, 1)
LATEST = dt.date(2199, 12, 31)


class Clock:
    """The system time, moved by `offset` (zero unless a test or demo moves it)."""

    __slots__ = ("offset",)

    def __init__(self, offset: dt.timedelta = dt.timedelta(0)) -> None:
        self.offset = offset

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    def today(self) -> dt.date:
        return self.now().date()

    def set(self, now: dt.datetime) -> None:
        """Make `now()` answer `now` at this instant (time keeps running from there)."""
        if now.tzinfo is None:
            now = now.replace(tzinfo=dt.UTC)
        self.offset = now - dt.datetime.now(dt.UTC)

    def advance(self, delta: dt.timedelta) -> None:
        self.offset += delta


SYSTEM_CLOCK = Clock()


def session_clock(session: AsyncSession) -> Clock:
    """The clock of the application that opened `session` (the system clock
    for sessions opened outside one, e.g. by a migration or a script)."""
    clock = session.info.get(CLOCK_KEY)
    return clock if isinstance(clock, Clock) else SYSTEM_CLOCK


async def request_clock_dependency(request: Request) -> Clock:
    # async: FastAPI runs a plain `def` dependency in a worker thread, a hop per request.
    return request_clock(request)


def request_clock(request: Request) -> Clock:
    clock = getattr(request.app.state, "clock", None)
    return clock if isinstance(clock, Clock) else SYSTEM_CLOCK


ClockDep = Annotated[Clock, Depends(request_clock_dependency)]


def check_as_of(value: dt.date | None, field: str = "as_of", *, loc: str = "query") -> dt.date | None:
    """422 for a date outside EARLIEST..LATEST (date arithmetic on 0001-01-01
    or 9999-12-31 would overflow into a 500)."""
    if value is not None and not EARLIEST <= value <= LATEST:
        raise Unprocessable(
            f"`{field}` must lie between {EARLIEST.isoformat()} and {LATEST.isoformat()}.",
            errors=[{"loc": [loc, field], "msg": f"must lie between {EARLIEST} and {LATEST}", "type": "date_range"}],
        )
    return value


# -- operations -----------------------------------------------------------------


class ClockState(BaseModel):
    now: dt.datetime = Field(description="What this process takes as the current time.")
    today: dt.date
    offset_seconds: float = Field(description="How far this clock is from the system time.")
    adjustable: bool


class ClockChange(BaseModel):
    """Either `now` (an absolute time) or `advance_days` / `advance_seconds`."""

    now: dt.datetime | None = None
    advance_days: float | None = Field(None, ge=-36500, le=36500)
    advance_seconds: float | None = Field(None, ge=-1e9, le=1e9)

    @model_validator(mode="after")
    def _one_way(self) -> ClockChange:
        given = [self.now is not None, self.advance_days is not None or self.advance_seconds is not None]
        if sum(given) != 1:
            raise ValueError("give either `now` or `advance_days`/`advance_seconds`")
        if self.now is not None:
            check_as_of(self.now.date(), "now", loc="body")
        return self


def _state(clock: Clock, adjustable: bool) -> ClockState:
    now = clock.now()
    return ClockState(now=now, today=now.date(), offset_seconds=clock.offset.total_seconds(), adjustable=adjustable)


def clock_router() -> APIRouter:
    router = APIRouter(
        prefix="/ops/clock", tags=["operations"], responses=problem_responses(Unauthorized, Forbidden, NotFound)
    )

    def adjustable(request: Request) -> bool:
        return bool(getattr(request.app.state.settings, "clock_adjustable", False))

    @router.get("", summary="This process's business clock", response_model=ClockState)
    async def get_clock(request: Request, principal: CurrentPrincipal, clock: ClockDep) -> ClockState:
        require_roles(principal, "ops", "group_admin")
        return _state(clock, adjustable(request))

    @router.put(
        "",
        summary="Move this process's business clock (only with SANLUN_CLOCK_ADJUSTABLE=true)",
        response_model=ClockState,
    )
    async def set_clock(
        request: Request, change: ClockChange, principal: CurrentPrincipal, clock: ClockDep
    ) -> ClockState:
        require_roles(principal, "ops", "group_admin")
        if not adjustable(request):
            raise NotFound("The clock of this process cannot be moved.", code="clock_fixed")
        if change.now is not None:
            clock.set(change.now)
        else:
            clock.advance(dt.timedelta(days=change.advance_days or 0, seconds=change.advance_seconds or 0))
        return _state(clock, True)

    return router


def install_clock(app: Any, clock: Clock | None = None) -> Clock:
    """Give `app` its clock (a fresh one unless a test hands one in)."""
    app.state.clock = clock or Clock()
    return app.state.clock  # type: ignore[no-any-return]
