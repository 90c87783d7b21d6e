"""TAS+ opportunity service (port 8001, schema `opportunity`)."""

from pathlib import Path

from fastapi import FastAPI

from sanlun.kernel.app import create_service_app
from sanlun.kernel.db import Database
from services.opportunity import opportunities, sales_people, solutions
from services.opportunity.db import SCHEMA, Base
from services.opportunity.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> FastAPI:
    return create_service_app(
        service=SCHEMA,
        title="Sanlun TAS+ opportunities",
        description="Opportunities from lead to contract, the solution catalogue and the assignment node.",
        settings=settings or Settings(),
        metadata=Base.metadata,
        migrations_dir=MIGRATIONS,
        routers=[opportunities.router, solutions.router, sales_people.router],
        event_handlers=sales_people.EVENT_HANDLERS,
        database=database,
    )
