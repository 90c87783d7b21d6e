"""Lineage from TAS+: opportunity events about opportunities made from incubation items."""

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.event_routes import CloudEvent
from services.key_account.plans.models import IncubationItem


async def on_opportunity_event(*, session: AsyncSession, event: CloudEvent) -> None:
    data = event.data
    if data.get("origin_type") != "incubation_item" or not data.get("origin_id"):
        return
    try:
        item_id, opportunity_id = uuid.UUID(str(data["origin_id"])), uuid.UUID(str(data["opportunity_id"]))
    except (KeyError, ValueError):
        return
    stage = data.get("stage") or event.type.rsplit(".", 1)[-1]
    # Also heals a promotion whose commit was lost here after the opportunity was made:
    # the item learns its opportunity from the opportunity's own event.
    await session.execute(
        sa.update(IncubationItem)
        .where(
            IncubationItem.id == item_id,
            sa.or_(IncubationItem.opportunity_id.is_(None), IncubationItem.opportunity_id == opportunity_id),
        )
        .values(
            opportunity_id=opportunity_id,
            opportunity_stage=stage,
            status="promoted",
            promoted_at=sa.func.coalesce(IncubationItem.promoted_at, event.time),
            version=IncubationItem.version + 1,
            updated_at=sa.func.now(),
        )
    )


EVENT_HANDLERS = {
    "opportunity.created": on_opportunity_event,
    "opportunity.stage_changed": on_opportunity_event,
    "opportunity.won": on_opportunity_event,
    "opportunity.lost": on_opportunity_event,
}
