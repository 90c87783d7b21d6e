"""What the drills share: steady client load, outcomes and the figures drawn from them.

A drill starts real processes, puts them under load from a few client threads
(each with its own keep-alive connection, as real clients have), breaks
something on purpose and then judges what the clients saw. Every loop here is
bounded in count and time, so a drill that goes wrong still ends.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

# A request the load sends: (method, path, headers, json body or None).
Request = tuple[str, str, dict[str, str], Any]


@dataclass(frozen=True, slots=True)
class Outcome:
    sent: float  # time.monotonic() when the request was sent
    done: float
    status: int  # 0 when no HTTP answer came (refused, reset, timeout)
    error: str | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    request: Request | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def seconds(self) -> float:
        return self.done - self.sent


class Load:
    """`workers` threads sending `make(n)` back to back (optionally paced to
    `interval` seconds per thread) until `stop()`, at most `max_seconds`.
    After a 429 or 503 a thread waits as `Retry-After` says (at most 2 s)."""

    def __init__(
        self,
        base_url: str,
        make: Callable[[int], Request],
        *,
        workers: int = 4,
        interval: float = 0.0,
        timeout: float = 15.0,
        max_seconds: float = 60.0,
    ) -> None:
        self.base_url = base_url
        self.make = make
        self.workers = workers
        self.interval = interval
        self.timeout = timeout
        self.max_seconds = max_seconds
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._counter = 0
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def _next(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def _work(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        with httpx.Client(base_url=self.base_url, timeout=self.timeout) as client:
            while not self._stopping.is_set() and time.monotonic() < deadline:
                request = self.make(self._next())
                outcome = send(client, request)
                with self._lock:
                    self.outcomes.append(outcome)
                pause = self.interval - outcome.seconds
                if outcome.status in (429, 503) and outcome.headers.get("retry-after", "").isdigit():
                    # A well-behaved client waits as told (bounded, so a drill keeps moving).
                    pause = max(pause, min(float(outcome.headers["retry-after"]), 2.0))
                if pause > 0:
                    self._stopping.wait(pause)

    def start(self) -> Load:
        for n in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"drill-load-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def hold(self, seconds: float) -> None:
        """Let the load run on for `seconds` (returns early once stopped)."""
        self._stopping.wait(seconds)

    def stop(self) -> list[Outcome]:
        self._stopping.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)
        return sorted(self.outcomes, key=lambda o: o.sent)


@contextmanager
def load(base_url: str, make: Callable[[int], Request], **kwargs: Any) -> Iterator[Load]:
    running = Load(base_url, make, **kwargs).start()
    try:
        yield running
    finally:
        running.stop()


def send(client: httpx.Client, request: Request) -> Outcome:
    method, path, headers, body = request
    sent = time.monotonic()
    try:
        response = client.request(method, path, headers=headers, json=body)
    except httpx.HTTPError as exc:
        return Outcome(sent, time.monotonic(), 0, error=type(exc).__name__, request=request)
    try:
        payload = response.json()
    except ValueError:
        payload = response.text[:200]
    return Outcome(
        sent, time.monotonic(), response.status_code, body=payload, headers=dict(response.headers), request=request
    )


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by the nearest-rank method."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def success_rate(outcomes: list[Outcome]) -> float:
    return sum(o.ok for o in outcomes) / len(outcomes) if outcomes else float("nan")


def statuses(outcomes: list[Outcome]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    return dict(sorted(counts.items()))


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.1) -> float:
    """Poll `check` until true; return the seconds it took, fail after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if check():
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(interval)
    raise AssertionError(f"not true within {timeout} s: {check}")


def ready(url: str) -> bool:
    try:
        return httpx.get(url + "/health/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); it is gone for every purpose here.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def kill(pid: int, sig: signal.Signals = signal.SIGKILL) -> None:
    os.kill(pid, sig)


def new_tag() -> str:
    return uuid.uuid4().hex[:8]


def report(name: str, **figures: Any) -> None:
    """Print a drill's figures (shown with `pytest -s`, and in the log of a failure)."""
    shown = ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())
    print(f"[drill {name}] {shown}")
