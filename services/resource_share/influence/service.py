"""Influence and profiles. Functions flush; the edge commits."""

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, can_see
from sanlun.kernel.clock import session_clock
from sanlun.kernel.errors import Forbidden, NotFound
from sanlun.kernel.event_routes import CloudEvent
from sanlun.kernel.peers import Peers
from services.resource_share import lookups
from services.resource_share.domain import influence as rules
from services.resource_share.influence import repository
from services.resource_share.influence.models import Profile
from services.resource_share.influence.schemas import (
    Demand,
    Influence,
    InfluenceBreakdown,
    ProfileRead,
    ProfileWrite,
    SharedAsset,
)
from services.resource_share.people import repository as people
from services.resource_share.requests import repository as requests_repository
from services.resource_share.support import repository as support_repository


async def influence(*, session: AsyncSession, employee_id: uuid.UUID) -> Influence:
    return influence_figures(employee_id, await repository.breakdown(session, employee_id))


def influence_figures(employee_id: uuid.UUID, row: Mapping[Any, Any]) -> Influence:
    """The influence `repository.BREAKDOWN`'s row adds up to."""
    b = rules.Breakdown(
        reuse_other_teams=row["reuse_other_teams"],
        reuse_other_organizations=row["reuse_other_organizations"],
        introductions_completed=row["introductions_completed"],
        wins_contributed=row["wins_contributed"],
        organizations_reached=row["organizations_reached"],
    )
    score, points = rules.score(b)
    rating_avg = row["rating_avg"]
    return Influence(
        employee_id=employee_id,
        score=score,
        breakdown=InfluenceBreakdown(**{k: getattr(b, k) for k in rules.POINTS}),
        points=points,
        rating_avg=round(float(rating_avg), 2) if rating_avg is not None else None,
    )


async def _may_see(
    session: AsyncSession, principal: Principal, peers: Peers, employee_id: uuid.UUID, profile: Profile | None
) -> bool:
    """Yourself, your line (managers above you, admins) or anyone once you opted in."""
    if profile is not None and profile.public:
        return True
    return await _in_line(session, principal, peers, employee_id, profile)


async def _in_line(
    session: AsyncSession, principal: Principal, peers: Peers, employee_id: uuid.UUID, profile: Profile | None
) -> bool:
    """Yourself, or your line: managers above you and admins. The unit comes
    from the people view, else the profile, else (someone hired moments ago,
    whose event has not arrived) the lifecycle service, asked with your token."""
    if principal.employee_id == employee_id:
        return True
    person = await people.get(session, employee_id)
    path = person.org_unit_path if person else profile.org_unit_path if profile else None
    if path is None:
        path = await lookups.employee_unit(peers, session, employee_id)
    if path is None:
        return principal.has("group_admin")
    return can_see(principal, owner_id=employee_id, org_unit_path=path)


async def influence_of(
    *, session: AsyncSession, principal: Principal, peers: Peers, employee_id: uuid.UUID
) -> Influence:
    profile = await repository.get_profile(session, employee_id)
    if not await _may_see(session, principal, peers, employee_id, profile):
        raise NotFound(f"No influence figures for {employee_id} that you may see.")
    return await influence(session=session, employee_id=employee_id)


async def demand_of(
    *, session: AsyncSession, principal: Principal, peers: Peers, employee_id: uuid.UUID, window_days: int
) -> Demand:
    """Not shown on a public profile: what is asked of someone is for them and their line."""
    if not await _in_line(session, principal, peers, employee_id, await repository.get_profile(session, employee_id)):
        raise NotFound(f"No demand figures for {employee_id} that you may see.")
    now = session_clock(session).now()
    since = now - dt.timedelta(days=window_days)
    figures = await repository.demand(session, employee_id, since=since, now=now)
    return Demand(employee_id=employee_id, since=since, window_days=window_days, **figures)


async def profile_of(
    *, session: AsyncSession, principal: Principal, peers: Peers, employee_id: uuid.UUID
) -> ProfileRead:
    profile = await repository.get_profile(session, employee_id)
    if profile is None or not await _may_see(session, principal, peers, employee_id, profile):
        raise NotFound(f"Profile {employee_id} was not found.")
    return await _present(session, profile)


async def put_profile(
    *, session: AsyncSession, principal: Principal, peers: Peers, employee_id: uuid.UUID, data: ProfileWrite
) -> ProfileRead:
    profile = await repository.get_profile(session, employee_id)
    if principal.employee_id != employee_id:
        # Someone you may not see is 404, not a 403 that says they exist.
        if not await _may_see(session, principal, peers, employee_id, profile):
            raise NotFound(f"Profile {employee_id} was not found.")
        raise Forbidden("Only you can publish or change your profile.")
    if profile is None:
        profile = Profile(employee_id=employee_id, org_unit_path=principal.org_unit_path)
        session.add(profile)
    if data.public and not profile.public:
        profile.published_at = session_clock(session).now()
    profile.public, profile.headline, profile.expertise_areas = data.public, data.headline, data.expertise_areas
    profile.org_unit_path = principal.org_unit_path
    await session.flush()
    return await _present(session, profile)


async def _present(session: AsyncSession, profile: Profile) -> ProfileRead:
    assets = await repository.shared_assets(session, profile.employee_id)
    return ProfileRead(
        employee_id=profile.employee_id,
        org_unit_path=profile.org_unit_path,
        public=profile.public,
        headline=profile.headline,
        expertise_areas=profile.expertise_areas,
        shared_assets=[SharedAsset.model_validate(a) for a in assets],
        influence=await influence(session=session, employee_id=profile.employee_id),
        published_at=profile.published_at,
        version=profile.version,
    )


async def on_opportunity_won(*, session: AsyncSession, event: CloudEvent) -> None:
    """Credit the resources and the support that served the won opportunity."""
    opportunity_id = uuid.UUID(event.data["opportunity_id"])
    await requests_repository.credit_win(session, opportunity_id)
    await support_repository.credit_win(session, opportunity_id)


EVENT_HANDLERS = {"opportunity.won": on_opportunity_won}
