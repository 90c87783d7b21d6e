from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from gateway.auth_failures import parse_networks
from sanlun.kernel.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SANLUN_GATEWAY_", extra="ignore")

    port: int = 8000
    # The gateway's own schema holds API keys and rate-limit buckets: a small pool.
    db_pool_size: int = 10
    db_max_overflow: int = 0
    # Calls to the services (the proxy path). Each service has its own
    # connection pool and bulkhead, so one hung service cannot slow the calls
    # to the others.
    # A refused or unroutable upstream must fail fast (502/504), not queue requests.
    proxy_connect_timeout_seconds: float = 2.0
    # Longest silence allowed between two reads from an upstream before a 504,
    # by route class: GET/HEAD reads, bulk and operator paths (any path
    # containing one of `proxy_bulk_path_markers`, whatever the method), and
    # every other request (writes).
    proxy_read_timeout_seconds: float = 30.0
    proxy_read_timeout_get_seconds: float = 15.0
    proxy_read_timeout_bulk_seconds: float = 120.0
    proxy_bulk_path_markers: tuple[str, ...] = (":bulk-upsert", "/bulk-upsert", ":evaluate", "/ops/")
    # Bulkhead per service: at most this many requests in flight to one
    # service (also the size of its connection pool) ...
    proxy_max_connections_per_service: int = 64
    # ... at most this many more waiting for one of them, each at most
    # `proxy_pool_timeout_seconds`; beyond either the gateway answers 503
    # `upstream_busy` with `Retry-After` instead of piling the work up.
    proxy_max_queue_per_service: int = 128
    proxy_pool_timeout_seconds: float = 5.0
    # Below uvicorn's 5 s keep-alive so the gateway drops an idle connection
    # before the service does (reusing a half-closed one fails the request; a
    # request safe to repeat is then retried once on a fresh connection).
    proxy_keepalive_seconds: float = 4.0
    # Per-service budget of `GET /health`; it must answer even when a service hangs.
    health_timeout_seconds: float = 1.0

    # Circuit breaker per upstream: this many upstream faults in a row
    # (refused/reset connections, timeouts, a 5xx the service produced; never
    # anything a client caused), all within `breaker_window_seconds`, open it;
    # it stays open this long before one trial request may pass.
    breaker_failure_threshold: int = 5
    breaker_window_seconds: float = 10.0
    breaker_open_seconds: float = 5.0

    # Token bucket per principal (JWT `sub` or API key), shared by every replica
    # through Postgres: `rate_limit_burst` requests at once, refilled at
    # `rate_limit_per_second`. Each replica leases a slice of tokens at a time
    # (about `rate_limit_lease_seconds` worth, at most `rate_limit_lease_max`)
    # so most requests touch no database: one statement cost ~1 ms of gateway
    # CPU (benchmarks/gateway_load.py), a lease of 50 makes it ~0.02 ms a request.
    rate_limit_enabled: bool = True
    rate_limit_per_second: float = 50.0
    rate_limit_burst: int = 200
    rate_limit_lease_seconds: float = 1.0
    rate_limit_lease_max: int = 50
    # Unspent leased tokens are handed back with the next lease after this long.
    rate_limit_lease_ttl_seconds: float = 2.0

    # API keys: a key found in the database is trusted this long by a replica
    # (a revocation reaches the other replicas within it), and the JWT minted
    # for its downstream calls lives this long.
    api_key_cache_seconds: float = 10.0
    api_key_token_ttl_seconds: int = 300

    # Failed authentication per client address (gateway.auth_failures): after
    # `auth_failure_limit` refused credentials (bad or expired tokens, bad API
    # keys) within `auth_failure_window_seconds`, that address gets 429 with
    # `Retry-After` until the window ends, whatever it sends. Counted in each
    # replica's memory: N replicas allow up to N times the limit. 0 turns it off.
    auth_failure_limit: int = 20
    auth_failure_window_seconds: float = 60.0
    # Proxies (IP addresses or CIDR networks) whose `X-Forwarded-For` names the
    # client; from anyone else the header is ignored and the peer address counts.
    trusted_proxies: list[str] = Field(default_factory=list)

    # `Strict-Transport-Security: max-age=N` on every answer when > 0: set it
    # when the gateway is reached over HTTPS only (0: no HSTS).
    hsts_max_age_seconds: int = 0

    # Browser frontends allowed to call the API (exact origins); empty: no CORS.
    cors_origins: list[str] = Field(default_factory=list)
    cors_max_age_seconds: int = 600

    # `GET /api/v1/me/workspace`: budget of each call it makes, and how many
    # items each section shows.
    workspace_call_timeout_seconds: float = 2.0
    workspace_items: int = 5
    # Plan actions due within this many days count as due.
    workspace_due_days: int = 14

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses_or_networks(cls, value: list[str]) -> list[str]:
        parse_networks(value)  # ValueError names the entry that is neither
        return value
