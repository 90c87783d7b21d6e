"""Employee lifecycle service (port 8002, schema `employee_lifecycle`)."""

from pathlib import Path

from fastapi import FastAPI

from sanlun.kernel.app import create_service_app
from sanlun.kernel.clock import Clock
from sanlun.kernel.db import Database
from services.employee_lifecycle import employees, models, org_units, policies, quotas, schedule  # noqa: F401
from services.employee_lifecycle.db import SCHEMA, Base
from services.employee_lifecycle.settings import Settings
from services.employee_lifecycle.signals.router import router as signals_router
from services.employee_lifecycle.stages.handlers import EVENT_HANDLERS
from services.employee_lifecycle.stages.router import router as stages_router

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(
    settings: Settings | None = None, *, database: Database | None = None, clock: Clock | None = None
) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        service=SCHEMA,
        title="Sanlun employee lifecycle",
        description="People, organisation, signals and the explainable lifecycle stage engine.",
        settings=settings,
        metadata=Base.metadata,
        migrations_dir=MIGRATIONS,
        # Static paths (`stages:batch-get`, `facts:backfill`) before `/{employee_id}`.
        routers=[
            schedule.router,
            stages_router,
            signals_router,
            employees.router,
            org_units.router,
            quotas.router,
            policies.router,
        ],
        event_handlers=EVENT_HANDLERS,
        background=[lambda app: schedule.scheduled(app, settings.stage_schedule_seconds)],
        database=database,
        clock=clock,
    )
