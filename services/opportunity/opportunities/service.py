"""Opportunity use cases. Functions flush; the edge commits."""

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, can_see, organization_of
from sanlun.kernel.baselines import Merge, canonical, sent_fields
from sanlun.kernel.bulk import BulkReport, BulkRow, BulkRowResult, run_bulk_upsert
from sanlun.kernel.clock import session_clock
from sanlun.kernel.db import utcnow
from sanlun.kernel.errors import Conflict, Forbidden, NotFound, Unprocessable
from sanlun.kernel.events import publish_many
from sanlun.kernel.peers import Peers
from sanlun.kernel.references import CODE as UNKNOWN_REFERENCE
from sanlun.kernel.types import MoneyValue
from services.opportunity.db import IMPORT_BASELINES
from services.opportunity.domain import gates
from services.opportunity.domain.stages import (
    CLOSED_STAGES,
    OUTCOME_STAGES,
    Stage,
    is_forward,
    stages_passed,
    transition_problem,
)
from services.opportunity.opportunities import events, references, repository
from services.opportunity.opportunities.models import Opportunity
from services.opportunity.opportunities.references import Refs
from services.opportunity.opportunities.schemas import (
    OpportunityBulkUpsert,
    OpportunityCreate,
    OpportunityFields,
    OpportunityImport,
    OpportunityUpdate,
    StageChangeRequest,
)
from services.opportunity.plans import repository as plan_rows
from services.opportunity.plans import service as plans
from services.opportunity.plans.models import TasPlan
from services.opportunity.policies.service import policy_for
from services.opportunity.recommendations.repository import apply_outcomes

# Roles that may give an opportunity to someone else or leave it unassigned.
PLACING_ROLES = ("manager", "org_admin", "group_admin", "integrator")
# Roles that may force a stage gate or reopen a closed deal.
FORCING_ROLES = ("manager", "org_admin", "group_admin")
# Roles whose bulk upserts record deals as they stand in the system they come
# from (closed ones with their close dates): history, not moves, so no stage
# gate applies. Anyone else's rows pass the gates as a create or a move would.
HISTORY_ROLES = ("org_admin", "group_admin", "integrator")
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


def _team_refs(refs: Refs, team: Any, loc: list[Any], *, known: set[uuid.UUID] = frozenset()) -> None:  # type: ignore[assignment]
    """Team members to check; `known` ones are on the deal already and stay unchecked."""
    for i, member in enumerate(team):
        if member.employee_id not in known:
            refs.employee(member.employee_id, [*loc, "team", i, "employee_id"])


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


def _new(principal: Principal, data: OpportunityFields) -> Opportunity:
    # Omitted owner means "mine"; an explicit null means "unassigned".
    owner_id = data.owner_id if "owner_id" in data.model_fields_set else principal.employee_id
    org_unit_path = data.org_unit_path or principal.org_unit_path
    _check_placement(principal, owner_id=owner_id, org_unit_path=org_unit_path)
    return Opportunity(
        id=uuid.uuid4(),
        **data.model_dump(
            exclude={"amount", "owner_id", "org_unit_path", "team", "origin", "solution_ids", "force", "reason"}
        ),
        solution_ids=list(dict.fromkeys(data.solution_ids)),
        amount=data.amount.value() if data.amount else None,
        owner_id=owner_id,
        org_unit_path=org_unit_path,
        origin_type=data.origin.type if data.origin else None,
        origin_id=data.origin.id if data.origin else None,
    )


