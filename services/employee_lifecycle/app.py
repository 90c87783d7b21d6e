"""Employee lifecycle service (port 8002, schema `employee_lifecycle`)."""

from pathlib import Path

from fastapi import FastAPI

from sanlun.kernel.app import create_service_app
from sanlun.kernel.db import Database
from services.employee_lifecycle import employees
from services.employee_lifecycle.db import SCHEMA, Base
from services.employee_lifecycle.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> FastAPI:
    return create_service_app(
        service="employee_lifecycle",
        title="Sanlun employee lifecycle",
        description="People, organisation, signals and the explainable lifecycle stage engine.",
        settings=settings or Settings(),
        metadata=Base.metadata,
        migrations_dir=MIGRATIONS,
        routers=[employees.router],
        database=database,
    )
