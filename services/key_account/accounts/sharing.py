"""Implicit sharing: the owner and the team members of an opportunity read its
account and the account's contacts (read-only; coverage stays the explicit
model that also lets people change the account).

Kept from every `opportunity.*` event, which carries `opportunity_id`,
`owner_id`, `account_id`, `org_unit_path`, `stage`, `version` and, from the
publisher's implicit-sharing release on, the whole current `team`
(`[{employee_id, role}]`). An event without `team` leaves the known team as it
is. Facts older than the stored `version` of the opportunity change nothing
(events of one subject arrive in order, but a replayed parked event or a
resync can come late); several events of one commit carry the same version and
the same facts, so an equal version is applied again, harmlessly. Sharing ends
when the person leaves the deal: another owner, off the team, or
`opportunity.deleted`.

`POST /ops/account-shares/resync` rebuilds the same tables from the
opportunity service's `GET /internal/opportunities/participants` pages, for
installations whose deals predate the events (an import, a restore).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.event_routes import CloudEvent
from sanlun.kernel.peers import Peers, ok_json
from services.key_account.accounts import repository

log = structlog.get_logger("sanlun.key_account.sharing")

PARTICIPANTS_PATH = "/internal/opportunities/participants"
ROLE_LENGTH = 64


@dataclass(frozen=True, slots=True)
class Deal:
    """What sharing needs to know of one opportunity. `team` None: unknown, keep the stored one."""

    opportunity_id: uuid.UUID
    version: int
    account_id: uuid.UUID | None
    owner_id: uuid.UUID | None
    org_unit_path: str | None = None
    stage: str | None = None
    team: tuple[tuple[uuid.UUID, str | None], ...] | None = None

    def row(self) -> dict[str, Any]:
        return {
            "opportunity_id": self.opportunity_id,
            "account_id": self.account_id,
            "owner_id": self.owner_id,
            "org_unit_path": self.org_unit_path,
            "stage": self.stage,
            "version": self.version,
        }


def _uuid(value: Any) -> uuid.UUID | None:
    if value is None or value == "":
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _version(value: Any) -> int:
    """A missing or unreadable version counts as 0: it creates what is unknown, overrides nothing."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _team(value: Any) -> tuple[tuple[uuid.UUID, str | None], ...] | None:
    """`[{employee_id, role}]` (events) or `[employee_id, ...]` (the participants' `team_ids`);
    anything else: unknown. Unreadable members are skipped, duplicates kept once."""
    if not isinstance(value, list):
        return None
    members: dict[uuid.UUID, str | None] = {}
    for entry in value:
        if isinstance(entry, dict):
            employee_id, role = _uuid(entry.get("employee_id")), entry.get("role")
        else:
            employee_id, role = _uuid(entry), None
        if employee_id is not None:
            members[employee_id] = str(role)[:ROLE_LENGTH] if role else members.get(employee_id)
    return tuple(members.items())


def deal_from_event(event: CloudEvent) -> Deal | None:
    data = event.data
    opportunity_id = _uuid(data.get("opportunity_id")) or _uuid(event.subject)
    if opportunity_id is None:
        return None
    return Deal(
        opportunity_id=opportunity_id,
        version=_version(data.get("version")),
        account_id=_uuid(data.get("account_id")),
        owner_id=_uuid(data.get("owner_id")),
        org_unit_path=str(data["org_unit_path"])[:500] if data.get("org_unit_path") else None,
        stage=str(data["stage"])[:32] if data.get("stage") else None,
        team=_team(data.get("team")),
    )