async def create(*, session: AsyncSession, principal: Principal, peers: Peers, data: OpportunityCreate) -> Opportunity:
    """A deal created beyond `lead` passes the gates of every stage it skips,
    exactly as a new lead moved there would (`force` and `reason` as for moves)."""
    _check_force(principal, force=data.force, reason=data.reason)
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
    refs = Refs()
    refs.employee(opportunity.owner_id, ["body", "owner_id"])
    refs.account(opportunity.account_id, ["body", "account_id"])
    _team_refs(refs, data.team, ["body"])
    refs.solutions(opportunity.solution_ids, ["body", "solution_ids"], org_unit_path=opportunity.org_unit_path)
    await references.check(session=session, principal=principal, peers=peers, refs=refs)
    unmet = await _unmet_gates(
        session,
        opportunity,
        TasPlan(opportunity_id=opportunity.id, sections={}),
        current=Stage.LEAD,
        target=data.stage,
        closed_on=data.closed_on,
    )
    if unmet and not data.force:
        raise _gate_conflict(data.stage, [], unmet)
    if opportunity.owner_id is not None:
        # Business time: the clock's, like every date the service decides by.
        opportunity.assigned_at = session_clock(session).now()
    session.add(opportunity)
    await session.flush()
    await repository.replace_team(session, opportunity.id, [(m.employee_id, m.role) for m in data.team])
    await repository.add_stage_changes(
        session,
        [
            _history(
                opportunity.id,
                None,
                data.stage.value,
                principal,
                forced=bool(data.force and unmet),
                reason=data.reason,
                unmet=[{"stage": u.stage.value, "requirement": u.requirement} for u in unmet] or None,
            )
        ],
    )
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
    *, session: AsyncSession, principal: Principal, peers: Peers, opportunity: Opportunity, data: OpportunityUpdate
) -> Opportunity:
    changes = data.model_dump(exclude_unset=True, exclude={"amount", "team", "stage"})
    for field in NOT_NULL.intersection(data.model_fields_set):
        if getattr(data, field) is None:
            raise Unprocessable(f"{field} cannot be null.", errors=[{"loc": ["body", field], "msg": "cannot be null"}])
    owner_id = changes.get("owner_id", opportunity.owner_id)
    org_unit_path = changes.get("org_unit_path", opportunity.org_unit_path)
    if owner_id != opportunity.owner_id or org_unit_path != opportunity.org_unit_path:
        _check_placement(principal, owner_id=owner_id, org_unit_path=org_unit_path)
    previous_team = await events.team_of(session, opportunity)
    # Only what the change brings in is checked: records already on the deal stay as they are.
    refs = Refs()
    if owner_id != opportunity.owner_id:
        refs.employee(owner_id, ["body", "owner_id"])
    if "account_id" in changes and changes["account_id"] != opportunity.account_id:
        refs.account(changes["account_id"], ["body", "account_id"])
    if data.team is not None:
        _team_refs(refs, data.team, ["body"], known={m.employee_id for m in previous_team})
    if "solution_ids" in changes:
        changes["solution_ids"] = list(dict.fromkeys(changes["solution_ids"]))
    # Solutions are the deal's organisation's (or the group's): a deal moved to another
    # organisation brings in the solutions it keeps too.
    if "solution_ids" in changes or organization_of(org_unit_path) != organization_of(opportunity.org_unit_path):
        solution_ids = changes.get("solution_ids", opportunity.solution_ids)
        refs.solutions(solution_ids, ["body", "solution_ids"], org_unit_path=org_unit_path)
    await references.check(session=session, principal=principal, peers=peers, refs=refs)
    closed = opportunity.stage in OUTCOMES
    if closed:
        await apply_outcomes(session, [opportunity.id], sign=-1)
    previous_owner, previous_account = opportunity.owner_id, opportunity.account_id
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


def _check_force(principal: Principal, *, force: bool, reason: str | None) -> None:
    if not force:
        return
    if not principal.has(*FORCING_ROLES):
        raise Forbidden(
            "Only a manager may force a stage move.", errors=[{"loc": ["body", "force"], "msg": "managers only"}]
        )
    if not reason:
        raise Unprocessable(
            "Forcing a stage move needs a reason.",
            errors=[{"loc": ["body", "reason"], "msg": "required when forcing"}],
        )


def _passed(current: Stage, target: Stage) -> list[Stage]:
    """The stages whose gates a move (or a create, from `lead`) passes; none for a move back."""
    if is_forward(current, target):
        return stages_passed(current, target)
    return [target] if target in OUTCOME_STAGES else []


