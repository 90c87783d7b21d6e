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


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What applying the facts of one opportunity one at a time, in order,
    leaves: the last facts (with the last `org_unit_path` and `stage` given),
    the team as the last fact that carried one left it (None: unknown, keep
    the stored one; a null role keeps the member's stored role), and the shares
    that were ended on the way and come back at the end: they start anew."""

    deal: Deal
    team: dict[uuid.UUID, str | None] | None
    restarted: frozenset[tuple[uuid.UUID, str]]


def _runs(deals: list[Deal]) -> dict[uuid.UUID, list[Deal]]:
    """Per opportunity, in order, the facts that applying them one at a time
    would not skip as older than one before (so their versions never decrease)."""
    runs: dict[uuid.UUID, list[Deal]] = {}
    for deal in deals:
        run = runs.setdefault(deal.opportunity_id, [])
        if not run or deal.version >= run[-1].version:
            run.append(deal)
    return runs


def _outcome(run: list[Deal]) -> _Outcome:
    last = run[-1]
    restarted: set[tuple[uuid.UUID, str]] = set()
    if last.owner_id is not None and any(d.owner_id != last.owner_id for d in run):
        restarted.add((last.owner_id, "owner"))
    teams = [d.team for d in run if d.team is not None]
    team: dict[uuid.UUID, str | None] | None = None
    for members in teams:
        before = team or {}
        team = {e: role if role is not None else before.get(e) for e, role in members}
    if team is not None:
        on_each = [{e for e, _ in members} for members in teams]
        restarted |= {(e, "team") for e in team if any(e not in on for on in on_each)}
    deal = Deal(
        opportunity_id=last.opportunity_id,
        version=last.version,
        account_id=last.account_id,
        owner_id=last.owner_id,
        org_unit_path=next((d.org_unit_path for d in reversed(run) if d.org_unit_path is not None), None),
        stage=next((d.stage for d in reversed(run) if d.stage is not None), None),
    )
    return _Outcome(deal, team, frozenset(restarted))


async def apply(session: AsyncSession, deals: list[Deal]) -> list[uuid.UUID]:
    """Store these facts and make the shares follow them, as applying them one
    at a time in this order would, in a constant number of statements (three
    when every opportunity is new); returns the opportunities written (not
    stale, not deleted)."""
    runs = _runs(deals)
    if not runs:
        return []
    known = await repository.known_opportunities(session, list(runs))
    outcomes: dict[uuid.UUID, _Outcome] = {}
    for opportunity_id, run in runs.items():
        stored = known.get(opportunity_id)
        if stored is not None and stored.deleted:
            continue
        # Facts older than the stored ones change nothing (the run's versions never decrease).
        fresh = run if stored is None else [d for d in run if d.version >= stored.version]
        if fresh:
            outcomes[opportunity_id] = _outcome(fresh)
    written = await repository.store_opportunities(session, [o.deal.row() for o in outcomes.values()])
    grants: list[repository.Grant] = []
    keep: list[tuple[uuid.UUID, uuid.UUID, str]] = []
    held: list[uuid.UUID] = []  # written opportunities that may already have shares
    moved: dict[uuid.UUID, uuid.UUID | None] = {}
    for opportunity_id in written:
        outcome = outcomes[opportunity_id]
        deal = outcome.deal
        members = [(deal.owner_id, "owner", None)] if deal.owner_id is not None else []
        members += [(e, "team", role) for e, role in (outcome.team or {}).items()]
        for employee_id, source, role in members:
            grants.append((opportunity_id, employee_id, source, role, deal.account_id))
            if (employee_id, source) not in outcome.restarted:
                keep.append((opportunity_id, employee_id, source))
        stored = known.get(opportunity_id)
        if stored is not None:
            held.append(opportunity_id)
            if stored.account_id != deal.account_id:
                moved[opportunity_id] = deal.account_id
    teams = [o for o in held if outcomes[o].team is not None]
    await repository.drop_shares(session, held, teams, [k for k in keep if k[0] in known])
    await repository.grant_shares(session, grants)
    await repository.move_shares(session, moved)
    return written


async def on_opportunity_events(*, session: AsyncSession, events: list[CloudEvent]) -> None:
    """A run of `opportunity.*` events, `opportunity.deleted` included, in a few
    statements for the whole run: the facts of each opportunity up to its
    deletion as `apply` takes them, then the deletions."""
    deals: list[Deal] = []
    deleted: dict[uuid.UUID, int] = {}
    for event in events:
        deal = deal_from_event(event)
        if deal is None:
            log.warning("share_event_unreadable", event_id=str(event.id), type=event.type)
        elif event.type == DELETED:
            deleted[deal.opportunity_id] = max(deal.version, deleted.get(deal.opportunity_id, deal.version))
        elif deal.opportunity_id not in deleted:  # what follows a deletion changes nothing
            deals.append(deal)
    if deals and not await apply(session, deals):
        log.info("share_events_stale", events=len(deals))
    await repository.forget_opportunities(session, deleted)


DELETED = "opportunity.deleted"
# Every `opportunity.*` event the opportunity service publishes (key_account
# subscribes to `opportunity.*`): handled in runs by `on_opportunity_events`
# (services/key_account/app.py); a type not listed there is recorded in the inbox and ignored.
SHARED_EVENT_TYPES = (
    *(
        f"opportunity.{kind}"
        for kind in ("created", "assigned", "updated", "team_changed", "stage_changed", "won", "lost")
    ),
    DELETED,
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