def deal_from_participant(item: dict[str, Any]) -> Deal | None:
    opportunity_id = _uuid(item.get("opportunity_id"))
    if opportunity_id is None:
        return None
    # `team` (with roles), `org_unit_path` and `stage` are read when the listing carries them.
    team = _team(item["team"]) if isinstance(item.get("team"), list) else _team(item.get("team_ids"))
    return Deal(
        opportunity_id=opportunity_id,
        version=_version(item.get("version")),
        account_id=_uuid(item.get("account_id")),
        owner_id=_uuid(item.get("owner_id")),
        org_unit_path=str(item["org_unit_path"])[:500] if item.get("org_unit_path") else None,
        stage=str(item["stage"])[:32] if item.get("stage") else None,
        team=team,
    )


async def apply(session: AsyncSession, deals: list[Deal]) -> list[uuid.UUID]:
    """Store these facts and make the shares follow them, in a constant number
    of statements; returns the opportunities written (not stale, not deleted)."""
    latest: dict[uuid.UUID, Deal] = {}
    for deal in deals:
        known = latest.get(deal.opportunity_id)
        if known is None or deal.version >= known.version:
            latest[deal.opportunity_id] = deal
    written = await repository.store_opportunities(session, [d.row() for d in latest.values()])
    if not written:
        return []
    await repository.sync_owner_shares(session, written)
    teams: dict[uuid.UUID, list[tuple[uuid.UUID, str | None]]] = {}
    for opportunity_id in written:
        team = latest[opportunity_id].team
        if team is not None:
            teams[opportunity_id] = list(team)
    await repository.sync_team_shares(session, teams)
    await repository.sync_share_accounts(session, written)
    return written


async def on_opportunity_events(*, session: AsyncSession, events: list[CloudEvent]) -> None:
    """A run of `opportunity.*` events in one `apply` (the newest version of
    each opportunity wins, so their order inside the run does not matter)."""
    deals = []
    for event in events:
        deal = deal_from_event(event)
        if deal is None:
            log.warning("share_event_unreadable", event_id=str(event.id), type=event.type)
        else:
            deals.append(deal)
    if deals and not await apply(session, deals):
        log.info("share_events_stale", events=len(deals))


async def on_opportunity_deleted(*, session: AsyncSession, event: CloudEvent) -> None:
    deal = deal_from_event(event)
    if deal is not None:
        await repository.forget_opportunity(session, deal.opportunity_id, deal.version)


# Every `opportunity.*` event the opportunity service publishes but `opportunity.deleted`
# (key_account subscribes to `opportunity.*`): handled in runs by `on_opportunity_events`
# (services/key_account/app.py); a type not listed there is recorded in the inbox and ignored.
SHARED_EVENT_TYPES = tuple(
    f"opportunity.{kind}" for kind in ("created", "assigned", "updated", "team_changed", "stage_changed", "won", "lost")
)


async def resync(*, session: AsyncSession, peers: Peers, page_size: int) -> dict[str, int]:
    """Page through the opportunity service's participants and rebuild the
    shares from them, in this request's transaction: facts older than what
    events already brought are kept as they are; opportunities it no longer
    lists (and no event touched meanwhile) are dropped."""
    started = (await session.execute(sa.select(sa.func.clock_timestamp()))).scalar_one()
    listed: list[uuid.UUID] = []
    applied = pages = 0
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": page_size}
        if after is not None:
            params["after"] = after
        response = await peers.get(
            "opportunity", PARTICIPANTS_PATH, params=params, advice="nothing was changed, run the resync again"
        )
        page = ok_json("opportunity", response)
        pages += 1
        deals = [d for d in (deal_from_participant(i) for i in page.get("items") or []) if d is not None]
        listed.extend(d.opportunity_id for d in deals)
        applied += len(await apply(session, deals))
        next_after = page.get("next_after")
        if not next_after or next_after == after or not deals:
            break
        after = str(next_after)
    removed = await repository.forget_unlisted(session, listed, started)
    opportunities, shares = await repository.share_counts(session)
    log.info("shares_resynced", pages=pages, listed=len(listed), applied=applied, removed=removed)
    return {
        "pages": pages,
        "listed": len(listed),
        "applied": applied,
        "removed": removed,
        "opportunities": opportunities,
        "shares": shares,
    }