async def _unmet_gates(
    session: AsyncSession,
    opportunity: Opportunity,
    plan_row: TasPlan,
    *,
    current: Stage,
    target: Stage,
    closed_on: dt.date | None,
    policies: dict[str, Any] | None = None,
) -> list[gates.Unmet]:
    """The gate requirements a move from `current` to `target` leaves unmet
    (closing facts apart: those are never forced, see `_closing_problems`).
    `policies` caches the policy per org unit over a batch."""
    passed = _passed(current, target)
    if not passed:
        return []
    cache = policies if policies is not None else {}
    if opportunity.org_unit_path not in cache:
        cache[opportunity.org_unit_path] = await policy_for(session, opportunity.org_unit_path)
    policy = cache[opportunity.org_unit_path]
    plan = plans.assess(plan_row, opportunity, policy)
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
    return [u for u in gates.unmet(passed, facts, policy.stage_gates) if u.requirement not in ("closed_on", "amount")]


def _gate_errors(unmet: list[gates.Unmet]) -> list[dict[str, Any]]:
    return [
        {"loc": ["gate", u.stage.value, u.field], "msg": u.message, "requirement": u.requirement, **u.details}
        for u in unmet
    ]


def _gate_conflict(target: Stage, hard: list[dict[str, Any]], unmet: list[gates.Unmet]) -> Conflict:
    errors = hard + _gate_errors(unmet)
    return Conflict(
        f"Moving to {target.value} needs {len(errors)} more thing(s); a manager may force it with a reason.",
        code="stage_gate_unmet",
        errors=errors,
    )


async def change_stage(
    *, session: AsyncSession, principal: Principal, opportunity: Opportunity, request: StageChangeRequest
) -> Opportunity:
    current, target = Stage(opportunity.stage), request.stage
    forcing = request.force
    _check_force(principal, force=forcing, reason=request.reason)
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
        plan_row = await plans.get_or_create(session, opportunity.id)
        unmet = await _unmet_gates(session, opportunity, plan_row, current=current, target=target, closed_on=closed_on)
    if hard or (unmet and not forcing):
        raise _gate_conflict(target, hard, unmet)
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


async def bulk_upsert(
    *, session: AsyncSession, principal: Principal, peers: Peers, request: OpportunityBulkUpsert
) -> BulkReport:
    """Create or update by `external_id` (the kernel's bulk contract): a bad
    row is reported and skipped, the others go through in the same transaction.

    Every record a row names is checked in one go for the whole batch (one
    call per peer, see `references`); a row naming one the caller may not see
    fails with the same error as one naming nothing that exists. Stages: an
    org admin's, a group admin's or an integrator's rows are history (a deal
    recorded won or lost with its close date, as the source system had it) and
    pass no gate; a rep's or a manager's rows pass the gates a create or a
    move to that stage would (no force in bulk: a manager forces one deal at a
    time, with a reason). Nobody's rows reopen a closed deal (or, but for
    history, move it to another outcome) unless the request gives a
    `reopen_reason` and the caller may reopen one (`FORCING_ROLES`).

    With a `source`, the rows are merged with what that source sent last and
    what the deals say now (`sanlun.kernel.baselines`): the merge reads the
    batch's deals and teams once, and the upsert works from that same read."""
    batch = _Batch()
    return await run_bulk_upsert(
        session=session,
        request=request,
        row_model=OpportunityImport,
        upsert=lambda rows: _bulk_upsert(session, principal, peers, rows, batch, request.reopen_reason),
        merge=Merge(
            "opportunities",
            IMPORT_BASELINES,
            stored=lambda keys: _stored_for_merge(session, principal, batch, keys),
            canonical=_sent,
        ),
    )


@dataclass(slots=True)
class _Batch:
    """The stored deals and teams of a batch, once read (by the merge, or by the upsert)."""

    deals: "dict[str, _Deal] | None" = None
    teams: dict[uuid.UUID, list[repository.Member]] | None = None

    async def read(
        self, session: AsyncSession, keys: list[str]
    ) -> "tuple[dict[str, _Deal], dict[uuid.UUID, list[repository.Member]]]":
        if self.deals is None or self.teams is None:
            self.deals = {k: _Deal(*r) for k, r in (await repository.by_external_ids(session, keys)).items()}
            self.teams = await repository.team_pairs(session, [d.id for d in self.deals.values()])
        return self.deals, self.teams


def _sent(data: OpportunityImport) -> dict[str, Any]:
    """A row's fields as sent, in the form the API reads them back (a team in employee order, solutions once)."""
    sent = sent_fields(data)
    if "team" in sent:
        sent["team"] = sorted(sent["team"], key=lambda m: m["employee_id"])
    if "solution_ids" in sent:
        sent["solution_ids"] = list(dict.fromkeys(sent["solution_ids"]))
    return sent


