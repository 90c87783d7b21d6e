"""The `opportunity.*` events, with exactly the data docs/contracts.md fixes.

Every event carries the deal's whole current `team` (`[{employee_id, role}]`),
so a consumer that follows owners and team members (the key account service's
implicit sharing) needs no other call. Callers pass the team they loaded:
`team_of` for one deal, `repository.teams` once for a batch. A bulk upsert
passes the deal as its statement wrote it (no ORM object) and members as
`(employee_id, role)` pairs: anything with these attributes will do.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.events import Event, publish
from services.opportunity.opportunities import repository
from services.opportunity.opportunities.models import Opportunity, TeamMember


def _s(value: object) -> str | None:
    return None if value is None else str(value)


def team_data(team: Sequence[TeamMember]) -> list[dict[str, str]]:
    return [{"employee_id": str(m.employee_id), "role": m.role} for m in sorted(team, key=lambda m: str(m.employee_id))]


def data(
    o: Opportunity,
    *,
    team: Sequence[TeamMember],
    previous_owner_id: object = None,
    previous_stage: str | None = None,
    previous_account_id: object = None,
    previous_team: Sequence[TeamMember] | None = None,
    kind: str,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "opportunity_id": str(o.id),
        "owner_id": _s(o.owner_id),
        "org_unit_path": o.org_unit_path,
        "account_id": _s(o.account_id),
        "stage": o.stage,
        "amount": {"amount": f"{o.amount.amount:.2f}", "currency": o.amount.currency} if o.amount else None,
        "solution_ids": [str(s) for s in o.solution_ids or []],
        "industry": o.industry,
        "size_band": o.size_band,
        "expected_close_date": _s(o.expected_close_date),
        "origin_type": o.origin_type,
        "origin_id": o.origin_id,
        "team": team_data(team),
        "version": o.version,
    }
    if kind == "assigned":
        out["previous_owner_id"] = _s(previous_owner_id)
    if kind in ("stage_changed", "won", "lost"):
        out["previous_stage"] = previous_stage
    if kind in ("won", "lost"):
        out["closed_on"] = _s(o.closed_on)
    if kind == "updated":
        out["previous_account_id"] = _s(previous_account_id)
    if kind == "team_changed":
        out["previous_team"] = team_data(previous_team or [])
    return out


def event(o: Opportunity, kind: str, *, team: Sequence[TeamMember], **kw: Any) -> Event:
    return Event(type=f"opportunity.{kind}", subject=str(o.id), data=data(o, kind=kind, team=team, **kw))


async def team_of(session: AsyncSession, o: Opportunity) -> list[TeamMember]:
    return (await repository.teams(session, [o.id]))[o.id]


async def emit(session: AsyncSession, o: Opportunity, kind: str, **kw: Any) -> None:
    """Publish one event about `o`, with its team as stored now (unless `team=` is given)."""
    team = kw.pop("team", None)
    if team is None:
        team = await team_of(session, o)
    await publish(session, event(o, kind, team=team, **kw))
