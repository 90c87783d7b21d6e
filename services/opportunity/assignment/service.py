"""Assignment node use cases: propose, commit, suggest, override."""

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, can_see, require_roles
from sanlun.kernel.clock import session_clock
from sanlun.kernel.db import utcnow
from sanlun.kernel.errors import Conflict, NotFound, Unprocessable
from sanlun.kernel.events import publish_many
from sanlun.kernel.peer_stages import StageInfo, Stages
from sanlun.kernel.peer_stages import fetch as fetch_stages
from sanlun.kernel.peers import Peers
from services.opportunity.assignment import coverage as accounts_coverage
from services.opportunity.assignment import repository
from services.opportunity.assignment.models import Proposal
from services.opportunity.assignment.schemas import (
    Candidate,
    Components,
    OverrideRequest,
    Pool,
    ProposalItem,
    ProposeRequest,
    Unplaced,
)
from services.opportunity.domain import explain
from services.opportunity.domain.policy import AssignmentPolicy
from services.opportunity.domain.scoring import L1, Deal, Rep, Scores, caps, score
from services.opportunity.domain.solver import UNASSIGNED, solve
from services.opportunity.domain.stages import OPEN_STAGES
from services.opportunity.opportunities import events, references
from services.opportunity.opportunities import repository as opportunity_rows
from services.opportunity.opportunities.models import Opportunity
from services.opportunity.policies.service import policy_for
from services.opportunity.sales_people import repository as people
from services.opportunity.sales_people.models import SalesPerson

ASSIGNING_ROLES = ("manager", "org_admin", "group_admin")
MAX_DEALS = 10_000


@dataclass(slots=True)
class Context:
    reps: list[Rep]
    names: dict[str, str]
    excluded_no_capacity: int
    units: dict[str, str]
    stages: Stages
    coverage: accounts_coverage.Coverage
    policy: AssignmentPolicy
    notes: list[str]
    # Pool members named by id that the local view does not show the caller.
    hidden_locally: set[uuid.UUID]


async def _pool_people(
    session: AsyncSession, principal: Principal, pool: Pool
) -> tuple[list[SalesPerson], set[uuid.UUID]]:
    """The pool, and the ids it names that the local view does not show the
    caller. Those are still asked about live (the view may lag behind), as
    placeholders the lifecycle service's answer decides about."""
    if pool.org_unit:
        return await people.in_unit(session, principal, pool.org_unit, limit=5000), set()
    known = {p.employee_id: p for p in await people.visible_by_ids(session, principal, list(pool.employee_ids or []))}
    found = [
        known.get(e) or SalesPerson(employee_id=e, name="", org_unit_path="", capacity=0, active=True, source_version=0)
        for e in pool.employee_ids or []
    ]
    return found, {e for e in pool.employee_ids or [] if e not in known}


async def _stages(peers: Peers, found: list[SalesPerson], cached: list[SalesPerson]) -> Stages:
    async def local(ids: list[uuid.UUID]) -> tuple[dict[uuid.UUID, StageInfo], dt.datetime | None]:
        # The pool's rows, already read, carry the stage and capacity last seen in events.
        seen = [p.stage_seen_at for p in cached if p.stage_seen_at]
        return {p.employee_id: StageInfo(p.stage, p.capacity) for p in cached}, min(seen) if seen else None

    return await fetch_stages(peers, [p.employee_id for p in found], local=local)


