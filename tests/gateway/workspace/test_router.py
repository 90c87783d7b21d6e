"""`GET /api/v1/me/workspace` through a real gateway in front of stand-in services."""

import asyncio
import datetime as dt
import time
import uuid

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.gateway.conftest import closed_url
from tests.support import auth
from tests.support_servers import UvicornThread, free_port

TODAY = dt.date.today()


def days(n: int) -> str:
    return (TODAY + dt.timedelta(days=n)).isoformat()


class FakeServices:
    """Answers the calls the workspace makes, with canned data, and records them."""

    def __init__(self) -> None:
        self.stages: dict[str, str] = {}
        self.calls: list[dict] = []
        self.slow: set[str] = set()  # path prefixes that hang for 5 s
        self.url = ""
        routes = [
            Route("/api/v1/employees/{employee_id}/stage", self.stage),
            Route(
                "/api/v1/opportunities",
                self.page(
                    [
                        {"id": "o1", "name": "Harbour", "stage": "lead", "industry": "retail", "amount": None},
                        {"id": "o2", "name": "Depot", "stage": "qualified", "industry": None, "amount": None},
                    ]
                ),
            ),
            Route("/api/v1/opportunities/recommended-solutions:batch-get", self.recommendations, methods=["POST"]),
            Route(
                "/api/v1/support-requests",
                self.page([{"id": "s1", "status": "open"}, {"id": "s2", "status": "assigned", "assignee_id": "me"}]),
            ),
            Route("/api/v1/resources", self.resources),
            Route(
                "/api/v1/plan-actions",
                self.page(
                    [
                        {"id": "a1", "account_id": "A", "account_name": "Acme", "due_on": days(-1), "overdue": True},
                        {"id": "a2", "account_id": "B", "account_name": "Bolt", "due_on": days(2), "overdue": False},
                        {"id": "a3", "account_id": "A", "account_name": "Acme", "due_on": days(5), "overdue": False},
                    ],
                    next_cursor="more",
                ),
            ),
            Route("/api/v1/incubation-items", self.page([{"id": "i1", "status": "validated"}])),
            Route("/api/v1/relationship-gaps", self.page([{"contact_name": "Li", "account_id": "A", "gap_steps": 2}])),
            Route(
                "/api/v1/resource-requests",
                self.page(
                    [
                        {"id": "r1", "status": "requested", "requester_org_unit_path": "/group/west/t"},
                    ]
                ),
            ),
            Route("/api/v1/introductions", self.page([{"id": "n1", "status": "requested"}])),
            Route("/api/v1/resources/people/{id}/influence", self.influence),
            Route("/api/v1/resources/people/{id}/demand", self.demand),
        ]
        self.app = Starlette(routes=routes)

    async def _record(self, request: Request) -> None:
        self.calls.append(
            {
                "path": request.url.path,
                "query": str(request.query_params),
                "authorization": request.headers.get("authorization"),
                "request_id": request.headers.get("x-request-id"),
            }
        )
        if any(request.url.path.startswith(p) for p in self.slow):
            await asyncio.sleep(5)

    def page(self, items, next_cursor=None):
        async def endpoint(request: Request) -> JSONResponse:
            await self._record(request)
            return JSONResponse({"items": items, "next_cursor": next_cursor})

        return endpoint

    async def stage(self, request: Request) -> JSONResponse:
        await self._record(request)
        stage = self.stages.get(request.path_params["employee_id"])
        if stage is None:
            return JSONResponse({"status": 404}, status_code=404)
        return JSONResponse(
            {
                "stage": stage,
                "stage_since": "2026-01-01",
                "needs": ["lacks_deals"],
                "last_evaluation": {
                    "reasons": {"en": "why", "zh": "为何"},
                    "gap": {"target_stage": "L2_COMFORTABLE", "en": "3 more wins"},
                },
            }
        )

    async def recommendations(self, request: Request) -> JSONResponse:
        await self._record(request)
        asked = (await request.json())["opportunity_ids"]
        return JSONResponse(
            {
                "items": [
                    {"opportunity_id": i, "items": [{"solution_id": "sol", "name": f"for {i}", "score": 0.9}]}
                    for i in asked
                ],
                "not_found": [],
            }
        )

    async def resources(self, request: Request) -> JSONResponse:
        await self._record(request)
        kind = request.query_params["type"]
        return JSONResponse({"items": [{"id": f"{kind}-1", "type": kind}], "next_cursor": None})

    async def influence(self, request: Request) -> JSONResponse:
        await self._record(request)
        return JSONResponse({"employee_id": request.path_params["id"], "score": 12.5})

    async def demand(self, request: Request) -> JSONResponse:
        await self._record(request)
        return JSONResponse({"employee_id": request.path_params["id"], "resource_requests": {"waiting_decision": 1}})


