"""Opportunity use cases. Functions flush; the edge commits."""

import datetime as dt
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, can_see
from sanlun.kernel.bulk import BulkReport, BulkRow, BulkRowResult, run_bulk_upsert
from sanlun.kernel.clock import session_clock
from sanlun.kernel.db import utcnow
from sanlun.kernel.errors import Conflict, Forbidden, NotFound, Unprocessable
from sanlun.kernel.events import publish_many
from services.opportunity.domain import gates
from services.opportunity.domain.stages import (
    OUTCOME_STAGES,
    Stage,
    is_forward,
    stages_passed,
    transition_problem,
)
from services.opportunity.opportunities import events, repository
from services.opportunity.opportunities.models import Opportunity
from services.opportunity.opportunities.schemas import (
    OpportunityBulkUpsert,
    OpportunityCreate,
    OpportunityImport,
    OpportunityUpdate,
    StageChangeRequest,
)
from services.opportunity.plans import service as plans
from services.opportunity.policies.service import policy_for
from services.opportunity.recommendations.repository import apply_outcomes

# Roles that may give an opportunity to someone else or leave it unassigned.
PLACING_ROLES = ("manager", "org_admin", "group_admin", "integrator")
# Roles that may force a stage gate or reopen a closed deal.
FORCING_ROLES = ("manager", "org_admin", "group_admin")
NOT_NULL = frozenset({"name", "org_unit_path", "stage", "solution_ids", "team"})
OUTCOMES = {s.value for s in OUTCOME_STAGES}


def _check_placement(principal: Principal, *, owner_id: uuid.UUID | None, org_unit_path: str) -> None:
    if principal.has(*PLACING_ROLES):
        # Only where they could still see it afterwards, whoever owns it.
        if not can_see(principal, owner_id=None, org_unit_path=org_unit_path):
            raise Forbidden(
                "You cannot place an opportunity in an org unit outside the ones you see.",
                errors=[{"loc": ["body", "org_unit_path"], "msg": "outside the org units you see"}],
            )
        return
    # A rep works only on their own deals, in the org unit their token places them.
    if owner_id is None or owner_id != principal.employee_id:
        raise Forbidden(
            "A rep may only create and keep opportunities for themself.",
            errors=[{"loc": ["body", "owner_id"], "msg": "must be your own employee id"}],
        )
    if org_unit_path != principal.org_unit_path:
        raise Forbidden(
            "A rep's opportunities sit in the rep's own org unit.",
            errors=[{"loc": ["body", "org_unit_path"], "msg": "must be your own org unit"}],
        )


async def _check_solutions(session: AsyncSession, solution_ids: list[uuid.UUID], loc: list[Any]) -> None:
    unknown = await repository.unknown_solutions(session, solution_ids)
    if unknown:
        raise Unprocessable(
            f"Unknown solutions: {', '.join(map(str, unknown))}.",
            errors=[{"loc": [*loc, "solution_ids"], "msg": f"unknown solution {u}"} for u in unknown],
        )


def _closing_problems(stage: Stage, *, closed_on: dt.date | None, has_amount: bool, loc: list[Any]) -> list[dict]:
    errors = []
    if stage in OUTCOME_STAGES and closed_on is None:
        errors.append({"loc": [*loc, "closed_on"], "msg": f"a {stage.value} opportunity needs its close date"})
    if stage == Stage.WON and not has_amount:
        errors.append({"loc": [*loc, "amount"], "msg": "a won opportunity needs its amount"})
    return errors


async def get(
    *, session: AsyncSession, principal: Principal, opportunity_id: uuid.UUID, for_update: bool = False
) -> Opportunity:
    opportunity = await repository.get_visible(session, principal, opportunity_id, for_update=for_update)
    if opportunity is None:
        raise NotFound(f"Opportunity {opportunity_id} was not found.")
    return opportunity


def _new(principal: Principal, data: OpportunityCreate) -> Opportunity:
    # Omitted owner means "mine"; an explicit null means "unassigned".
    owner_id = data.owner_id if "owner_id" in data.model_fields_set else principal.employee_id
    org_unit_path = data.org_unit_path or principal.org_unit_path
    _check_placement(principal, owner_id=owner_id, org_unit_path=org_unit_path)
    return Opportunity(
        id=uuid.uuid4(),
        **data.model_dump(exclude={"amount", "owner_id", "org_unit_path", "team", "origin", "solution_ids"}),
        solution_ids=list(dict.fromkeys(data.solution_ids)),
        amount=data.amount.value() if data.amount else None,
        owner_id=owner_id,
        org_unit_path=org_unit_path,
        origin_type=data.origin.type if data.origin else None,
        origin_id=data.origin.id if data.origin else None,
    )


