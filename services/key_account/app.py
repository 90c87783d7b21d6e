"""ESP+ key account service (port 8003, schema `key_account`)."""

from collections.abc import Mapping
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.app import create_service_app
from sanlun.kernel.clock import Clock
from sanlun.kernel.db import Database
from sanlun.kernel.event_routes import CloudEvent
from sanlun.kernel.events import EventHandler
from services.key_account.accounts import sharing
from services.key_account.accounts.router import router as accounts_router
from services.key_account.accounts.sharing_router import router as sharing_router
from services.key_account.accounts.tier_router import router as tier_router
from services.key_account.contacts.router import router as contacts_router
from services.key_account.coverage.router import router as coverage_router
from services.key_account.db import Base
from services.key_account.plans.events import EVENT_HANDLERS as LINEAGE_HANDLERS
from services.key_account.plans.incubation_router import router as incubation_router
from services.key_account.plans.router import router as plans_router
from services.key_account.segmentation.router import router as segmentation_router
from services.key_account.settings import Settings
from services.key_account.worklist.router import router as worklist_router

MIGRATIONS = Path(__file__).parent / "migrations"


def _in_turn(handlers: list[EventHandler]) -> EventHandler:
    async def handle(*, session: AsyncSession, event: CloudEvent) -> None:
        for handler in handlers:
            await handler(session=session, event=event)

    return handle


def combine(*tables: Mapping[str, EventHandler]) -> dict[str, EventHandler]:
    """One handler per event type, running each table's handler for it in turn
    (in the one transaction the event and its inbox row commit in)."""
    by_type: dict[str, list[EventHandler]] = {}
    for table in tables:
        for event_type, handler in table.items():
            by_type.setdefault(event_type, []).append(handler)
    return {t: hs[0] if len(hs) == 1 else _in_turn(hs) for t, hs in by_type.items()}


# Implicit sharing follows every opportunity event; incubation lineage the ones that carry a stage.
EVENT_HANDLERS = combine(sharing.EVENT_HANDLERS, LINEAGE_HANDLERS)


def create_app(
    settings: Settings | None = None, *, database: Database | None = None, clock: Clock | None = None
) -> FastAPI:
    return create_service_app(
        service="key_account",
        title="Sanlun key accounts (ESP+)",
        description=(
            "Key accounts and their subsidiary hierarchy, Who (segmentation) and Coverage, contacts and "
            "relationship maps, account plans with the three ESP+ core tasks, and opportunity incubation."
        ),
        settings=settings or Settings(),
        metadata=Base.metadata,
        migrations_dir=MIGRATIONS,
        # Literal paths (`/accounts/segmentation-policy`, `/accounts/coverage-violations`) before `/accounts/{id}`.
        routers=[
            segmentation_router,
            coverage_router,
            accounts_router,
            tier_router,
            contacts_router,
            plans_router,
            incubation_router,
            worklist_router,
            sharing_router,
        ],
        event_handlers=EVENT_HANDLERS,
        database=database,
        clock=clock,
    )