async def _context(
    peers: Peers,
    limits: accounts_coverage.CoverageLimits,
    session: AsyncSession,
    principal: Principal,
    pool: Pool,
    deals: list[Opportunity],
) -> Context:
    found, hidden_locally = await _pool_people(session, principal, pool)
    # Placeholders carry nothing a cached answer could trust.
    cached = [p for p in found if p.employee_id not in hidden_locally]
    stages = await _stages(peers, found, cached)
    notes = [stages.note] if stages.note else []
    if stages.not_found:
        notes.append(
            f"{len(stages.not_found)} pool member(s) unknown to the lifecycle service or hidden from you: left out"
        )
    load = await repository.open_load(session, [p.employee_id for p in found])
    known = [
        Rep(str(p.employee_id), info.stage, info.capacity, load.get(p.employee_id, 0))
        for p in found
        if (info := stages.by_employee.get(p.employee_id)) is not None
    ]
    # People who carry no deals (capacity 0: managers, for example) are not salespeople for the pool.
    reps = [r for r in known if r.capacity > 0]
    if len(reps) < len(known):
        notes.append(
            f"{len(known) - len(reps)} pool member(s) with no capacity (managers, for example) left out: "
            f"{len(reps)} salespeople in the pool"
        )
    accounts = list(dict.fromkeys(d.account_id for d in deals if d.account_id))
    coverage = await accounts_coverage.coverage(peers, accounts, limits, today=session_clock(session).today())
    if coverage.note:
        notes.append(coverage.note)
    policy = (await policy_for(session, principal.org_unit_path)).assignment
    return Context(
        reps,
        {str(p.employee_id): p.name or str(p.employee_id) for p in found},
        len(known) - len(reps),
        {str(p.employee_id): p.org_unit_path for p in found},
        stages,
        coverage,
        policy,
        notes,
        hidden_locally,
    )


def _check_pool(pool: Pool, ctx: Context) -> None:
    """Pool members named by id are references like any other: one the caller
    may not see and one that does not exist get the same 422. Live, the
    lifecycle service says (with the caller's token); cached, the local view
    (kept from its events) filtered by the caller's visibility."""
    if pool.employee_ids is None:
        return
    hidden = set(ctx.stages.not_found) if ctx.stages.source == "live" else ctx.hidden_locally
    unseen = [
        references.Ref("employee", e, ("body", "pool", "employee_ids", i))
        for i, e in enumerate(pool.employee_ids)
        if e in hidden
    ]
    if unseen:
        raise references.problem(unseen)


STRATEGIC_TIERS = frozenset({"strategic"})


def _deal(o: Opportunity, tiers: dict[str, str] | None = None) -> Deal:
    """A deal is strategic when its account's Who tier is (L3 reps are kept for those and large ones)."""
    account = str(o.account_id) if o.account_id else None
    return Deal(
        str(o.id),
        float(o.amount.amount) if o.amount else None,
        o.industry,
        o.size_band,
        tuple(str(s) for s in o.solution_ids or []),
        account,
        strategic=account is not None and (tiers or {}).get(account) in STRATEGIC_TIERS,
    )


def _components(s: Scores, i: int, j: int, rep: Rep, *, protected: bool, raw: bool = False) -> Components:
    """`raw`: the utility before the caps (a runner-up may have had no room)."""
    return Components(
        win_probability=round(float(s.win_probability[i, j]), 4),
        deal_value=round(float(s.value[i]), 2),
        expected_value=round(float(s.win_probability[i, j] * s.value[i]), 2),
        continuity=float(s.continuity[i, j]),
        load_ratio=round(float(s.load_ratio[j]), 4),
        stage=rep.stage,
        stage_multiplier=float(s.stage_multiplier[i, j]),
        starter=bool(s.starter[i]),
        protected_l1_share=protected,
        utility=round(float((s.raw_utility if raw else s.utility)[i, j]), 4),
    )


def _stage_note(ctx: Context) -> str | None:
    return (
        f"stages from cache as of {ctx.stages.as_of.isoformat() if ctx.stages.as_of else 'unknown'}"
        if ctx.stages.source == "cached"
        else None
    )