async def create(*, session: AsyncSession, principal: Principal, data: OpportunityCreate) -> Opportunity:
    opportunity = _new(principal, data)
    if errors := _closing_problems(
        data.stage, closed_on=data.closed_on, has_amount=data.amount is not None, loc=["body"]
    ):
        raise Unprocessable("The opportunity cannot be created closed without its close facts.", errors=errors)
    if data.external_id and await repository.external_id_taken(session, data.external_id):
        raise Conflict(
            f"An opportunity with external id {data.external_id} already exists.",
            errors=[{"loc": ["body", "external_id"], "msg": "already in use"}],
        )
    await _check_solutions(session, opportunity.solution_ids, ["body"])
    if opportunity.owner_id is not None:
        # Business time: the clock's, like every date the service decides by.
        opportunity.assigned_at = session_clock(session).now()
    session.add(opportunity)
    await session.flush()
    await repository.replace_team(session, opportunity.id, [(m.employee_id, m.role) for m in data.team])
    await repository.add_stage_changes(session, [_history(opportunity.id, None, data.stage.value, principal)])
    await plans.get_or_create(session, opportunity.id)
    await apply_outcomes(session, [opportunity.id], sign=1)
    await events.emit(session, opportunity, "created")
    return opportunity


def _team_key(members: Any) -> list[tuple[str, str]]:
    return sorted((str(e), str(r)) for e, r in members)


def _history(
    opportunity_id: uuid.UUID, from_stage: str | None, to_stage: str, principal: Principal, **extra: Any
) -> dict:
    return {
        "opportunity_id": opportunity_id,
        "from_stage": from_stage,
        "to_stage": to_stage,
        "changed_at": utcnow(),
        "changed_by": principal.subject,
        "forced": False,
        **extra,
    }


async def update(
    *, session: AsyncSession, principal: Principal, opportunity: Opportunity, data: OpportunityUpdate
) -> Opportunity:
    changes = data.model_dump(exclude_unset=True, exclude={"amount", "team", "stage"})
    for field in NOT_NULL.intersection(data.model_fields_set):
        if getattr(data, field) is None:
            raise Unprocessable(f"{field} cannot be null.", errors=[{"loc": ["body", field], "msg": "cannot be null"}])
    owner_id = changes.get("owner_id", opportunity.owner_id)
    org_unit_path = changes.get("org_unit_path", opportunity.org_unit_path)
    if owner_id != opportunity.owner_id or org_unit_path != opportunity.org_unit_path:
        _check_placement(principal, owner_id=owner_id, org_unit_path=org_unit_path)
    if "solution_ids" in changes:
        changes["solution_ids"] = list(dict.fromkeys(changes["solution_ids"]))
        await _check_solutions(session, changes["solution_ids"], ["body"])
    closed = opportunity.stage in OUTCOMES
    if closed:
        await apply_outcomes(session, [opportunity.id], sign=-1)
    previous_owner, previous_account = opportunity.owner_id, opportunity.account_id
    previous_team = await events.team_of(session, opportunity)
    for field, value in changes.items():
        setattr(opportunity, field, value)
    if "amount" in data.model_fields_set:
        opportunity.amount = data.amount.value() if data.amount else None
    team = previous_team
    if data.team is not None:
        wanted = [(m.employee_id, m.role) for m in data.team]
        if _team_key(wanted) != _team_key((m.employee_id, m.role) for m in previous_team):
            await repository.replace_team(session, opportunity.id, wanted)
            team = await events.team_of(session, opportunity)
            # The row itself may be unchanged: touching it moves its version
            # (and ETag), so consumers order team facts like every other fact.
            opportunity.updated_at = utcnow()
    await session.flush()
    if closed:
        await apply_outcomes(session, [opportunity.id], sign=1)
    if opportunity.owner_id != previous_owner:
        await events.emit(session, opportunity, "assigned", previous_owner_id=previous_owner, team=team)
    if opportunity.account_id != previous_account:
        await events.emit(session, opportunity, "updated", previous_account_id=previous_account, team=team)
    if team is not previous_team:
        await events.emit(session, opportunity, "team_changed", previous_team=previous_team, team=team)
    if data.stage is not None and data.stage.value != opportunity.stage:
        opportunity = await change_stage(
            session=session, principal=principal, opportunity=opportunity, request=StageChangeRequest(stage=data.stage)
        )
    return opportunity