async def _stored_for_merge(
    session: AsyncSession, principal: Principal, batch: _Batch, keys: list[str]
) -> dict[str, dict[str, Any]]:
    """The batch's deals the caller may see, as bulk rows would say them."""
    deals, teams = await batch.read(session, keys)
    return {
        key: canonical(
            {
                "name": d.name,
                "account_id": d.account_id,
                "amount": {"amount": d.amount_value, "currency": d.currency} if d.amount_value is not None else None,
                "expected_close_date": d.expected_close_date,
                "owner_id": d.owner_id,
                "org_unit_path": d.org_unit_path,
                "source": d.source,
                "compelling_event": d.compelling_event,
                "stage": d.stage,
                "win_probability": d.win_probability,
                "industry": d.industry,
                "size_band": d.size_band,
                "solution_ids": d.solution_ids,
                "team": [{"employee_id": m.employee_id, "role": m.role} for m in teams[d.id]],
                "closed_on": d.closed_on,
                "origin": {"type": d.origin_type, "id": d.origin_id} if d.origin_type else None,
            }
        )
        for key, d in deals.items()
        if can_see(principal, owner_id=d.owner_id, org_unit_path=d.org_unit_path)
    }


def _row_refs(
    refs: Refs,
    row: BulkRow[OpportunityImport],
    owner_id: uuid.UUID | None,
    current: Any,
    known_team: set[Any],
    org_unit_path: str,
) -> None:
    """A row's references; on an update, only those it brings in (but every
    solution, in the catalogues of the org unit the row leaves the deal in,
    `org_unit_path`). `owner_id` is the owner the row names (or the caller,
    when it names none)."""
    data, loc = row.data, row.loc()
    owner_id = owner_id if current is None or "owner_id" in data.model_fields_set else current.owner_id
    if current is None or owner_id != current.owner_id:
        refs.employee(owner_id, [*loc, "owner_id"])
    if current is None or data.account_id != current.account_id:
        refs.account(data.account_id, [*loc, "account_id"])
    if current is None or "team" in data.model_fields_set:
        _team_refs(refs, data.team, loc, known=known_team)
    refs.solutions(list(dict.fromkeys(data.solution_ids)), [*loc, "solution_ids"], org_unit_path=org_unit_path)


@dataclass(slots=True)
class _Check:
    """A bulk row that passed its own checks, waiting for the batch's references and gates."""

    row: BulkRow[OpportunityImport]
    id: uuid.UUID  # the stored deal's, or the one a create will get
    owner_id: uuid.UUID | None  # as for a create: the row's, else the caller
    org_unit_path: str  # as for a create: the row's, else the caller's
    current: "_Deal | None"  # the stored deal, None for a create


@dataclass(slots=True)
class _Deal:
    """A deal as a bulk row leaves it: the columns its statement writes, in
    `repository.BULK_COLUMNS` order (so a stored row unpacks into one), and
    what its events say (`events.data`). Equal to the stored deal when the row
    changes nothing."""

    id: uuid.UUID
    external_id: str
    name: str
    account_id: uuid.UUID | None
    amount_value: Decimal | None
    currency: str | None
    expected_close_date: dt.date | None
    owner_id: uuid.UUID | None
    assigned_at: dt.datetime | None
    org_unit_path: str
    source: str | None
    compelling_event: str | None
    stage: str
    win_probability: Decimal | None
    industry: str | None
    size_band: str | None
    solution_ids: list[uuid.UUID]
    closed_on: dt.date | None
    origin_type: str | None
    origin_id: str | None
    updated_at: dt.datetime
    version: int

    @property
    def amount(self) -> MoneyValue | None:
        if self.amount_value is None or self.currency is None:
            return None
        return MoneyValue(self.amount_value, self.currency)

    def values(self) -> tuple[Any, ...]:
        """The `repository.BULK_COLUMNS` of the deal."""
        return (
            self.id,
            self.external_id,
            self.name,
            self.account_id,
            self.amount_value,
            self.currency,
            self.expected_close_date,
            self.owner_id,
            self.assigned_at,
            self.org_unit_path,
            self.source,
            self.compelling_event,
            self.stage,
            self.win_probability,
            self.industry,
            self.size_band,
            self.solution_ids,
            self.closed_on,
            self.origin_type,
            self.origin_id,
            self.updated_at,
            self.version,
        )


