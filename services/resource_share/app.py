"""Resource sharing service (port 8004, schema `resource_share`)."""

from pathlib import Path

from fastapi import FastAPI

from sanlun.kernel.app import create_service_app
from sanlun.kernel.clock import Clock
from sanlun.kernel.db import Database
from services.resource_share import influence, introductions, people, requests, resources, support
from services.resource_share.db import Base
from services.resource_share.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(
    settings: Settings | None = None, *, database: Database | None = None, clock: Clock | None = None
) -> FastAPI:
    return create_service_app(
        service="resource_share",
        title="Sanlun resource sharing",
        description=(
            "Shared assets, reference cases, experts and relationships across the group, shared by scope; "
            "requests to use them, introductions, the MCI support desk and influence."
        ),
        settings=settings or Settings(),
        metadata=Base.metadata,
        migrations_dir=MIGRATIONS,
        # influence's routes (/resources/people/...) go before /resources/{id} for clarity
        routers=[influence.router, resources.router, requests.router, introductions.router, support.router],
        event_handlers={**people.EVENT_HANDLERS, **influence.EVENT_HANDLERS},
        database=database,
        clock=clock,
    )
