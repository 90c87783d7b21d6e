from pydantic_settings import SettingsConfigDict

from sanlun.kernel.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SANLUN_GATEWAY_", extra="ignore")

    port: int = 8000
    # A refused or unroutable upstream must fail fast (502/504), not queue requests.
    proxy_connect_timeout_seconds: float = 2.0
    # Longest silence allowed between two reads from an upstream before a 504.
    proxy_read_timeout_seconds: float = 30.0
    # Waiting for a free pooled connection plus connecting; bounds queueing under overload.
    proxy_pool_timeout_seconds: float = 10.0
    proxy_max_connections: int = 256
    # Below uvicorn's 5 s keep-alive so the gateway drops an idle connection
    # before the service does (reusing a half-closed one fails the request).
    proxy_keepalive_seconds: float = 4.0
    # Per-service budget of `GET /health`; it must answer even when a service hangs.
    health_timeout_seconds: float = 1.0