def _row_fields(data: OpportunityImport) -> tuple[Any, ...]:
    """What a bulk row sets on a new and a stored deal alike, in `_Deal` order from
    `name` to `closed_on`, with owner, assignment time and org unit left out (an
    update keeps the stored owner, org unit and origin unless the row names them)."""
    amount = data.amount
    return (
        data.name,
        data.account_id,
        amount.amount if amount else None,
        amount.currency if amount else None,
        data.expected_close_date,
        data.source,
        data.compelling_event,
        data.stage.value,
        data.win_probability,
        data.industry,
        data.size_band,
        list(dict.fromkeys(data.solution_ids)),
        data.closed_on,
    )


def _deal(
    id: uuid.UUID,
    external_id: str,
    fields: tuple[Any, ...],
    *,
    owner_id: uuid.UUID | None,
    assigned_at: dt.datetime | None,
    org_unit_path: str,
    origin: tuple[str | None, str | None],
    updated_at: dt.datetime,
    version: int,
) -> _Deal:
    name, account, amount, currency, close, source, event, stage, chance, industry, band, solutions, closed = fields
    return _Deal(
        id,
        external_id,
        name,
        account,
        amount,
        currency,
        close,
        owner_id,
        assigned_at,
        org_unit_path,
        source,
        event,
        stage,
        chance,
        industry,
        band,
        solutions,
        closed,
        *origin,
        updated_at,
        version,
    )


def _reopen_problem(principal: Principal, current: Stage, target: Stage, reopen_reason: str | None) -> str | None:
    """Why a bulk row may not move a closed deal to `target`, or None."""
    if target in CLOSED_STAGES and principal.has(*HISTORY_ROLES):
        return None  # history: the outcome as the source system has it now
    if not reopen_reason:
        return (
            f"The opportunity is closed ({current.value}); a bulk upsert moves it to {target.value} only with "
            "`reopen_reason` (managers and admins)."
        )
    if not principal.has(*FORCING_ROLES):
        return f"The opportunity is closed ({current.value}); only a manager or an admin may reopen it."
    return None


async def _bulk_gate_problems(
    session: AsyncSession, principal: Principal, checks: list[_Check], reopen_reason: str | None
) -> dict[int, list[dict[str, Any]]]:
    """Per row index, what its stage asks that the deal does not have (as errors
    of the row): a move out of a closed stage (whoever asks, see
    `_reopen_problem`), or, for those whose rows are not history, unmet gates."""
    out: dict[int, list[dict[str, Any]]] = {}
    gated = not principal.has(*HISTORY_ROLES)
    moving = []
    for check in checks:
        row, current = check.row, check.current
        stage = Stage(current.stage) if current is not None else Stage.LEAD
        if current is not None and stage in CLOSED_STAGES:
            if stage != row.data.stage:
                problem = _reopen_problem(principal, stage, row.data.stage, reopen_reason)
                if problem:
                    out[row.index] = [{"loc": row.loc("stage"), "msg": problem, "code": "illegal_stage_transition"}]
                elif gated and _passed(stage, row.data.stage):
                    moving.append(check)
        elif gated and _passed(stage, row.data.stage):
            moving.append(check)
    if not moving:
        return out
    stored = await plan_rows.by_opportunity_ids(session, [c.id for c in moving if c.current is not None])
    policies: dict[str, Any] = {}
    for check in moving:
        row, current = check.row, check.current
        # The deal as the row would leave it, with its stored plan (a new deal has none yet).
        facts_of = Opportunity(
            id=check.id,
            org_unit_path=check.org_unit_path if current is None or row.data.org_unit_path else current.org_unit_path,
            stage=row.data.stage.value,
            account_id=row.data.account_id,
            amount=row.data.amount.value() if row.data.amount else None,
            expected_close_date=row.data.expected_close_date,
            compelling_event=row.data.compelling_event,
            solution_ids=list(row.data.solution_ids),
        )
        plan_row = stored.get(check.id) or TasPlan(opportunity_id=check.id, sections={})
        unmet = await _unmet_gates(
            session,
            facts_of,
            plan_row,
            current=Stage(current.stage) if current is not None else Stage.LEAD,
            target=row.data.stage,
            closed_on=row.data.closed_on,
            policies=policies,
        )
        if unmet:
            out[row.index] = [
                {"loc": row.loc("stage"), "msg": f"{u.stage.value}: {u.message}", "code": "stage_gate_unmet"}
                for u in unmet
            ]
    return out


