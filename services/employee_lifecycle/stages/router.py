import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status

from sanlun.kernel.auth import CurrentPrincipal, require_roles
from sanlun.kernel.clock import Clock, ClockDep, check_as_of, request_clock
from sanlun.kernel.db import DbSession
from sanlun.kernel.errors import Conflict, Forbidden, NotFound, Unauthorized, Unprocessable, problem_responses
from sanlun.kernel.pagination import Page, Pagination, paginate
from sanlun.kernel.reads import json_response
from sanlun.kernel.routing import TransactionalRoute
from services.employee_lifecycle.domain.lifecycle import DEFAULT_CONFIRM_AFTER_DAYS, StageState
from services.employee_lifecycle.domain.policy import DEFAULT_HYSTERESIS
from services.employee_lifecycle.employees import repository as employees_repository
from services.employee_lifecycle.stages import reads, repository, service
from services.employee_lifecycle.stages.models import StageHistory
from services.employee_lifecycle.stages.schemas import (
    BatchGet,
    BatchGetResult,
    EvaluateMany,
    EvaluateManyResult,
    EvaluateOne,
    EvaluationRead,
    HistoryKind,
    HistoryRead,
    OverrideRead,
    OverrideWrite,
    PendingRead,
    ProvisionalRead,
    StageRead,
)

router = APIRouter(
    prefix="/api/v1/employees",
    tags=["stages"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized),
)

EmployeeId = Annotated[uuid.UUID, Path(description="The employee's id.")]


def pending_read(state: StageState, *, hysteresis: int, confirm_after_days: int) -> PendingRead | None:
    if state.candidate is None or state.candidate_since is None:
        return None
    last = state.last_counted_on or state.candidate_since
    return PendingRead(
        stage=state.candidate,
        since=state.candidate_since,
        days_held=(last - state.candidate_since).days,
        days_counted=state.candidate_days,
        days_required=hysteresis,
        confirm_after_days=confirm_after_days,
        confirm_on=state.candidate_since + dt.timedelta(days=confirm_after_days),
    )


def provisional_read(state: StageState, reasons: Any) -> ProvisionalRead | None:
    if state.provisional is None or state.provisional_since is None:
        return None
    return ProvisionalRead(stage=state.provisional, since=state.provisional_since, reasons=reasons)


def evaluation_read(outcome: service.Outcome) -> EvaluationRead:
    explanation = outcome.explanation()
    state = outcome.state
    pending = provisional = None
    if state is not None:
        pending = pending_read(
            state, hysteresis=outcome.policy.hysteresis, confirm_after_days=outcome.policy.confirm_after_days
        )
        provisional = provisional_read(state, explanation["reasons"])
    return EvaluationRead(
        employee_id=outcome.employee_id,
        as_of=outcome.as_of,
        recorded=outcome.recorded,
        scheduled=outcome.scheduled,
        stage=outcome.stage,
        stage_since=outcome.since,
        computed_stage=outcome.evaluation.stage,
        changed=outcome.change is not None,
        provisional=provisional,
        pending=pending,
        policy=explanation["policy"],
        rules=explanation["rules"],
        signals=explanation["signals"],
        needs=outcome.needs,
        reasons=explanation["reasons"],
        gap=explanation["gap"],
    )


def stage_read(row: Any, clock: Clock) -> StageRead:
    now = clock.now()
    state = service.state_from_row(row)
    stage, since = state.effective(now)
    override = None
    if state.override_active(now):
        override = OverrideRead(
            stage=row.override_stage,
            reason=row.override_reason or "",
            expires_at=row.override_expires_at,
            by=row.override_by or "",
        )
    explanation = row.explanation or {}
    pending = pending_read(
        state,
        hysteresis=int(explanation.get("hysteresis") or DEFAULT_HYSTERESIS),
        confirm_after_days=int(explanation.get("confirm_after_days", DEFAULT_CONFIRM_AFTER_DAYS)),
    )
    return StageRead(
        employee_id=row.employee_id,
        stage=stage,
        stage_since=since,
        evaluated_stage=row.stage,
        evaluated_since=row.stage_since,
        provisional=provisional_read(state, explanation.get("reasons")),
        pending=pending,
        override=override,
        needs=list(row.needs),
        policy_version=row.policy_version,
        last_as_of=row.last_as_of,
        evaluated_at=row.evaluated_at,
        last_evaluation=row.explanation,
    )


def history_read(row: Any) -> HistoryRead:
    fields = ("id", "stage", "previous_stage", "since", "reason", "kind", "as_of", "policy_version", "detail")
    data = {f: getattr(row, f) for f in (*fields, "recorded_at")}
    return HistoryRead.model_validate({**data, "reasons": (row.detail or {}).get("reasons")})


@router.post(
    "/stages:batch-get",
    summary="Stage, capacity and open load of many employees in one call",
    response_model=BatchGetResult,
)
async def batch_get_stages(data: BatchGet, request: Request, principal: CurrentPrincipal) -> Response:
    """For assignment and the support desk. Filtered by your visibility: ids you
    may not see, or that do not exist, come back in `not_found`. No ranking."""
    # The clock by a call, not `ClockDep`: FastAPI runs that sync dependency in a worker thread.
    now = request_clock(request).now()
    async with request.app.state.db.read() as conn:
        items, missing = await reads.snapshots(conn, principal, data.employee_ids, now)
    return json_response({"items": items, "not_found": missing})


