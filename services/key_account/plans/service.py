"""Account plan use cases: the plan, objectives and actions, reviews, and the first two core tasks."""

import datetime as dt
import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal
from sanlun.kernel.clock import session_clock
from sanlun.kernel.errors import Conflict, NotFound, Unprocessable
from sanlun.kernel.peers import Peers
from services.key_account.accounts import references
from services.key_account.accounts import service as accounts
from services.key_account.accounts.models import Account
from services.key_account.contacts import repository as contacts
from services.key_account.domain.plans import completeness, relationship_gap
from services.key_account.plans import repository
from services.key_account.plans.models import (
    AccountPlan,
    GuidingSession,
    IncumbentContract,
    PlanAction,
    PlanObjective,
    PlanReview,
)
from services.key_account.plans.schemas import (
    ActionCreate,
    ActionUpdate,
    CellWrite,
    ContractCreate,
    GuidingTeamWrite,
    PlanCreate,
    PlanUpdate,
    ReviewCreate,
    SessionCreate,
    TargetWrite,
)


def _field_error(field: str, msg: str) -> Unprocessable:
    return Unprocessable(msg[0].upper() + msg[1:] + ".", errors=[{"loc": ["body", field], "msg": msg}])


async def get(*, session: AsyncSession, principal: Principal, plan_id: uuid.UUID) -> tuple[AccountPlan, Account]:
    found = await repository.get_visible(session, principal, plan_id)
    if found is None:
        raise NotFound(f"Account plan {plan_id} was not found.")
    return found


async def create(*, session: AsyncSession, principal: Principal, data: PlanCreate) -> AccountPlan:
    try:
        await accounts.get(session=session, principal=principal, account_id=data.account_id)
    except NotFound:
        # Unknown and not yours to see answer alike.
        raise references.problem([references.Ref("account", data.account_id, ("body", "account_id"))]) from None
    if await repository.period_taken(session, data.account_id, data.period):
        raise Conflict(
            f"The account already has a plan for {data.period}.",
            errors=[{"loc": ["body", "period"], "msg": "already planned"}],
        )
    plan = AccountPlan(**data.model_dump(), guiding_team_members=[], guiding_team_initiatives=[])
    session.add(plan)
    await session.flush()
    return plan


async def update(*, session: AsyncSession, plan: AccountPlan, data: PlanUpdate) -> AccountPlan:
    changes = data.model_dump(exclude_unset=True)
    for field in ("starts_on", "ends_on", "critical_success_factors"):
        if field in changes and changes[field] is None:
            raise _field_error(field, "cannot be null")
    if changes.get("ends_on", plan.ends_on) < changes.get("starts_on", plan.starts_on):
        raise _field_error("ends_on", "is before starts_on")
    for field, value in changes.items():
        setattr(plan, field, value)
    await session.flush()
    return plan


async def check_employees(
    *, principal: Principal, peers: Peers, employees: list[tuple[uuid.UUID | None, list[str | int]]]
) -> None:
    """422 `unknown_reference` unless every employee named (id, loc) is one the caller may see: one call."""
    refs = references.Refs()
    for employee_id, loc in employees:
        refs.employee(employee_id, loc)
    await refs.check(principal=principal, peers=peers)


async def set_guiding_team(
    *, session: AsyncSession, principal: Principal, peers: Peers, plan: AccountPlan, data: GuidingTeamWrite
) -> AccountPlan:
    await check_employees(
        principal=principal,
        peers=peers,
        employees=[(m.employee_id, ["body", "members", i, "employee_id"]) for i, m in enumerate(data.members)],
    )
    plan.guiding_team_members = [{"employee_id": str(m.employee_id), "role": m.role} for m in data.members]
    plan.guiding_team_initiatives = list(data.target_initiatives)
    await session.flush()
    return plan


async def add_objective(
    *, session: AsyncSession, plan: AccountPlan, title: str, description: str | None
) -> PlanObjective:
    objective = PlanObjective(plan_id=plan.id, title=title, description=description)
    session.add(objective)
    await session.flush()
    return objective


async def add_action(
    *, session: AsyncSession, principal: Principal, peers: Peers, plan: AccountPlan, data: ActionCreate
) -> PlanAction:
    if data.objective_id and not await repository.belongs(session, PlanObjective, plan.id, data.objective_id):
        raise _field_error("objective_id", "no objective with this id in this plan")
    if data.incumbent_contract_id and not await repository.belongs(
        session, IncumbentContract, plan.id, data.incumbent_contract_id
    ):
        raise _field_error("incumbent_contract_id", "no incumbent contract with this id in this plan")
    await check_employees(principal=principal, peers=peers, employees=[(data.owner_id, ["body", "owner_id"])])
    action = PlanAction(plan_id=plan.id, **data.model_dump())
    session.add(action)
    await session.flush()
    return action


async def update_action(
    *, session: AsyncSession, principal: Principal, peers: Peers, action: PlanAction, data: ActionUpdate
) -> PlanAction:
    changes = data.model_dump(exclude_unset=True)
    for field in ("title", "status"):
        if field in changes and changes[field] is None:
            raise _field_error(field, "cannot be null")
    if changes.get("owner_id") is not None and changes["owner_id"] != action.owner_id:
        await check_employees(principal=principal, peers=peers, employees=[(changes["owner_id"], ["body", "owner_id"])])
    for field, value in changes.items():
        setattr(action, field, value)
    await session.flush()
    return action


