"""Resilience primitives for calls to the services: one circuit breaker and one
bulkhead per upstream.

Circuit breaker, a pure state machine with the clock passed in:

- `closed`: calls pass. `threshold` upstream faults in a row, all within
  `window_seconds`, open it; any success resets the count.
- `open`: every call is refused at once (the proxy answers 503
  `upstream_circuit_open` with `Retry-After`), so a dead service answers fast
  instead of tying up connections and the callers' time.
- `half_open`: after `open_seconds`, one trial call at a time may pass: its
  success closes the breaker, its failure opens it again. A trial that never
  reports (or ends `neutral`, e.g. the caller sent a body over the limit) is
  given up on, so the next call may be the trial.

What counts is decided by the callers (`gateway.proxy`, `gateway.workspace`):
only upstream faults are failures (refused or reset connections, timeouts, a
5xx the service itself produced); nothing a client caused (a body over the
limit, a caller that went away, a 4xx) ever counts.

Bulkhead: at most `limit` calls in flight to one service, at most `queue_max`
more waiting for a slot, each at most the caller's timeout; beyond that the
proxy answers 503 `upstream_busy` rather than letting a hung service pile up
the gateway's work (and slow the other services' callers).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from typing import Literal

State = Literal["closed", "open", "half_open"]

# 5xx answers that are no fault of the service answering: a service's 502 and
# 504 relay a failure of *its* peer (`UpstreamUnavailable`, `UpstreamTimeout`;
# counting them would open this breaker for that peer's outage), 501 and 505
# are about what the caller sent. Any other 5xx from a service counts.
NOT_UPSTREAM_FAULTS = frozenset({501, 502, 504, 505})


class CircuitBreaker:
    __slots__ = ("_failures", "_opened_at", "_trial_at", "open_seconds", "state", "threshold", "window_seconds")

    def __init__(self, *, threshold: int, open_seconds: float, window_seconds: float = math.inf) -> None:
        if threshold < 1:
            raise ValueError("threshold must be at least 1")
        self.threshold = threshold
        self.window_seconds = window_seconds
        self.open_seconds = open_seconds
        self.state: State = "closed"
        # Times of the current run of consecutive failures (the last `threshold`).
        self._failures: deque[float] = deque(maxlen=threshold)
        self._opened_at = 0.0
        # When the half-open trial in flight started; None: no trial in flight.
        self._trial_at: float | None = None

    @property
    def failures(self) -> int:
        """Consecutive failures counted so far (while closed)."""
        return len(self._failures)

    def state_at(self, now: float) -> State:
        """The state as a call at `now` would find it (without changing it)."""
        if self.state == "open" and now - self._opened_at >= self.open_seconds:
            return "half_open"
        return self.state

    def allow(self, now: float) -> bool:
        """May a call go out now? In half-open, True marks it as the trial."""
        if self.state == "closed":
            return True
        if self.state == "open":
            if now - self._opened_at < self.open_seconds:
                return False
            self.state = "half_open"
        # Half-open: one trial at a time; one that never reported is given up on.
        if self._trial_at is None or now - self._trial_at >= self.open_seconds:
            self._trial_at = now
            return True
        return False

    def retry_after(self, now: float) -> int:
        """Whole seconds until a call may pass again (at least 1)."""
        return max(1, math.ceil(self.open_seconds - (now - self._opened_at)))

    def success(self) -> None:
        if self.state == "closed":
            if self._failures:
                self._failures.clear()
        elif self.state == "half_open":
            self._close()
        # Open: a late answer to a call sent before it opened decides nothing;
        # only a trial closes the breaker.

    def failure(self, now: float) -> None:
        if self.state == "closed":
            self._failures.append(now)
            if len(self._failures) == self.threshold and now - self._failures[0] <= self.window_seconds:
                self._open(now)
        elif self.state == "half_open":
            self._open(now)
        # Open: already refusing; a late failure does not push the trial back.

    def neutral(self) -> None:
        """The call ended without telling anything about the service (the
        caller's fault, or the gateway refused it): frees a half-open trial."""
        if self.state == "half_open":
            self._trial_at = None

    def _open(self, now: float) -> None:
        self.state, self._opened_at, self._trial_at = "open", now, None
        self._failures.clear()

    def _close(self) -> None:
        self.state, self._trial_at = "closed", None
        self._failures.clear()


class Breakers:
    def __init__(
        self, names: list[str], *, threshold: int, open_seconds: float, window_seconds: float = math.inf
    ) -> None:
        self._by_name = {
            n: CircuitBreaker(threshold=threshold, open_seconds=open_seconds, window_seconds=window_seconds)
            for n in names
        }

    def __getitem__(self, name: str) -> CircuitBreaker:
        return self._by_name[name]

    def names(self) -> list[str]:
        return list(self._by_name)

    def states(self, now: float | None = None) -> dict[str, State]:
        if now is None:
            return {n: b.state for n, b in self._by_name.items()}
        return {n: b.state_at(now) for n, b in self._by_name.items()}


class Busy(Exception):
    """The bulkhead is full: too many calls in flight and waiting."""


class Bulkhead:
    """A bounded concurrency limit with a bounded wait queue (FIFO)."""

    __slots__ = ("_waiters", "active", "limit", "queue_max")

    def __init__(self, *, limit: int, queue_max: int) -> None:
        if limit < 1 or queue_max < 0:
            raise ValueError("limit must be at least 1 and queue_max not negative")
        self.limit = limit
        self.queue_max = queue_max
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def try_acquire(self) -> bool:
        """Take a slot without waiting (the hot path: no await, no future)."""
        if self.active < self.limit and not self._waiters:
            self.active += 1
            return True
        return False

    async def acquire(self, timeout: float) -> None:
        """Take a slot, waiting at most `timeout` seconds; `Busy` otherwise."""
        if self.try_acquire():
            return
        if len(self._waiters) >= self.queue_max:
            raise Busy
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                # The slot was handed over just as the wait ended.
                if isinstance(exc, TimeoutError):
                    return  # in time after all: keep it
                self.release()
                raise
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)
            if isinstance(exc, TimeoutError):
                raise Busy from None
            raise

    def release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes on; `active` stays
                return
        self.active -= 1
