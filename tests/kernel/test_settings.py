import pytest
from pydantic import ValidationError

from sanlun.kernel.settings import PLACEHOLDER_SECRET, asyncpg_url
from services.employee_lifecycle.settings import Settings


def test_process_prefix_wins_over_shared(monkeypatch):
    monkeypatch.setenv("SANLUN_DATABASE_URL", "postgresql://shared/db")
    monkeypatch.setenv("SANLUN_EMPLOYEE_LIFECYCLE_DATABASE_URL", "postgresql://own-role@host/db")
    monkeypatch.setenv("SANLUN_LOG_LEVEL", "DEBUG")
    s = Settings()
    assert s.database_url == "postgresql://own-role@host/db"
    assert s.log_level == "DEBUG"
    assert s.port == 8002


def test_placeholder_secret_refused_outside_development(monkeypatch):
    monkeypatch.delenv("SANLUN_JWT_SECRET", raising=False)
    assert Settings(environment="development").jwt_secret.get_secret_value() == PLACEHOLDER_SECRET
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(environment="production")
    ok = Settings(environment="production", jwt_secret="x" * 40, service_secret="y" * 40)
    assert "x" * 40 not in repr(ok)  # SecretStr never prints


def test_rs256_needs_jwks_url():
    with pytest.raises(ValidationError, match="JWKS"):
        Settings(jwt_algorithm="RS256")


def test_asyncpg_url():
    assert asyncpg_url("postgresql://u@h:5432/d") == "postgresql+asyncpg://u@h:5432/d"
    assert asyncpg_url("postgres://u@/d?host=/tmp/s") == "postgresql+asyncpg://u@/d?host=/tmp/s"


def test_the_metrics_token_is_long_or_unset(monkeypatch):
    from sanlun.kernel.settings import METRICS_TOKEN_MIN_LENGTH, ServiceSettings

    assert ServiceSettings().metrics_token is None
    monkeypatch.setenv("SANLUN_METRICS_TOKEN", "")  # compose passes an unset one through empty
    assert ServiceSettings().metrics_token is None
    monkeypatch.setenv("SANLUN_METRICS_TOKEN", "x" * METRICS_TOKEN_MIN_LENGTH)
    assert ServiceSettings().metrics_token.get_secret_value() == "x" * METRICS_TOKEN_MIN_LENGTH
    monkeypatch.setenv("SANLUN_METRICS_TOKEN", "short")
    with pytest.raises(ValidationError, match="SANLUN_METRICS_TOKEN"):
        ServiceSettings()
