"""Per-process settings.

Each process has one settings class with its own environment prefix
(`SANLUN_OPPORTUNITY_`, `SANLUN_GATEWAY_`, ...). A variable with the process
prefix wins; otherwise the shared `SANLUN_` variable applies, so one
`SANLUN_DATABASE_URL` serves every process locally while docker compose can give
each service its own role through `SANLUN_<SERVICE>_DATABASE_URL`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

PLACEHOLDER_SECRET = "sanlun-development-secret-change-me"  # noqa: S105 - refused outside development
DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/sanlun"
# A scrape token is a long-lived secret: long enough that guessing it is hopeless.
METRICS_TOKEN_MIN_LENGTH = 32


def asyncpg_url(url: str) -> str:
    """Normalise a libpq-style URL to the SQLAlchemy asyncpg dialect."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


class ProcessSettings(BaseSettings):
    """Settings every process shares. Subclasses set `model_config.env_prefix`."""

    model_config = SettingsConfigDict(env_prefix="SANLUN_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    database_url: str = DEFAULT_DATABASE_URL
    # A fixed pool: under more concurrent requests than connections they wait
    # for one. Overflow connections are closed when returned, so a sustained
    # load above the pool size opened (TLS attempt, type introspection) and
    # closed a connection per request.
    db_pool_size: int = 10
    db_max_overflow: int = 0
    # Connections for read-only requests (`Database.read`), besides the pool above.
    db_read_pool_size: int = 4
    # Seconds a new database connection may take before the request answers 503.
    db_connect_timeout_seconds: float = 5.0
    # A round trip on every pool checkout; without it a connection the server
    # closed is still noticed locally and replaced (sanlun.kernel.db).
    db_pool_pre_ping: bool = False
    # `Retry-After` of a 503 database_unavailable, in seconds.
    db_unavailable_retry_after_seconds: int = 2
    jwt_algorithm: Literal["HS256", "RS256"] = "HS256"
    jwt_secret: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    # Signs the service tokens of /internal/* calls; never accepted on public routes.
    service_secret: SecretStr = SecretStr(PLACEHOLDER_SECRET + "-service")
    # Largest request body a process accepts (bytes); larger answers 413.
    max_body_bytes: int = 1_048_576
    # Lets an operator move the business clock with PUT /ops/clock (tests and
    # demos that simulate days; refused in production). See sanlun.kernel.clock.
    clock_adjustable: bool = False
    # A bearer token Prometheus may scrape `/metrics` with (besides an ops
    # JWT); unset: only an ops or group_admin JWT reads the metrics.
    metrics_token: SecretStr | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        shared = EnvSettingsSource(settings_cls, env_prefix="SANLUN_")
        return init_settings, env_settings, shared, dotenv_settings, file_secret_settings

    @field_validator("metrics_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `SANLUN_METRICS_TOKEN=` (compose passes it through empty) means no token.
        return None if value in ("", None) else value

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> ProcessSettings:
        if (
            self.environment != "development"
            and self.jwt_algorithm == "HS256"
            and self.jwt_secret.get_secret_value() in ("", PLACEHOLDER_SECRET)
        ):
            raise ValueError(
                "SANLUN_JWT_SECRET is the development placeholder; "
                f"set a real secret to run with environment={self.environment}"
            )
        if self.environment == "production" and self.service_secret.get_secret_value().startswith(PLACEHOLDER_SECRET):
            raise ValueError("SANLUN_SERVICE_SECRET is the development placeholder; set a real one in production")
        if self.environment == "production" and self.clock_adjustable:
            raise ValueError("SANLUN_CLOCK_ADJUSTABLE is for tests and demos; it cannot be set in production")
        if self.metrics_token is not None and len(self.metrics_token.get_secret_value()) < METRICS_TOKEN_MIN_LENGTH:
            raise ValueError(f"SANLUN_METRICS_TOKEN must be at least {METRICS_TOKEN_MIN_LENGTH} characters")
        if self.jwt_algorithm == "RS256" and not self.jwks_url:
            raise ValueError("SANLUN_JWKS_URL is required when SANLUN_JWT_ALGORITHM=RS256")
        return self

    @property
    def async_database_url(self) -> str:
        return asyncpg_url(self.database_url)


class ServiceSettings(ProcessSettings):
    """Settings of a domain service; adds the URLs of its peers."""

    employee_lifecycle_url: str = "http://127.0.0.1:8002"
    opportunity_url: str = "http://127.0.0.1:8001"
    key_account_url: str = "http://127.0.0.1:8003"
    resource_share_url: str = "http://127.0.0.1:8004"
    # Timeout of every outbound service-to-service call, in seconds.
    http_timeout_seconds: float = 5.0
    # Event dispatcher (see sanlun.kernel.events).
    dispatcher_enabled: bool = True
    # A failing event is retried for this long (from its first failed
    # delivery) before it is parked: a day outlasts any deploy or outage.
    outbox_retry_horizon_seconds: float = 86_400.0
    # An event the subscriber answers but refuses (its handler raised) parks
    # after this many refusals, so it does not hold back its subject for a day.
    outbox_max_attempts: int = 8
    outbox_batch_size: int = 50
    outbox_poll_seconds: float = 1.0
    outbox_backoff_base_seconds: float = 0.5
    # Longest wait between retries, and between probes of a failing
    # subscriber: how late, at worst, a returning subscriber gets its backlog.
    outbox_backoff_cap_seconds: float = 10.0
    # Retention of bookkeeping rows (sanlun.kernel.retention); 0 turns the schedule off.
    retention_interval_seconds: float = 3600.0
    outbox_retention_days: float = 7.0
    inbox_retention_days: float = 30.0
    idempotency_retention_hours: float = 48.0
    # JSON `{"subscriber": ["event.type.pattern", ...]}`; empty = sanlun.topology.SUBSCRIPTIONS.
    subscriptions: dict[str, list[str]] = {}

    def service_url(self, name: str) -> str | None:
        return getattr(self, f"{name}_url", None)