async def propose(
    *,
    session: AsyncSession,
    principal: Principal,
    peers: Peers,
    limits: accounts_coverage.CoverageLimits,
    data: ProposeRequest,
) -> Proposal:
    require_roles(principal, *ASSIGNING_ROLES)
    deals = await repository.unassigned_deals(
        session, principal, ids=data.opportunity_ids, org_unit=data.unassigned_in, limit=MAX_DEALS
    )
    unplaced = [
        Unplaced(opportunity_id=i, reason="not found, not visible to you, already assigned or closed")
        for i in sorted(set(data.opportunity_ids or []) - {d.id for d in deals}, key=str)
    ]
    ctx = await _context(peers, limits, session, principal, data.pool, deals)
    _check_pool(data.pool, ctx)
    items: list[ProposalItem] = []
    summary: dict[str, Any] = {
        "deals": len(deals),
        "reps": len(ctx.reps),
        "excluded_no_capacity": ctx.excluded_no_capacity,
    }
    if deals and ctx.reps:
        s = score(
            [_deal(d, ctx.coverage.tiers) for d in deals],
            ctx.reps,
            await repository.history(session, [uuid.UUID(r.employee_id) for r in ctx.reps]),
            ctx.policy,
            coverage=ctx.coverage.members,
        )
        cap = caps(ctx.reps, s.closed_deals, ctx.policy)
        is_l1 = np.array([r.stage == L1 for r in ctx.reps])
        sol = solve(
            s.utility,
            cap,
            is_l1=is_l1,
            starter=s.starter,
            l1_share=ctx.policy.l1_starter_share,
            k=ctx.policy.candidates_per_opportunity,
            raw=s.raw_utility,
        )
        placed = sol.owner != UNASSIGNED
        given = np.bincount(sol.owner[placed], minlength=len(ctx.reps))
        room = int(cap.sum())
        beyond = (
            f"beyond the pool's room: {room} new deal(s) fit the pool (each rep's cap: capacity minus open load, "
            f"at most {ctx.policy.unproven_max_per_proposal} for a rep with no closed deal) for {len(deals)} deal(s); "
            "left unassigned for another round or pool"
        )
        for i, d in enumerate(deals):
            j = int(sol.owner[i])
            if j == UNASSIGNED:
                reason = beyond if room < len(deals) else "no rep in the pool with room could take it"
                unplaced.append(Unplaced(opportunity_id=d.id, reason=reason))
                continue
            rep, r2 = ctx.reps[j], int(sol.runner_up[i])
            runner, lost = None, None
            if r2 != UNASSIGNED:
                runner = Candidate(
                    employee_id=uuid.UUID(ctx.reps[r2].employee_id),
                    score=round(float(s.raw_utility[i, r2]), 4),
                    components=_components(s, i, r2, ctx.reps[r2], protected=False, raw=True),
                )
                other = ctx.reps[r2]
                lost = explain.runner_up_lost(
                    explain.RunnerUp(
                        name=ctx.names.get(other.employee_id, other.employee_id),
                        score=float(s.raw_utility[i, r2]),
                        stage=other.stage,
                        capacity=other.capacity,
                        open_load=other.open_load,
                        cap=int(cap[r2]),
                        given=int(given[r2]),
                        closed_deals=int(s.closed_deals[r2]),
                    ),
                    owner_score=float(s.utility[i, j]),
                    protected=bool(sol.protected[i]),
                    unproven_max=ctx.policy.unproven_max_per_proposal,
                )
            items.append(
                ProposalItem(
                    opportunity_id=d.id,
                    proposed_owner_id=uuid.UUID(rep.employee_id),
                    score=round(float(s.utility[i, j]), 4),
                    components=_components(s, i, j, rep, protected=bool(sol.protected[i])),
                    runner_up=runner,
                    explanation=[
                        *explain.reasons(
                            s,
                            i,
                            j,
                            stage=rep.stage,
                            protected=bool(sol.protected[i]),
                            coverage_note=ctx.coverage.note,
                            stages_note=_stage_note(ctx),
                        ),
                        *([lost] if lost else []),
                    ],
                )
            )
        receiving = given[given > 0]
        summary |= {
            "assigned": int(placed.sum()),
            "unassigned": int((~placed).sum()),
            "room": room,
            "people_receiving": int(receiving.size),
            "per_person": (
                {"min": int(receiving.min()), "median": float(np.median(receiving)), "max": int(receiving.max())}
                if receiving.size
                else None
            ),
            "expected_won_value": round(
                float((s.win_probability[np.arange(len(deals)), np.maximum(sol.owner, 0)] * s.value)[placed].sum()), 2
            ),
            "starters": sol.starters,
            "l1_starter_target": sol.l1_starter_target,
            "l1_starters_given": sol.l1_starters_given,
        }
        if sol.l1_starters_given < sol.l1_starter_target:
            ctx.notes.append("L1 protected share not reached: L1 reps lack free capacity for more starters")
        if room < len(deals):
            ctx.notes.append(f"{len(deals) - int(placed.sum())} deal(s) left unassigned: {beyond}")
    else:
        unplaced += [Unplaced(opportunity_id=d.id, reason="the pool has no rep to assign to") for d in deals]
        summary |= {
            "assigned": 0,
            "unassigned": len(deals),
            "room": 0,
            "people_receiving": 0,
            "per_person": None,
            "expected_won_value": 0.0,
        }
    proposal = Proposal(
        id=uuid.uuid4(),
        created_by=principal.subject,
        organization_path=principal.organization_path,
        status="proposed",
        stages_source=ctx.stages.source,
        stages_as_of=ctx.stages.as_of,
        result={
            "notes": ctx.notes,
            "summary": summary,
            "coverage": {
                "source": ctx.coverage.source,
                "accounts_checked": ctx.coverage.checked,
                "accounts_failed": ctx.coverage.failed,
                "accounts_skipped": ctx.coverage.skipped,
            },
            "items": [i.model_dump(mode="json") for i in items],
            "unassigned": [u.model_dump(mode="json") for u in unplaced],
            "units": {str(i.proposed_owner_id): ctx.units.get(str(i.proposed_owner_id)) for i in items},
            # Commit re-checks these: load may have grown since the proposal.
            "capacity": {r.employee_id: r.capacity for r in ctx.reps},
        },
    )
    session.add(proposal)
    await session.flush()
    return proposal