async def _bulk_checks(
    session: AsyncSession,
    principal: Principal,
    peers: Peers,
    rows: list[BulkRow[OpportunityImport]],
    stored: dict[str, "_Deal"],
    stored_teams: dict[uuid.UUID, list[repository.Member]],
    reopen_reason: str | None,
) -> tuple[list[_Check], dict[int, list[dict[str, Any]]]]:
    """Every row's own checks, then one check of every record the batch names
    (one call per peer), then the gates: the rows to write and the problems of the others."""
    problems_of: dict[int, list[dict[str, Any]]] = {}
    checks: list[_Check] = []
    refs = Refs()
    for row in rows:
        data, loc = row.data, row.loc()
        problems = _closing_problems(data.stage, closed_on=data.closed_on, has_amount=data.amount is not None, loc=loc)
        current = stored.get(row.external_id)
        if current is not None and not can_see(
            principal, owner_id=current.owner_id, org_unit_path=current.org_unit_path
        ):
            problems.append({"loc": [*loc, "external_id"], "msg": "already used by an opportunity you cannot see"})
        # Placed as a create would be (omitted owner: the caller; explicit null: unassigned).
        owner_id = data.owner_id if "owner_id" in data.model_fields_set else principal.employee_id
        org_unit_path = data.org_unit_path or principal.org_unit_path
        try:
            _check_placement(principal, owner_id=owner_id, org_unit_path=org_unit_path)
        except Forbidden as exc:
            problems += [{**e, "loc": [*loc, *e["loc"][1:]]} for e in exc.errors or []]
        if problems:
            problems_of[row.index] = problems
            continue
        known = {m.employee_id for m in stored_teams[current.id]} if current is not None else set()
        # The org unit the row leaves the deal in: an update keeps the stored one unless the row names one.
        deal_unit = data.org_unit_path or (current.org_unit_path if current is not None else org_unit_path)
        _row_refs(refs, row, owner_id, current, known, deal_unit)
        deal_id = current.id if current is not None else uuid.uuid4()
        checks.append(_Check(row, deal_id, owner_id, org_unit_path, current))
    for ref in await references.unseen(session=session, principal=principal, peers=peers, refs=refs):
        problems_of.setdefault(int(ref.loc[2]), []).append({**ref.error(), "code": UNKNOWN_REFERENCE})
    ok = [c for c in checks if c.row.index not in problems_of]
    for index, errors in (await _bulk_gate_problems(session, principal, ok, reopen_reason)).items():
        problems_of.setdefault(index, []).extend(errors)
    return [c for c in checks if c.row.index not in problems_of], problems_of


def _move_note(before: str, after: str, principal: Principal, reopen_reason: str | None) -> dict[str, Any]:
    """How the history tells a bulk row's stage move: an import, or a closed deal reopened with its reason."""
    if Stage(before) in CLOSED_STAGES and _reopen_problem(principal, Stage(before), Stage(after), None):
        return {"reason": reopen_reason, "forced": True}
    return {"reason": "import"}


