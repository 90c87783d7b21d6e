"""ESP+ key account service (port 8003, schema `key_account`)."""

from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.app import create_service_app
from sanlun.kernel.clock import Clock
from sanlun.kernel.db import Database
from sanlun.kernel.event_routes import CloudEvent
from sanlun.kernel.events import Batched, EventHandler
from services.key_account.accounts import sharing
from services.key_account.accounts.batch_router import router as accounts_batch_router
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


async def _opportunity_events(*, session: AsyncSession, events: list[CloudEvent]) -> None:
    """Implicit sharing follows every opportunity event, deletions included
    (set-based over the run), incubation lineage the ones that carry a stage
    (one by one: a statement only for a deal made from an incubation item)."""
    await sharing.on_opportunity_events(session=session, events=events)
    for event in events:
        lineage = LINEAGE_HANDLERS.get(event.type)
        if lineage is not None:
            await lineage(session=session, event=event)


OPPORTUNITY_EVENTS = Batched(_opportunity_events)
EVENT_HANDLERS: dict[str, EventHandler | Batched] = dict.fromkeys(sharing.SHARED_EVENT_TYPES, OPPORTUNITY_EVENTS)


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
            accounts_batch_router,
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