async def get_proposal(
    *, session: AsyncSession, principal: Principal, proposal_id: uuid.UUID, lock: bool = False
) -> Proposal:
    proposal = await session.get(Proposal, proposal_id, with_for_update=lock)
    if (
        proposal is None
        or (
            proposal.created_by != principal.subject
            and not can_see(principal, owner_id=None, org_unit_path=proposal.organization_path)
        )
        or not principal.has(*ASSIGNING_ROLES)
    ):
        raise NotFound(f"Proposal {proposal_id} was not found.")
    return proposal


async def commit(*, session: AsyncSession, principal: Principal, proposal_id: uuid.UUID) -> Proposal:
    """Apply a proposal once; committing it again answers the first result."""
    proposal = await get_proposal(session=session, principal=principal, proposal_id=proposal_id, lock=True)
    if proposal.status == "committed":
        return proposal
    items = proposal.result["items"]
    units: dict[str, str | None] = proposal.result.get("units", {})
    wanted = {uuid.UUID(i["opportunity_id"]): i for i in items}
    deals = {
        d.id: d
        for d in await repository.unassigned_deals(
            session, principal, ids=list(wanted), org_unit=None, limit=MAX_DEALS, lock=True
        )
    }
    capacity = {uuid.UUID(k): v for k, v in proposal.result.get("capacity", {}).items()}
    owners = sorted({uuid.UUID(i["proposed_owner_id"]) for i in items})
    # Serialise commits that give deals to the same reps, then count their load
    # as it is now: capacity is never exceeded, even by two proposals at once.
    for owner in owners:
        await session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(f"assign:{owner}"))))
    load = await repository.open_load(session, owners)
    decisions, skipped, committed = [], [], []
    for opportunity_id, item in wanted.items():
        deal = deals.get(opportunity_id)
        if deal is None:
            skipped.append(
                {"opportunity_id": str(opportunity_id), "reason": "assigned, closed or hidden since the proposal"}
            )
            continue
        owner = uuid.UUID(item["proposed_owner_id"])
        if owner in capacity and load.get(owner, 0) >= capacity[owner]:
            skipped.append(
                {
                    "opportunity_id": str(opportunity_id),
                    "reason": "the proposed rep has reached capacity since the proposal",
                }
            )
            continue
        load[owner] = load.get(owner, 0) + 1
        deal.owner_id = owner
        unit = units.get(str(owner))
        if unit and can_see(principal, owner_id=None, org_unit_path=unit):
            deal.org_unit_path = unit
        decisions.append(
            {
                "id": uuid.uuid4(),
                "opportunity_id": opportunity_id,
                "proposal_id": proposal.id,
                "kind": "proposal",
                "employee_id": owner,
                "previous_owner_id": None,
                "org_unit_path": deal.org_unit_path,
                "score": {
                    "score": item["score"],
                    "components": item["components"],
                    "explanation": item["explanation"],
                    "stages_source": proposal.stages_source,
                },
                "reason": None,
                "decided_by": principal.subject,
                "created_at": utcnow(),
            }
        )
        committed.append(deal)
    await session.flush()
    await repository.add_decisions(session, decisions)
    teams = await opportunity_rows.teams(session, [d.id for d in committed])
    await publish_many(
        session, [events.event(d, "assigned", team=teams[d.id], previous_owner_id=None) for d in committed]
    )
    proposal.status, proposal.committed_at = "committed", utcnow()
    proposal.commit_result = {"committed": len(committed), "skipped": skipped}
    await session.flush()
    return proposal


