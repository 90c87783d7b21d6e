"""`GET /api/v1/me/workspace`: the third wheel made visible.

The stage comes first (it decides the sections); then every section's calls
run concurrently, each with its own timeout and its service's breaker, so a
section whose service is down comes back `unavailable` while the rest arrive.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request

from gateway.workspace import sections as s
from gateway.workspace.schemas import Workspace
from gateway.workspace.upstream import NotFoundUpstream, ServiceCalls, Unavailable
from sanlun.kernel.auth import CurrentPrincipal, Principal
from sanlun.kernel.db import utcnow
from sanlun.kernel.errors import Forbidden, Unauthorized, problem_responses

router = APIRouter(prefix="/api/v1/me", tags=["workspace"], responses=problem_responses(Unauthorized))

Section = dict[str, Any]
Builder = Callable[["Context"], Awaitable[dict[str, Section]]]


class Context:
    def __init__(self, calls: ServiceCalls, principal: Principal, employee_id: str, items: int, due_days: int):
        self.calls = calls
        self.principal = principal
        self.me = employee_id
        self.items = items
        self.due_days = due_days
        self.today = dt.date.today()


@router.get(
    "/workspace",
    summary="Your workspace: your stage, its reasons and gap, and the help for that stage",
    response_model=Workspace,
    response_model_exclude_none=True,
    responses=problem_responses(Forbidden),
)
async def get_workspace(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """Sections come from the services concurrently, with the caller's token
    (so their visibility applies). A section whose service is down, slow or
    cut off by its circuit breaker is `{"status": "unavailable", "service": ...}`;
    the others still arrive."""
    if principal.employee_id is None:
        raise Forbidden("The workspace belongs to an employee; an API key's service principal has none.")
    app = request.app
    settings = app.state.settings
    calls = ServiceCalls(app.state.proxy.session, settings, app.state.breakers, _authorization(request))
    ctx = Context(calls, principal, str(principal.employee_id), settings.workspace_items, settings.workspace_due_days)
    try:
        stage = s.stage_view(await calls.get("employee_lifecycle", f"/api/v1/employees/{ctx.me}/stage"))
    except NotFoundUpstream:
        stage = s.stage_view(None)
    except Unavailable as exc:
        stage = {"status": "unavailable", "service": exc.service, "reason": exc.reason, "stage": None}
    used = s.stage_used(stage)
    built = await BUILDERS[used](ctx)
    return {
        "employee_id": principal.employee_id, "generated_at": utcnow(), "stage": stage, "stage_used": used,
        "sections": {name: built[name] for name in s.SECTIONS[used]},
    }


def _authorization(request: Request) -> str:
    caller = request.scope.get("state", {}).get("caller")
    if caller is not None and caller.downstream_authorization is not None:
        return caller.downstream_authorization.decode("latin-1")
    return request.headers.get("authorization", "")


def ok(service: str, items: list[Any], **extra: Any) -> Section:
    return {"status": "ok", "service": service, "items": items, **extra}


def unavailable(exc: Unavailable) -> Section:
    return {"status": "unavailable", "service": exc.service, "reason": exc.reason, "items": []}


async def _page(ctx: Context, service: str, path: str, **params: Any) -> list[dict[str, Any]]:
    try:
        body = await ctx.calls.get(service, path, params)
    except NotFoundUpstream:
        return []
    return list(body.get("items", [])) if isinstance(body, dict) else list(body)


# --- L1: survive ----------------------------------------------------------------


async def l1_sections(ctx: Context) -> dict[str, Section]:
    async def opportunities_and_resources() -> tuple[Section, Section]:
        try:
            opportunities = await _page(
                ctx, "opportunity", "/api/v1/opportunities", owner_id=ctx.me,
                stage=list(s.NEW_OPPORTUNITY_STAGES), sort="-updated_at", limit=ctx.items,
            )
        except Unavailable as exc:
            # Without them, the suggestions fall back to the whole group's resources.
            return unavailable(exc), await suggested_resources([])
        recommended, resources = await asyncio.gather(
            asyncio.gather(*(recommendations(o) for o in opportunities)), suggested_resources(s.industries(opportunities))
        )
        items = [{"opportunity": s.opportunity_summary(o), "recommended_solutions": r} for o, r in zip(opportunities, recommended, strict=True)]
        return ok("opportunity", items), resources

    async def recommendations(o: dict[str, Any]) -> Section:
        try:
            # The workspace fetches suggested resources once itself; asking each
            # recommendation for them too cost two more calls per opportunity.
            body = await ctx.calls.get(
                "opportunity", f"/api/v1/opportunities/{o['id']}/recommended-solutions",
                {"k": 3, "include_resources": "false"},
            )
        except Unavailable as exc:
            return unavailable(exc)
        except NotFoundUpstream:
            return ok("opportunity", [])
        return ok("opportunity", body.get("items", []))

    async def suggested_resources(industries: list[str]) -> Section:
        industry = {"industry": industries[0]} if industries else {}
        try:
            cases, experts = await asyncio.gather(
                _page(ctx, "resource_share", "/api/v1/resources", type="reference_case", limit=ctx.items, **industry),
                _page(ctx, "resource_share", "/api/v1/resources", type="expert", limit=ctx.items, **industry),
            )
        except Unavailable as exc:
            return unavailable(exc)
        return ok("resource_share", cases + experts, summary={"industry": industries[0] if industries else None})

    async def support_requests() -> Section:
        try:
            items = await _page(ctx, "resource_share", "/api/v1/support-requests", mine="true", limit=ctx.items * 2)
        except Unavailable as exc:
            return unavailable(exc)
        return ok("resource_share", items, summary={"by_status": s.support_summary(items)})

    (opportunities, resources), support = await asyncio.gather(opportunities_and_resources(), support_requests())
    return {"new_opportunities": opportunities, "support_requests": support, "suggested_resources": resources}


# --- L2: hold and grow key accounts -----------------------------------------------


async def l2_sections(ctx: Context) -> dict[str, Section]:
    names = s.SECTIONS[s.L2]
    try:
        plans = s.current_plans(await _page(ctx, "key_account", "/api/v1/account-plans", limit=200), ctx.today, ctx.items)
    except Unavailable as exc:
        return {name: unavailable(exc) for name in names}
    base = "/api/v1/account-plans/{}"

    async def per_plan(plan: dict[str, Any]) -> tuple[Any, Any, Any]:
        path = base.format(plan["id"])
        return await asyncio.gather(
            _page(ctx, "key_account", path + "/actions", limit=200),
            _page(ctx, "key_account", path + "/incubation-items", limit=200),
            _page(ctx, "key_account", path + "/relationship-targets"),
            return_exceptions=True,
        )

    results = await asyncio.gather(*(per_plan(p) for p in plans))
    due, incubation, gaps = [], [], []
    missing: dict[int, list[str]] = {0: [], 1: [], 2: []}
    failure: dict[int, Unavailable] = {}
    for plan, parts in zip(plans, results, strict=True):
        for i, part in enumerate(parts):
            if isinstance(part, Unavailable):
                missing[i].append(plan["id"])
                failure[i] = part
            elif isinstance(part, BaseException):
                raise part
        actions, items, targets = (p if not isinstance(p, BaseException) else [] for p in parts)
        due.append((plan, s.due_actions(actions, today=ctx.today, horizon_days=ctx.due_days, employee_id=ctx.me)))
        incubation += [{**i, "plan_id": plan["id"]} for i in s.open_incubation(items)]
        gaps += s.relationship_gaps(plan, targets)
    built = (
        ok("key_account", s.accounts_with_due_actions(due), summary={"plans_read": len(plans), "due_days": ctx.due_days}),
        ok("key_account", incubation[: ctx.items * 4], summary={"open": len(incubation)}),
        ok("key_account", s.largest_gaps_first(gaps, ctx.items * 4), summary={"unmet_targets": len(gaps)}),
    )
    out = {}
    for i, (name, section) in enumerate(zip(names, built, strict=True)):
        if missing[i] and len(missing[i]) == len(plans):
            out[name] = unavailable(failure[i])
        elif missing[i]:
            out[name] = {**section, "status": "partial", "missing": missing[i], "reason": failure[i].reason}
        else:
            out[name] = section
    return out


# --- L3: become an influence centre ----------------------------------------------


async def l3_sections(ctx: Context) -> dict[str, Section]:
    async def decisions() -> Section:
        try:
            requests, introductions = await asyncio.gather(
                _page(ctx, "resource_share", "/api/v1/resource-requests", role="owner", status="requested", limit=ctx.items),
                _page(ctx, "resource_share", "/api/v1/introductions", role="connector", status="requested", limit=ctx.items),
            )
        except Unavailable as exc:
            return unavailable(exc)
        items = [{"kind": "resource_request", **r} for r in requests] + [{"kind": "introduction", **i} for i in introductions]
        return ok("resource_share", items, summary={"resource_requests": len(requests), "introductions": len(introductions)})

    async def influence() -> Section:
        try:
            body = await ctx.calls.get("resource_share", f"/api/v1/resources/people/{ctx.me}/influence")
        except Unavailable as exc:
            return unavailable(exc)
        except NotFoundUpstream:
            body = None
        return ok("resource_share", [], summary=body)

    async def demand() -> Section:
        try:
            requests, assigned = await asyncio.gather(
                _page(ctx, "resource_share", "/api/v1/resource-requests", role="owner", limit=200),
                _page(ctx, "resource_share", "/api/v1/support-requests", mine="true", status="assigned", limit=200),
            )
        except Unavailable as exc:
            return unavailable(exc)
        summary = s.expertise_demand(
            requests, own_organization=ctx.principal.organization_path,
            support_assigned=sum(1 for r in assigned if r.get("assignee_id") == ctx.me),
        )
        return ok("resource_share", [], summary=summary)

    d, i, e = await asyncio.gather(decisions(), influence(), demand())
    return {"decisions_waiting": d, "influence": i, "expertise_demand": e}


BUILDERS: dict[str, Builder] = {s.L1: l1_sections, s.L2: l2_sections, s.L3: l3_sections}
