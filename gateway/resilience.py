"""One circuit breaker per upstream service.

`threshold` transport failures in a row (refused connection, timeout,
connection dropped) open the breaker: for `open_seconds` every call to that
service is refused at once, so a dead service answers fast instead of tying
up connections and the callers' time. Then one trial call may pass
(half-open): its success closes the breaker, its failure opens it again.
Answers the service gives, even 5xx, are not failures of the connection and
do not count.

Pure logic with the clock passed in; the proxy and the workspace share one
breaker per service.
"""

from __future__ import annotations

import math
from typing import Literal

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    def __init__(self, *, threshold: int, open_seconds: float) -> None:
        self.threshold = threshold
        self.open_seconds = open_seconds
        self.state: State = "closed"
        self.failures = 0
        self._opened_at = 0.0
        self._trial_started = 0.0

    def allow(self, now: float) -> bool:
        if self.state == "closed":
            return True
        if self.state == "open" and now - self._opened_at >= self.open_seconds:
            self.state, self._trial_started = "half_open", now
            return True
        # Half-open: one trial at a time; a trial that never reported is given up on.
        if self.state == "half_open" and now - self._trial_started >= self.open_seconds:
            self._trial_started = now
            return True
        return False

    def retry_after(self, now: float) -> int:
        return max(1, math.ceil(self.open_seconds - (now - self._opened_at)))

    def success(self) -> None:
        self.state, self.failures = "closed", 0

    def failure(self, now: float) -> None:
        self.failures += 1
        if self.state == "half_open" or self.failures >= self.threshold:
            self.state, self._opened_at = "open", now


class Breakers:
    def __init__(self, names: list[str], *, threshold: int, open_seconds: float) -> None:
        self._by_name = {n: CircuitBreaker(threshold=threshold, open_seconds=open_seconds) for n in names}

    def __getitem__(self, name: str) -> CircuitBreaker:
        return self._by_name[name]

    def states(self) -> dict[str, State]:
        return {n: b.state for n, b in self._by_name.items()}