async def change_stage(
    *, session: AsyncSession, principal: Principal, opportunity: Opportunity, request: StageChangeRequest
) -> Opportunity:
    current, target = Stage(opportunity.stage), request.stage
    forcing = request.force
    if forcing:
        if not principal.has(*FORCING_ROLES):
            raise Forbidden(
                "Only a manager may force a stage move.", errors=[{"loc": ["body", "force"], "msg": "managers only"}]
            )
        if not request.reason:
            raise Unprocessable(
                "Forcing a stage move needs a reason.",
                errors=[{"loc": ["body", "reason"], "msg": "required when forcing"}],
            )
    problem = transition_problem(current, target)
    if problem and not (forcing and current != target):
        raise Conflict(problem, code="illegal_stage_transition", errors=[{"loc": ["body", "stage"], "msg": problem}])
    closed_on = request.closed_on or opportunity.closed_on
    if target == Stage.ABANDONED and closed_on is None:
        closed_on = session_clock(session).today()
    # Closing facts are never forced: a win without date and amount cannot be counted.
    hard = _closing_problems(target, closed_on=closed_on, has_amount=opportunity.amount is not None, loc=["body"])
    unmet: list[gates.Unmet] = []
    if is_forward(current, target) or target in OUTCOME_STAGES:
        policy = await policy_for(session, opportunity.org_unit_path)
        plan = plans.assess(await plans.get_or_create(session, opportunity.id), opportunity, policy)
        facts = gates.Facts(
            account_id=opportunity.account_id,
            amount=opportunity.amount.amount if opportunity.amount else None,
            expected_close_date=opportunity.expected_close_date,
            closed_on=closed_on,
            compelling_event=opportunity.compelling_event,
            solution_count=len(opportunity.solution_ids or []),
            plan=plan.sections,
            plan_completeness=plan.completeness,
        )
        passed = stages_passed(current, target) if is_forward(current, target) else [target]
        unmet = [
            u for u in gates.unmet(passed, facts, policy.stage_gates) if u.requirement not in ("closed_on", "amount")
        ]
    if hard or (unmet and not forcing):
        errors = hard + [
            {"loc": ["gate", u.stage.value, u.field], "msg": u.message, "requirement": u.requirement, **u.details}
            for u in unmet
        ]
        raise Conflict(
            f"Moving to {target.value} needs {len(errors)} more thing(s); a manager may force it with a reason.",
            code="stage_gate_unmet",
            errors=errors,
        )
    if current.value in OUTCOMES:
        await apply_outcomes(session, [opportunity.id], sign=-1)
    opportunity.stage = target.value
    opportunity.closed_on = closed_on if target.value in (*OUTCOMES, Stage.ABANDONED.value) else None
    await session.flush()
    if target.value in OUTCOMES:
        await apply_outcomes(session, [opportunity.id], sign=1)
    await repository.add_stage_changes(
        session,
        [
            _history(
                opportunity.id,
                current.value,
                target.value,
                principal,
                forced=bool(forcing and (unmet or problem)),
                reason=request.reason,
                unmet=[{"stage": u.stage.value, "requirement": u.requirement} for u in unmet] or None,
            )
        ],
    )
    team = await events.team_of(session, opportunity)
    await events.emit(session, opportunity, "stage_changed", previous_stage=current.value, team=team)
    if target.value in OUTCOMES:
        await events.emit(session, opportunity, target.value, previous_stage=current.value, team=team)
    return opportunity


async def bulk_upsert(*, session: AsyncSession, principal: Principal, request: OpportunityBulkUpsert) -> BulkReport:
    """Create or update by `external_id` (the kernel's bulk contract): a bad
    row is reported and skipped, the others go through in the same transaction."""
    return await run_bulk_upsert(
        session=session,
        request=request,
        row_model=OpportunityImport,
        upsert=lambda rows: _bulk_upsert(session, principal, rows),
    )