async def _bulk_upsert(
    session: AsyncSession,
    principal: Principal,
    peers: Peers,
    rows: list[BulkRow[OpportunityImport]],
    batch: _Batch,
    reopen_reason: str | None,
) -> list[BulkRowResult]:
    """Set-based: one read of the stored deals and one of their teams, one
    INSERT for the new deals and one UPDATE (at the versions read) for the
    changed ones, one statement each for the stage history, the teams and the
    outbox. A row that changes nothing is not written and has no event."""
    stored, stored_teams = await batch.read(session, [r.external_id for r in rows])
    checks, problems_of = await _bulk_checks(session, principal, peers, rows, stored, stored_teams, reopen_reason)
    results: list[BulkRowResult] = [
        row.result("failed", errors=problems_of[row.index]) for row in rows if row.index in problems_of
    ]
    now = session_clock(session).now()  # business time: when a deal changed hands
    creates: list[tuple[BulkRow[OpportunityImport], _Deal]] = []
    updates: list[tuple[BulkRow[OpportunityImport], _Deal, _Deal]] = []  # (row, stored, after)
    new_teams: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = {}
    for check in checks:
        row, data = check.row, check.row.data
        fields = _row_fields(data)
        if check.current is None:
            deal = _deal(
                check.id,
                row.external_id,
                fields,
                owner_id=check.owner_id,
                assigned_at=now if check.owner_id is not None else None,
                org_unit_path=check.org_unit_path,
                origin=(data.origin.type, data.origin.id) if data.origin else (None, None),
                updated_at=utcnow(),
                version=1,
            )
            creates.append((row, deal))
            if data.team:
                new_teams[deal.id] = [(m.employee_id, m.role) for m in data.team]
            continue
        before = check.current
        owner_id, assigned_at = before.owner_id, before.assigned_at
        if "owner_id" in data.model_fields_set and data.owner_id != owner_id:
            owner_id, assigned_at = data.owner_id, now if data.owner_id is not None else None
        after = _deal(
            before.id,
            before.external_id,
            fields,
            owner_id=owner_id,
            assigned_at=assigned_at,
            org_unit_path=data.org_unit_path or before.org_unit_path,
            origin=(before.origin_type, before.origin_id),
            updated_at=before.updated_at,
            version=before.version,
        )
        if "team" in data.model_fields_set:
            team = [(m.employee_id, m.role) for m in data.team]
            if _team_key(team) != _team_key(stored_teams[before.id]):
                new_teams[before.id] = team
        if after == before and before.id not in new_teams:
            # Nothing to write: the record keeps its version (and ETag), and says nothing.
            results.append(row.unchanged(before.id))
            continue
        # A new team alone still moves the version (and ETag) its events carry.
        after.updated_at = utcnow()
        updates.append((row, before, after))

    await apply_outcomes(session, [b.id for _, b, _ in updates if b.stage in OUTCOMES], sign=-1)
    await repository.insert_many(session, [d.values() for _, d in creates])
    await repository.update_many(session, [a.values() for _, _, a in updates])
    for _, _, a in updates:
        a.version += 1
    history = [_history(d.id, None, d.stage, principal, reason="import") for _, d in creates]
    history += [
        _history(a.id, b.stage, a.stage, principal, **_move_note(b.stage, a.stage, principal, reopen_reason))
        for _, b, a in updates
        if a.stage != b.stage
    ]
    await repository.add_stage_changes(session, history)
    await repository.replace_teams(session, new_teams)
    await apply_outcomes(
        session,
        [d.id for _, d in creates if d.stage in OUTCOMES] + [a.id for _, _, a in updates if a.stage in OUTCOMES],
        sign=1,
    )
    # Every event carries the deal's whole team, as the batch leaves it; one INSERT
    # and one NOTIFY for the whole batch's events, in row order.
    batch_events = []
    for row, d in creates:
        team = [repository.Member(*m) for m in new_teams.get(d.id, [])]
        batch_events.append(events.event(d, "created", team=team))
        results.append(row.created(d.id))
    for row, b, a in updates:
        previous_team = stored_teams[a.id]
        team = [repository.Member(*m) for m in new_teams[a.id]] if a.id in new_teams else previous_team
        if a.owner_id != b.owner_id:
            batch_events.append(events.event(a, "assigned", team=team, previous_owner_id=b.owner_id))
        if a.account_id != b.account_id:
            batch_events.append(events.event(a, "updated", team=team, previous_account_id=b.account_id))
        if a.id in new_teams:
            batch_events.append(events.event(a, "team_changed", team=team, previous_team=previous_team))
        if a.stage != b.stage:
            batch_events.append(events.event(a, "stage_changed", team=team, previous_stage=b.stage))
            if a.stage in OUTCOMES:
                batch_events.append(events.event(a, a.stage, team=team, previous_stage=b.stage))
        results.append(row.updated(a.id))
    await publish_many(session, batch_events)
    return results
