"""TAS+ opportunity service (port 8001, schema `opportunity`)."""

from pathlib import Path

from fastapi import FastAPI

from sanlun.kernel.app import create_service_app
from sanlun.kernel.clock import Clock
from sanlun.kernel.db import Database
from services.opportunity import opportunities, policies, sales_people, solutions
from services.opportunity.assignment.router import router as assignment_router
from services.opportunity.assignment.router import suggestions_router
from services.opportunity.db import SCHEMA, Base
from services.opportunity.pipeline.router import router as pipeline_router
from services.opportunity.plans.router import router as plans_router
from services.opportunity.recommendations.router import router as recommendations_router
from services.opportunity.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(
    settings: Settings | None = None, *, database: Database | None = None, clock: Clock | None = None
) -> FastAPI:
    return create_service_app(
        service=SCHEMA,
        title="Sanlun TAS+ opportunities",
        description=(
            "Opportunities from lead to contract, the TAS plan, the solution catalogue and the assignment node."
        ),
        settings=settings or Settings(),
        metadata=Base.metadata,
        migrations_dir=MIGRATIONS,
        # Fixed paths under /opportunities come before `/{opportunity_id}`.
        routers=[
            policies.router,
            pipeline_router,
            opportunities.router,
            plans_router,
            recommendations_router,
            suggestions_router,
            solutions.router,
            assignment_router,
            sales_people.router,
            opportunities.internal_router,
        ],
        event_handlers=sales_people.EVENT_HANDLERS,
        database=database,
        clock=clock,
    )