async def _bulk_upsert(
    session: AsyncSession, principal: Principal, rows: list[BulkRow[OpportunityImport]]
) -> list[BulkRowResult]:
    results: list[BulkRowResult] = []
    parsed = [(row, row.data) for row in rows]
    existing = await repository.by_external_ids(session, [row.external_id for row in rows])
    all_solutions = {s for _, d in parsed for s in d.solution_ids}
    unknown = set(await repository.unknown_solutions(session, all_solutions))
    known_solutions = all_solutions - unknown
    creates: list[tuple[BulkRow[OpportunityImport], Opportunity, OpportunityImport]] = []
    updates: list[tuple[BulkRow[OpportunityImport], Opportunity, OpportunityImport, str]] = []
    for row, data in parsed:
        ext, loc = row.external_id, row.loc()
        problems = [
            {"loc": [*loc, "solution_ids"], "msg": f"unknown solution {s}"}
            for s in data.solution_ids
            if s not in known_solutions
        ]
        problems += _closing_problems(data.stage, closed_on=data.closed_on, has_amount=data.amount is not None, loc=loc)
        current = existing.get(ext)
        if current is not None and not can_see(
            principal, owner_id=current.owner_id, org_unit_path=current.org_unit_path
        ):
            problems.append({"loc": [*loc, "external_id"], "msg": "already used by an opportunity you cannot see"})
        try:
            fresh = _new(principal, data)
        except Forbidden as exc:
            problems += [{**e, "loc": [*loc, *e["loc"][1:]]} for e in exc.errors or []]
        if problems:
            results.append(row.result("failed", errors=problems))
            continue
        if current is None:
            creates.append((row, fresh, data))
        else:
            updates.append((row, current, data, current.stage))
    closed_before = [o.id for _, o, _, stage in updates if stage in OUTCOMES]
    await apply_outcomes(session, closed_before, sign=-1)
    now = session_clock(session).now()
    for _, o, _ in creates:
        if o.owner_id is not None:
            o.assigned_at = now
    session.add_all([o for _, o, _ in creates])
    stored_teams = await repository.teams(session, [o.id for _, o, _, _ in updates])
    changed: set[uuid.UUID] = set()
    new_teams: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = {
        o.id: [(m.employee_id, m.role) for m in data.team] for _, o, data in creates if data.team
    }
    before: dict[uuid.UUID, tuple[uuid.UUID | None, uuid.UUID | None]] = {}
    for _, o, data, _ in updates:
        before[o.id] = (o.owner_id, o.account_id)
        fields = data.model_dump(
            exclude={"amount", "owner_id", "org_unit_path", "team", "origin", "solution_ids", "external_id"}
        )
        for field, value in fields.items():
            setattr(o, field, value)
        o.solution_ids = list(dict.fromkeys(data.solution_ids))
        o.amount = data.amount.value() if data.amount else None
        if "owner_id" in data.model_fields_set:
            o.owner_id = data.owner_id
        if data.org_unit_path:
            o.org_unit_path = data.org_unit_path
        if "team" in data.model_fields_set:
            team = [(m.employee_id, m.role) for m in data.team]
            if _team_key(team) != _team_key((m.employee_id, m.role) for m in stored_teams[o.id]):
                new_teams[o.id] = team
        # Setting a value equal to the stored one is no change to SQLAlchemy:
        # such a row is neither written (no version bump) nor reported updated.
        if session.is_modified(o) or o.id in new_teams:
            changed.add(o.id)
            if not session.is_modified(o):
                # A new team alone still moves the version (and ETag) its events carry.
                o.updated_at = utcnow()
    await session.flush()
    history = [_history(o.id, None, o.stage, principal, reason="import") for _, o, _ in creates]
    history += [
        _history(o.id, stage, o.stage, principal, reason="import") for _, o, _, stage in updates if o.stage != stage
    ]
    await repository.add_stage_changes(session, history)
    await repository.replace_teams(session, new_teams)
    await apply_outcomes(
        session,
        [o.id for _, o, _ in creates if o.stage in OUTCOMES] + [o.id for _, o, _, _ in updates if o.stage in OUTCOMES],
        sign=1,
    )
    # Every event carries the deal's whole team: read once for the batch.
    teams = await repository.teams(
        session, [o.id for _, o, _ in creates] + [o.id for _, o, _, _ in updates if o.id in changed]
    )
    # One INSERT and one NOTIFY for the whole batch's events, in row order.
    batch_events = []
    for row, o, _ in creates:
        batch_events.append(events.event(o, "created", team=teams[o.id]))
        results.append(row.created(o.id))
    for row, o, _, stage in updates:
        if o.id in changed:
            team = teams[o.id]
            owner, account = before[o.id]
            if o.owner_id != owner:
                batch_events.append(events.event(o, "assigned", team=team, previous_owner_id=owner))
            if o.account_id != account:
                batch_events.append(events.event(o, "updated", team=team, previous_account_id=account))
            if o.id in new_teams:
                batch_events.append(events.event(o, "team_changed", team=team, previous_team=stored_teams[o.id]))
            if o.stage != stage:
                batch_events.append(events.event(o, "stage_changed", team=team, previous_stage=stage))
                if o.stage in OUTCOMES:
                    batch_events.append(events.event(o, o.stage, team=team, previous_stage=stage))
        results.append(row.updated(o.id) if o.id in changed else row.unchanged(o.id))
    await publish_many(session, batch_events)
    return results
