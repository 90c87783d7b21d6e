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
from sanlun.kernel.clock import request_clock
from sanlun.kernel.errors import Forbidden, Unauthorized, problem_responses

router = APIRouter(prefix="/api/v1/me", tags=["workspace"], responses=problem_responses(Unauthorized))

Section = dict[str, Any]
Builder = Callable[["Context"], Awaitable[dict[str, Section]]]


class Context:
    def __init__(
        self, calls: ServiceCalls, principal: Principal, employee_id: str, items: int, due_days: int, today: dt.date
    ):
        self.calls = calls
        self.principal = principal
        self.me = employee_id
        self.items = items
        self.due_days = due_days
        self.today = today


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
    clock = request_clock(request)
    ctx = Context(
        calls,
        principal,
        str(principal.employee_id),
        settings.workspace_items,
        settings.workspace_due_days,
        clock.today(),
    )
    try:
        stage = s.stage_view(await calls.get("employee_lifecycle", f"/api/v1/employees/{ctx.me}/stage"))
    except NotFoundUpstream:
        stage = s.stage_view(None)
    except Unavailable as exc:
        stage = {"status": "unavailable", "service": exc.service, "reason": exc.reason, "stage": None}
    used = s.stage_used(stage)
    built = await BUILDERS[used](ctx)
    return {
        "employee_id": principal.employee_id,
        "generated_at": clock.now(),
        "stage": stage,
        "stage_used": used,
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


async def _body(ctx: Context, service: str, path: str, **params: Any) -> dict[str, Any]:
    """A page from a service (an empty one when it answers 404)."""
    try:
        body = await ctx.calls.get(service, path, params)
    except NotFoundUpstream:
        return {"items": [], "next_cursor": None}
    return body if isinstance(body, dict) else {"items": list(body), "next_cursor": None}


async def _page(ctx: Context, service: str, path: str, **params: Any) -> list[dict[str, Any]]:
    return list((await _body(ctx, service, path, **params)).get("items", []))


# --- L1: survive ----------------------------------------------------------------


async def l1_sections(ctx: Context) -> dict[str, Section]:
    async def opportunities_and_resources() -> tuple[Section, Section]:
        try:
            # Newly assigned first: the deals the rep just got, with what usually wins them.
            opportunities = await _page(
                ctx,
                "opportunity",
                "/api/v1/opportunities",
                owner_id=ctx.me,
                stage=list(s.NEW_OPPORTUNITY_STAGES),
                sort="-assigned_at",
                limit=ctx.items,
            )
        except Unavailable as exc:
            # Without them, the suggestions fall back to the whole group's resources.
            return unavailable(exc), await suggested_resources([])
        recommended, resources = await asyncio.gather(
            recommendations(opportunities), suggested_resources(s.industries(opportunities))
        )
        items = [
            {
                "opportunity": s.opportunity_summary(o),
                "recommended_solutions": recommended.get(o["id"], ok("opportunity", [])),
            }
            for o in opportunities
        ]
        return ok("opportunity", items), resources

    async def recommendations(opportunities: list[dict[str, Any]]) -> dict[str, Section]:
        """One batch call for the whole page (the workspace fetches resources itself)."""
        if not opportunities:
            return {}
        try:
            body = await ctx.calls.post(
                "opportunity",
                "/api/v1/opportunities/recommended-solutions:batch-get",
                {"opportunity_ids": [o["id"] for o in opportunities], "k": 3},
            )
        except Unavailable as exc:
            return {o["id"]: unavailable(exc) for o in opportunities}
        except NotFoundUpstream:
            return {}
        return {r["opportunity_id"]: ok("opportunity", r.get("items", [])) for r in body.get("items", [])}

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
    """Three cross-plan lists of the key account service, read concurrently;
    it filters to the plans the caller may see whose period has not ended."""
    current = {"current_plans_only": "true", "limit": ctx.items * 4}

    async def actions_due() -> Section:
        due_by = ctx.today + dt.timedelta(days=ctx.due_days)
        try:
            body = await _body(
                ctx,
                "key_account",
                "/api/v1/plan-actions",
                status=list(s.OPEN_ACTION),
                due_by=due_by.isoformat(),
                owner_id=ctx.me,
                unowned="true",
                **current,
            )
        except Unavailable as exc:
            return unavailable(exc)
        accounts = s.accounts_with_due_actions(body.get("items", []))
        return ok(
            "key_account",
            accounts,
            summary={
                "due_days": ctx.due_days,
                "actions": len(body.get("items", [])),
                "more": s.more(body),
            },
        )

    async def incubation() -> Section:
        try:
            body = await _body(
                ctx, "key_account", "/api/v1/incubation-items", status=list(s.OPEN_INCUBATION), **current
            )
        except Unavailable as exc:
            return unavailable(exc)
        return ok(
            "key_account", body.get("items", []), summary={"open": len(body.get("items", [])), "more": s.more(body)}
        )

    async def gaps() -> Section:
        try:
            body = await _body(ctx, "key_account", "/api/v1/relationship-gaps", **current)
        except Unavailable as exc:
            return unavailable(exc)
        return ok(
            "key_account",
            body.get("items", []),
            summary={
                "unmet_targets": len(body.get("items", [])),
                "more": s.more(body),
            },
        )

    due, items, unmet = await asyncio.gather(actions_due(), incubation(), gaps())
    return {"accounts_with_actions_due": due, "incubation_items": items, "relationship_gaps": unmet}


# --- L3: become an influence centre ----------------------------------------------


async def l3_sections(ctx: Context) -> dict[str, Section]:
    async def decisions() -> Section:
        try:
            requests, introductions = await asyncio.gather(
                _page(
                    ctx,
                    "resource_share",
                    "/api/v1/resource-requests",
                    role="owner",
                    status="requested",
                    limit=ctx.items,
                ),
                _page(
                    ctx,
                    "resource_share",
                    "/api/v1/introductions",
                    role="connector",
                    status="requested",
                    limit=ctx.items,
                ),
            )
        except Unavailable as exc:
            return unavailable(exc)
        items = [{"kind": "resource_request", **r} for r in requests] + [
            {"kind": "introduction", **i} for i in introductions
        ]
        return ok(
            "resource_share", items, summary={"resource_requests": len(requests), "introductions": len(introductions)}
        )

    async def figures(kind: str) -> Section:
        try:
            body = await ctx.calls.get("resource_share", f"/api/v1/resources/people/{ctx.me}/{kind}")
        except Unavailable as exc:
            return unavailable(exc)
        except NotFoundUpstream:
            body = None
        return ok("resource_share", [], summary=body)

    d, i, e = await asyncio.gather(decisions(), figures("influence"), figures("demand"))
    return {"decisions_waiting": d, "influence": i, "expertise_demand": e}


BUILDERS: dict[str, Builder] = {s.L1: l1_sections, s.L2: l2_sections, s.L3: l3_sections}