async def get_child(*, session: AsyncSession, model: Any, plan: AccountPlan, row_id: uuid.UUID) -> Any:
    row = await repository.belongs(session, model, plan.id, row_id)
    if row is None:
        raise NotFound(f"{model.__name__} {row_id} was not found in this plan.")
    return row


async def plan_completeness(*, session: AsyncSession, plan: AccountPlan) -> dict[str, Any]:
    return completeness(await repository.facts(session, plan))


async def review(*, session: AsyncSession, principal: Principal, plan: AccountPlan, data: ReviewCreate) -> PlanReview:
    """A review records the plan's completeness as it stands on that day."""
    result = await plan_completeness(session=session, plan=plan)
    row = PlanReview(
        plan_id=plan.id,
        reviewed_on=data.reviewed_on or session_clock(session).today(),
        reviewer_id=principal.employee_id,
        notes=data.notes,
        completeness_score=result["score"],
        completeness_status=result["status"],
        missing=result["missing"],
    )
    session.add(row)
    await session.flush()
    return row


async def set_target(
    *, session: AsyncSession, principal: Principal, peers: Peers, plan: AccountPlan, data: TargetWrite
) -> None:
    refs = references.Refs()
    found = bool(await contacts.count_of_account(session, plan.account_id, {data.contact_id}))
    refs.local("contact", data.contact_id, ["body", "contact_id"], seen=found)
    refs.employee(data.owner_id, ["body", "owner_id"])
    await refs.check(principal=principal, peers=peers)
    await repository.upsert_target(session, {"plan_id": plan.id, **data.model_dump()})


async def targets(*, session: AsyncSession, plan: AccountPlan) -> list[dict[str, Any]]:
    out = []
    for target, name, best_rank in await repository.targets_with_levels(session, plan.id):
        current = contacts.level_at(best_rank)
        out.append(
            {
                "id": target.id,
                "contact_id": target.contact_id,
                "contact_name": name,
                "owner_id": target.owner_id,
                **relationship_gap(target.target_level, current),
            }
        )
    return out


async def add_session(*, session: AsyncSession, plan: AccountPlan, data: SessionCreate) -> GuidingSession:
    ids = set(data.attendee_contact_ids)
    if ids and await contacts.count_of_account(session, plan.account_id, ids) != len(ids):
        found = await contacts.of_account(session, plan.account_id, ids)
        raise references.problem(
            references.Ref("contact", c, ("body", "attendee_contact_ids", i))
            for i, c in enumerate(data.attendee_contact_ids)
            if c not in found
        )
    row = GuidingSession(
        plan_id=plan.id,
        held_on=data.held_on,
        topic=data.topic,
        outcome=data.outcome,
        attendee_contact_ids=[str(i) for i in data.attendee_contact_ids],
    )
    session.add(row)
    await session.flush()
    return row


async def set_cell(*, session: AsyncSession, plan: AccountPlan, data: CellWrite) -> uuid.UUID:
    values = data.model_dump(exclude={"potential"})
    values["potential_amount"] = data.potential.amount if data.potential else None
    values["potential_currency"] = data.potential.currency if data.potential else None
    return await repository.upsert_cell(session, {"plan_id": plan.id, **values})


async def add_contract(*, session: AsyncSession, plan: AccountPlan, data: ContractCreate) -> IncumbentContract:
    row = IncumbentContract(
        plan_id=plan.id,
        **data.model_dump(exclude={"value"}),
        value_amount=data.value.amount if data.value else None,
        value_currency=data.value.currency if data.value else None,
    )
    session.add(row)
    await session.flush()
    return row


async def competitor_footprint(*, session: AsyncSession, plan: AccountPlan) -> list[dict[str, Any]]:
    """Per competitor: the whitespace cells they hold, their contracts with expiry, and our counter-actions."""
    cells, contracts, actions = await repository.footprint_rows(session, plan.id)
    by_contract: dict[uuid.UUID, list[PlanAction]] = defaultdict(list)
    for action in actions:
        by_contract[action.incumbent_contract_id].append(action)  # type: ignore[index]
    out: dict[str, dict[str, Any]] = {}

    def entry(name: str) -> dict[str, Any]:
        return out.setdefault(
            name, {"competitor": name, "cells": [], "contracts": [], "next_expiry": None, "counter_actions_open": 0}
        )

    for cell in cells:
        entry(cell.competitor)["cells"].append(
            {
                "id": str(cell.id),
                "business_unit": cell.business_unit,
                "solution": cell.solution,
                "competitor_strength": cell.competitor_strength,
            }
        )
    for contract in contracts:
        e = entry(contract.competitor)
        counter = by_contract.get(contract.id, [])
        e["contracts"].append(
            {
                **{
                    k: getattr(contract, k)
                    for k in (
                        "id",
                        "plan_id",
                        "competitor",
                        "business_unit",
                        "solution",
                        "description",
                        "expires_on",
                        "value",
                    )
                },
                "counter_actions": counter,
            }
        )
        if contract.expires_on and (e["next_expiry"] is None or contract.expires_on < e["next_expiry"]):
            e["next_expiry"] = contract.expires_on
        e["counter_actions_open"] += sum(a.status in ("open", "in_progress") for a in counter)
    return sorted(
        out.values(), key=lambda e: (e["next_expiry"] is None, e["next_expiry"] or dt.date.max, e["competitor"])
    )
