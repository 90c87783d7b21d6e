"""Token-bucket bookkeeping of one gateway replica, as pure logic.

The shared bucket lives in Postgres (`store.py`). A replica does not ask it
about every request: it leases a few tokens at a time and spends them
locally, so a proxied request costs a dict lookup, and the database sees one
statement per lease. A lease that runs out or grows stale is replaced by the
next one, which hands the unspent tokens back. A refused lease is remembered
until the shared bucket can have refilled one token, so a client hammering
past its limit costs no database work either.

Time is passed in (`now`, monotonic seconds) so this is tested without sleeping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limit:
    capacity: int
    rate: float  # tokens per second

    def lease_size(self, lease_seconds: float, lease_max: int) -> int:
        return max(1, min(lease_max, self.capacity, math.ceil(self.rate * lease_seconds)))


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    retry_after: int | None = None

    def headers(self) -> list[tuple[bytes, bytes]]:
        out = [
            (b"ratelimit-limit", str(self.limit).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(self.reset_seconds).encode()),
        ]
        if self.retry_after is not None:
            out.append((b"retry-after", str(self.retry_after).encode()))
        return out


@dataclass(slots=True)
class _Entry:
    tokens: int = 0
    expires: float = 0.0
    shared_left: float = 0.0
    blocked_until: float = 0.0


class LocalAllowance:
    def __init__(self, *, lease_ttl: float, max_entries: int = 50_000) -> None:
        self._lease_ttl = lease_ttl
        self._max_entries = max_entries
        self._entries: dict[str, _Entry] = {}

    def take(self, key: str, limit: Limit, now: float) -> Decision | None:
        """Spend one local token; a refusal while blocked; None when a lease is needed."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.blocked_until > now:
            return _refusal(limit, entry.blocked_until - now)
        if entry.tokens > 0 and entry.expires > now:
            entry.tokens -= 1
            return _allowed(limit, entry)
        return None

    def release(self, key: str) -> int:
        """The unspent tokens of the current lease, handed back with the next one."""
        entry = self._entries.get(key)
        if entry is None:
            return 0
        unspent, entry.tokens = entry.tokens, 0
        return unspent

    def apply(self, key: str, limit: Limit, *, granted: int, shared_left: float, now: float) -> None:
        """Record what the shared bucket granted."""
        entry = self._entries.get(key)
        if entry is None:
            if len(self._entries) >= self._max_entries:
                self._prune(now)
            entry = self._entries[key] = _Entry()
        entry.shared_left = shared_left
        if granted > 0:
            entry.tokens, entry.expires, entry.blocked_until = granted, now + self._lease_ttl, 0.0
        else:
            # Until the shared bucket has refilled to one whole token.
            entry.tokens, entry.blocked_until = 0, now + max((1.0 - shared_left) / limit.rate, 0.001)

    def _prune(self, now: float) -> None:
        stale = [k for k, e in self._entries.items() if e.expires <= now and e.blocked_until <= now]
        for k in stale:
            del self._entries[k]
        if len(self._entries) >= self._max_entries:
            self._entries.clear()


def _allowed(limit: Limit, entry: _Entry) -> Decision:
    remaining = min(limit.capacity, entry.tokens + int(entry.shared_left))
    reset = math.ceil((limit.capacity - remaining) / limit.rate) if remaining < limit.capacity else 0
    return Decision(True, limit.capacity, remaining, reset)


def _refusal(limit: Limit, wait: float) -> Decision:
    seconds = max(1, math.ceil(wait))
    return Decision(False, limit.capacity, 0, seconds, retry_after=seconds)
