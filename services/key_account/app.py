"""ESP+ key account service (port 8003, schema `key_account`)."""

from pathlib import Path

from fastapi import FastAPI

from sanlun.kernel.app import create_service_app
from sanlun.kernel.db import Database
from services.key_account import accounts
from services.key_account.db import Base
from services.key_account.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> FastAPI:
    return create_service_app(
        service="key_account",
        title="Sanlun key accounts (ESP+)",
        description="Key accounts and their subsidiary hierarchy, coverage, relationship maps and account plans.",
        settings=settings or Settings(),
        metadata=Base.metadata,
        migrations_dir=MIGRATIONS,
        routers=[accounts.router],
        database=database,
    )
