"""Failed authentication, limited per client address.

A caller that keeps sending credentials the gateway refuses (bad or expired
tokens, unknown or revoked API keys) is guessing. After `limit` refusals from
one address within `window_seconds`, every request from that address is
answered 429 `too_many_auth_failures` with `Retry-After` until the window
that started with its first refusal ends: its credentials are not even
looked at, so a guesser costs no token verification and no API-key lookup in
the database. A valid credential from the same address waits too (a shared
NAT suffers with its guesser); the default limit is far above what a client
with a stale token sends before it gets a new one.

The windows live in each replica's memory, bounded to `max_addresses` (the
oldest windows go first): with N replicas behind a balancer an address may
fail up to N times the limit, and a restart forgets. That is enough to make
guessing hopeless at any useful rate without a database round trip per
failure; a shared store (like the rate limiter's) would add one.

The client address is the connection's peer. Only when the peer is one of
`trusted_proxies` (the load balancer in front of the gateway) is
`X-Forwarded-For` read: the rightmost address that is not a trusted proxy
is the client; anything further left was written by the client itself.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable, Sequence

import structlog
from prometheus_client import Counter
from starlette.types import Scope

from gateway.errors import TooManyRequests

AUTH_FAILURES = Counter("sanlun_gateway_auth_failures_total", "Credentials the gateway refused (401)")
AUTH_BLOCKED = Counter(
    "sanlun_gateway_auth_blocked_total", "Requests answered 429 because their address failed authentication too often"
)
MAX_ADDRESSES = 100_000

log = structlog.get_logger("sanlun.gateway.auth")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Sequence[str]) -> tuple[Network, ...]:
    """`10.0.0.0/8`, `192.0.2.7`, `2001:db8::/32`; ValueError for anything else."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


class ClientAddress:
    """The address a request counts against."""

    def __init__(self, trusted_proxies: Sequence[str]) -> None:
        self._networks = parse_networks(trusted_proxies)

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._networks)

    def __call__(self, scope: Scope) -> str:
        client = scope.get("client")
        peer = client[0] if client else ""
        if not self._networks or not self._trusted(peer):
            return peer
        hops: list[str] = []
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                hops.extend(h.strip() for h in value.decode("latin-1").split(","))
        hops = [h for h in hops if h]
        for hop in reversed(hops):
            if not self._trusted(hop):
                return hop
        return hops[0] if hops else peer


class AuthFailures:
    """Refusals per address in fixed windows that start with the first one."""

    def __init__(
        self,
        *,
        limit: int,
        window_seconds: float,
        max_addresses: int = MAX_ADDRESSES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self.max_addresses = max_addresses
        self.clock = clock
        # address -> [window start, refusals]; insertion order is window age.
        self._windows: dict[str, list[float]] = {}

    @property
    def active(self) -> bool:
        """Anything recorded at all: when not, nobody needs looking up."""
        return bool(self._windows)

    def retry_after(self, address: str) -> int | None:
        """Seconds the address must wait, or None when it may try."""
        entry = self._windows.get(address)
        if entry is None or entry[1] < self.limit:
            return None
        remaining = entry[0] + self.window - self.clock()
        if remaining <= 0:
            del self._windows[address]
            return None
        return max(1, math.ceil(remaining))

    def failed(self, address: str) -> None:
        AUTH_FAILURES.inc()
        now = self.clock()
        entry = self._windows.get(address)
        if entry is not None and now - entry[0] < self.window:
            entry[1] += 1
            if entry[1] == self.limit:
                log.warning("auth_failures_limited", address=address, failures=self.limit, window_s=self.window)
            return
        self._windows.pop(address, None)
        while len(self._windows) >= self.max_addresses:
            del self._windows[next(iter(self._windows))]
        self._windows[address] = [now, 1]

    def refusal(self, retry_after: int) -> TooManyRequests:
        AUTH_BLOCKED.inc()
        return TooManyRequests(
            f"Too many failed authentications from your address; retry in {retry_after} s.",
            code="too_many_auth_failures",
            headers={"Retry-After": str(retry_after)},
        )