@router.post(
    "/stages:evaluate",
    summary="Evaluate a list of employees or a whole org unit",
    response_model=EvaluateManyResult,
    responses=problem_responses(Forbidden, Unprocessable),
)
async def evaluate_stages(data: EvaluateMany, session: DbSession, principal: CurrentPrincipal) -> EvaluateManyResult:
    """Recorded evaluations refresh each person's explanation and provisional stage; they confirm a
    change only for someone never evaluated before. Confirmation is the scheduled round's
    (`POST /ops/stages/round`)."""
    check_as_of(data.as_of, "as_of", loc="body")
    if (data.employee_ids is None) == (data.org_unit is None):
        raise Unprocessable(
            "Give either employee_ids or org_unit.",
            errors=[{"loc": ["body", "employee_ids"], "msg": "give either employee_ids or org_unit"}],
        )
    outcomes, missing = await service.evaluate_many(
        session=session,
        principal=principal,
        employee_ids=data.employee_ids,
        org_unit=data.org_unit,
        as_of=data.as_of,
        record=data.record,
    )
    items = [evaluation_read(o) for o in outcomes] if data.employee_ids is not None else []
    return EvaluateManyResult(
        evaluated=len(outcomes),
        changed=sum(o.change is not None for o in outcomes),
        provisional=sum(o.step is not None and o.step.provisional is not None for o in outcomes),
        not_found=missing,
        items=items,
    )


@router.post(
    "/stages:lift-expired-overrides",
    summary="Lift overrides whose expiry has passed (also runs on the schedule)",
    response_model=dict[str, int],
    responses=problem_responses(Forbidden),
)
async def lift_expired_overrides(session: DbSession, principal: CurrentPrincipal) -> dict[str, int]:
    require_roles(principal, "org_admin", "group_admin", "ops")
    return {"lifted": await service.lift_expired_overrides(session=session)}


@router.get(
    "/{employee_id}/stage",
    summary="The employee's stage, its reasons and the gap to the next",
    response_model=StageRead,
    responses=problem_responses(NotFound),
)
async def get_stage(employee_id: EmployeeId, request: Request, principal: CurrentPrincipal) -> Response:
    """Everyone can read their own stage; managers their subtree. Shows the confirmed stage, the
    provisional one of the latest evaluation and the candidate holding for its dwell."""
    now = request_clock(request).now()  # not `ClockDep`, as above
    async with request.app.state.db.read() as conn:
        answer = await reads.stage_of(conn, principal, employee_id, now)
    return json_response(answer)


@router.post(
    "/{employee_id}/stage:evaluate",
    summary="Evaluate one employee (stored, or a preview for any as_of)",
    response_model=EvaluationRead,
    responses=problem_responses(NotFound, Forbidden, Unprocessable),
)
async def evaluate_stage(
    employee_id: EmployeeId, data: EvaluateOne, session: DbSession, principal: CurrentPrincipal
) -> EvaluationRead:
    """A recorded evaluation refreshes the explanation and the provisional stage; it sets the stage
    only on a first evaluation. Changes are confirmed by the scheduled round alone."""
    check_as_of(data.as_of, "as_of", loc="body")
    outcome = await service.evaluate_one(
        session=session, principal=principal, employee_id=employee_id, as_of=data.as_of, record=data.record
    )
    return evaluation_read(outcome)


@router.put(
    "/{employee_id}/stage/override",
    summary="Override the stage with a reason and an expiry (managers, admins)",
    response_model=StageRead,
    responses=problem_responses(NotFound, Forbidden, Conflict, Unprocessable),
)
async def override_stage(
    employee_id: EmployeeId, data: OverrideWrite, session: DbSession, principal: CurrentPrincipal, clock: ClockDep
) -> StageRead:
    row = await service.set_override(
        session=session,
        principal=principal,
        employee_id=employee_id,
        stage=data.stage,
        reason=data.reason,
        expires_at=data.expires_at,
    )
    return stage_read(row, clock)


@router.delete(
    "/{employee_id}/stage/override",
    summary="Remove an override",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(NotFound, Forbidden, Conflict),
)
async def remove_stage_override(employee_id: EmployeeId, session: DbSession, principal: CurrentPrincipal) -> Response:
    await service.remove_override(session=session, principal=principal, employee_id=employee_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{employee_id}/stage/history",
    summary="Every change of the employee's stage, confirmed and provisional, newest first",
    response_model=Page[HistoryRead],
    responses=problem_responses(NotFound),
)
async def list_stage_history(
    employee_id: EmployeeId,
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    page: Pagination,
    kind: Annotated[list[HistoryKind] | None, Query(description="Only these kinds (repeat the parameter).")] = None,
) -> Page[HistoryRead]:
    if await employees_repository.get_visible(session, principal, employee_id) is None:
        raise NotFound(f"Employee {employee_id} was not found.")
    rows, next_cursor = await paginate(
        session,
        request,
        repository.history_statement(employee_id, kind),
        order_by=(StageHistory.id,),
        params=page,
        descending=True,
    )
    return Page[HistoryRead](items=[history_read(r) for r in rows], next_cursor=next_cursor)