@pytest.fixture(scope="module")
async def fake():
    services = FakeServices()
    server = UvicornThread(services.app, free_port())
    await server.start()
    services.url = server.url
    yield services
    await server.stop()


def employee(fake: FakeServices, stage: str | None) -> tuple[str, dict[str, str]]:
    me = str(uuid.uuid4())
    if stage:
        fake.stages[me] = stage
    return me, auth(employee=me, org_unit="/group/east/team-1", roles=("rep",))


ALL = ("opportunity", "employee_lifecycle", "key_account", "resource_share")


async def test_l1_workspace_with_every_service_up(start_gateway, fake):
    gw = await start_gateway(**dict.fromkeys(ALL, fake.url))
    me, headers = employee(fake, "L1_SUBSISTENCE")
    response = await gw.get("/api/v1/me/workspace", headers={**headers, "X-Request-ID": "ws-1"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["employee_id"] == me and body["stage_used"] == "L1_SUBSISTENCE"
    assert body["stage"]["stage"] == "L1_SUBSISTENCE" and body["stage"]["gap"]["en"] == "3 more wins"
    assert body["stage"]["reasons"]["en"] == "why"
    sections = body["sections"]
    assert list(sections) == ["new_opportunities", "support_requests", "suggested_resources"]
    assert {s["status"] for s in sections.values()} == {"ok"}
    opportunities = sections["new_opportunities"]["items"]
    assert [o["opportunity"]["id"] for o in opportunities] == ["o1", "o2"]
    assert opportunities[1]["recommended_solutions"]["items"][0]["name"] == "for o2"
    assert sections["support_requests"]["summary"] == {"by_status": {"assigned": 1, "open": 1}}
    assert [r["id"] for r in sections["suggested_resources"]["items"]] == ["reference_case-1", "expert-1"]
    calls = [c for c in fake.calls if c["request_id"] == "ws-1"]
    assert {c["authorization"] for c in calls} == {headers["Authorization"]}
    listed = next(c for c in calls if c["path"] == "/api/v1/opportunities")
    assert f"owner_id={me}" in listed["query"] and "stage=lead&stage=qualified" in listed["query"]
    assert "sort=-assigned_at" in listed["query"]
    # One batch call for the page's recommendations, not one per opportunity.
    assert [c["path"] for c in calls].count("/api/v1/opportunities/recommended-solutions:batch-get") == 1
    assert all("industry=retail" in c["query"] for c in calls if c["path"] == "/api/v1/resources")


async def test_a_section_whose_service_is_down_is_marked_and_the_rest_arrive(start_gateway, fake):
    gw = await start_gateway(**{name: fake.url for name in ALL if name != "resource_share"})
    _, headers = employee(fake, "L1_SUBSISTENCE")
    sections = (await gw.get("/api/v1/me/workspace", headers=headers)).json()["sections"]
    assert sections["new_opportunities"]["status"] == "ok"
    for name in ("support_requests", "suggested_resources"):
        assert sections[name] == {
            "status": "unavailable",
            "service": "resource_share",
            "reason": "unreachable",
            "items": [],
        }


async def test_a_slow_service_costs_one_timeout_not_the_sum(start_gateway, fake):
    gw = await start_gateway(**dict.fromkeys(ALL, fake.url), workspace_call_timeout_seconds=0.3)
    _, headers = employee(fake, "L2_COMFORTABLE")
    fake.slow.update({"/api/v1/plan-actions", "/api/v1/incubation-items", "/api/v1/relationship-gaps"})
    try:
        started = time.monotonic()
        body = (await gw.get("/api/v1/me/workspace", headers=headers)).json()
        elapsed = time.monotonic() - started
    finally:
        fake.slow.clear()
    assert body["stage_used"] == "L2_COMFORTABLE"
    assert {name: s["status"] for name, s in body["sections"].items()} == {
        "accounts_with_actions_due": "unavailable",
        "incubation_items": "unavailable",
        "relationship_gaps": "unavailable",
    }
    assert body["sections"]["incubation_items"]["reason"] == "timeout"
    assert 0.3 <= elapsed < 1.2


async def test_l2_workspace_asks_the_cross_plan_lists_once_each(start_gateway, fake):
    gw = await start_gateway(**dict.fromkeys(ALL, fake.url))
    me, headers = employee(fake, "L2_COMFORTABLE")
    response = await gw.get("/api/v1/me/workspace", headers={**headers, "X-Request-ID": "ws-l2"})
    sections = response.json()["sections"]
    due = sections["accounts_with_actions_due"]
    assert [(a["account_id"], a["overdue"], [x["id"] for x in a["actions"]]) for a in due["items"]] == [
        ("A", 1, ["a1", "a3"]),
        ("B", 0, ["a2"]),
    ]
    assert due["summary"] == {"due_days": 14, "actions": 3, "more": True}
    assert [i["id"] for i in sections["incubation_items"]["items"]] == ["i1"]
    assert sections["relationship_gaps"]["items"][0]["contact_name"] == "Li"
    calls = [c for c in fake.calls if c["request_id"] == "ws-l2"]
    assert sorted(c["path"] for c in calls) == sorted(
        [
            f"/api/v1/employees/{me}/stage",
            "/api/v1/plan-actions",
            "/api/v1/incubation-items",
            "/api/v1/relationship-gaps",
        ]
    )
    actions = next(c for c in calls if c["path"] == "/api/v1/plan-actions")["query"]
    assert "status=open&status=in_progress" in actions and f"owner_id={me}" in actions and "unowned=true" in actions
    assert f"due_by={(TODAY + dt.timedelta(days=14)).isoformat()}" in actions and "current_plans_only=true" in actions


async def test_l3_workspace(start_gateway, fake):
    gw = await start_gateway(**dict.fromkeys(ALL, fake.url))
    me, headers = employee(fake, "L3_AFFLUENT")
    sections = (await gw.get("/api/v1/me/workspace", headers=headers)).json()["sections"]
    assert [(i["kind"], i["id"]) for i in sections["decisions_waiting"]["items"]] == [
        ("resource_request", "r1"),
        ("introduction", "n1"),
    ]
    assert sections["influence"]["summary"] == {"employee_id": me, "score": 12.5}
    assert sections["expertise_demand"]["summary"] == {"employee_id": me, "resource_requests": {"waiting_decision": 1}}


async def test_without_a_stage_the_workspace_shows_l1_help(start_gateway, fake):
    gw = await start_gateway(**dict.fromkeys(ALL, fake.url))
    _, headers = employee(fake, None)
    body = (await gw.get("/api/v1/me/workspace", headers=headers)).json()
    assert body["stage"]["status"] == "not_evaluated" and body["stage_used"] == "L1_SUBSISTENCE"
    down = await start_gateway(**{name: fake.url for name in ALL if name != "employee_lifecycle"})
    body = (await down.get("/api/v1/me/workspace", headers=headers)).json()
    assert body["stage"] == {"status": "unavailable", "service": "employee_lifecycle", "reason": "unreachable"}
    assert body["sections"]["new_opportunities"]["status"] == "ok"


async def test_workspace_needs_an_employee(start_gateway, fake):
    gw = await start_gateway(**dict.fromkeys(ALL, fake.url))
    assert (await gw.get("/api/v1/me/workspace")).status_code == 401
    service_like = auth(employee="not-a-uuid", org_unit="/group", roles=("integrator",))
    refused = await gw.get("/api/v1/me/workspace", headers=service_like)
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"


async def test_an_open_breaker_makes_a_section_unavailable_at_once(start_gateway, fake):
    gw = await start_gateway(
        **{name: fake.url for name in ALL if name != "opportunity"},
        opportunity=closed_url(),
        breaker_failure_threshold=1,
        breaker_open_seconds=30,
    )
    _, headers = employee(fake, "L1_SUBSISTENCE")
    first = (await gw.get("/api/v1/me/workspace", headers=headers)).json()["sections"]["new_opportunities"]
    second = (await gw.get("/api/v1/me/workspace", headers=headers)).json()["sections"]["new_opportunities"]
    assert (first["reason"], second["reason"]) == ("unreachable", "circuit_open")


async def test_due_dates_follow_the_gateways_business_clock(start_gateway, fake):
    """A simulated day moves "due within 14 days" too (sanlun.kernel.clock)."""
    gw = await start_gateway(clock_adjustable=True, **dict.fromkeys(ALL, fake.url))
    _, headers = employee(fake, "L2_COMFORTABLE")
    ops = auth(org_unit="/group", roles=("ops",))
    moved = await gw.put("/ops/clock", json={"now": "2030-01-01T08:00:00Z"}, headers=ops)
    assert moved.status_code == 200, moved.text
    response = await gw.get("/api/v1/me/workspace", headers={**headers, "X-Request-ID": "ws-clock"})
    assert response.status_code == 200
    actions = next(c for c in fake.calls if c["request_id"] == "ws-clock" and c["path"] == "/api/v1/plan-actions")
    assert "due_by=2030-01-15" in actions["query"]
    assert response.json()["generated_at"].startswith("2030-01-01")