async def suggest(
    *,
    session: AsyncSession,
    principal: Principal,
    peers: Peers,
    limits: accounts_coverage.CoverageLimits,
    opportunity: Opportunity,
    pool: Pool,
    limit: int,
) -> tuple[list[Candidate], Context]:
    require_roles(principal, *ASSIGNING_ROLES)
    ctx = await _context(peers, limits, session, principal, pool, [opportunity])
    if not ctx.reps:
        return [], ctx
    s = score(
        [_deal(opportunity, ctx.coverage.tiers)],
        ctx.reps,
        await repository.history(session, [uuid.UUID(r.employee_id) for r in ctx.reps]),
        ctx.policy,
        coverage=ctx.coverage.members,
    )
    order = [j for j in np.argsort(-s.utility[0], kind="stable") if np.isfinite(s.utility[0, j])][:limit]
    return [
        Candidate(
            employee_id=uuid.UUID(ctx.reps[j].employee_id),
            score=round(float(s.utility[0, j]), 4),
            components=_components(s, 0, int(j), ctx.reps[j], protected=False),
        )
        for j in order
    ], ctx


async def override(
    *, session: AsyncSession, principal: Principal, peers: Peers, opportunity: Opportunity, data: OverrideRequest
) -> Opportunity:
    """The new owner must be someone the caller may see (the lifecycle service
    says, with the caller's token): a ghost id and another organisation's rep
    get the same 422; nothing is stored when it cannot answer (502/504)."""
    require_roles(principal, *ASSIGNING_ROLES)
    if opportunity.stage not in {s.value for s in OPEN_STAGES}:
        raise Conflict("A closed opportunity is not reassigned.", code="opportunity_closed")
    if data.employee_id == opportunity.owner_id:
        raise Unprocessable(
            "They already own it.", errors=[{"loc": ["body", "employee_id"], "msg": "already the owner"}]
        )
    refs = references.Refs()
    refs.employee(data.employee_id, ["body", "employee_id"])
    await references.check(session=session, principal=principal, peers=peers, refs=refs)
    person = (await people.by_ids(session, [data.employee_id]) or [None])[0]
    unit = data.org_unit_path or (
        person.org_unit_path if person and person.org_unit_path else opportunity.org_unit_path
    )
    if not can_see(principal, owner_id=None, org_unit_path=unit):
        raise Unprocessable(
            "You cannot place it outside the org units you see.",
            errors=[{"loc": ["body", "org_unit_path"], "msg": "outside the org units you see"}],
        )
    previous = opportunity.owner_id
    opportunity.owner_id, opportunity.org_unit_path = data.employee_id, unit
    await session.flush()
    await repository.add_decisions(
        session,
        [
            {
                "id": uuid.uuid4(),
                "opportunity_id": opportunity.id,
                "proposal_id": None,
                "kind": "override",
                "employee_id": data.employee_id,
                "previous_owner_id": previous,
                "org_unit_path": unit,
                "score": None,
                "reason": data.reason,
                "decided_by": principal.subject,
                "created_at": utcnow(),
            }
        ],
    )
    await events.emit(session, opportunity, "assigned", previous_owner_id=previous)
    return opportunity


def proposal_body(p: Proposal) -> dict[str, Any]:
    r = p.result
    return {
        "id": p.id,
        "status": p.status,
        "stages_source": p.stages_source,
        "stages_as_of": p.stages_as_of,
        "notes": r["notes"],
        "coverage": r["coverage"],
        "summary": r["summary"],
        "items": r["items"],
        "unassigned": r["unassigned"],
        "created_at": p.created_at,
        "committed_at": p.committed_at,
        "commit_result": p.commit_result,
    }
