"""A fake of the employee lifecycle service, as the key account service asks it about employees.

`directory` holds the employees the lifecycle service knows (each in an org
unit) and answers `POST /api/v1/employees/stages:batch-get` with the caller's
token, applying the visibility rule of docs/architecture.md to that token as
the real service does (an employee is "owned" by themself): the ids it does
not show, unknown or hidden, come back in `not_found`.

Every key account client `service_client` makes here is served by the test's
`directory` at the URL that app has for the lifecycle service (unless the test
names that URL itself): no port is opened, and the other peers stay at their
closed ports. For the tests about something else than references, every id
not added exists and everyone may see it (`open_world`, on by default); the
reference tests turn it off. `directory.failing` makes the service answer 503.
`tests/services/key_account/test_references.py` also runs the real lifecycle
service in-process to pin down what it answers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import httpx
import jwt
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sanlun.kernel.auth import Principal, can_see
from sanlun.kernel.clock import Clock
from tests.conftest import ClientFactory
from tests.support import TEST_SECRET

UNIT = "/group/east/team-1"


@dataclass
class Directory:
    employees: dict[uuid.UUID, str] = field(default_factory=dict)  # id -> org unit
    calls: list[tuple[str, str, int]] = field(default_factory=list)  # (method, path, ids asked)
    failing: bool = False
    open_world: bool = True

    def employee(self, unit: str = UNIT) -> str:
        employee_id = uuid.uuid4()
        self.employees[employee_id] = unit
        return str(employee_id)

    @staticmethod
    def _principal(request: Request) -> Principal:
        token = request.headers["authorization"].removeprefix("Bearer ")
        claims = jwt.decode(token, TEST_SECRET, algorithms=["HS256"])
        return Principal(claims["sub"], claims["org_unit_path"], frozenset(claims["roles"]))

    def _sees(self, principal: Principal, employee_id: uuid.UUID) -> bool:
        if employee_id not in self.employees:
            return self.open_world
        return can_see(principal, owner_id=employee_id, org_unit_path=self.employees[employee_id])

    async def _stages(self, request: Request) -> JSONResponse:
        ids = [uuid.UUID(i) for i in (await request.json())["employee_ids"]]
        self.calls.append((request.method, request.url.path, len(ids)))
        if self.failing:
            return JSONResponse({"title": "down"}, status_code=503)
        principal = self._principal(request)
        shown = [i for i in ids if self._sees(principal, i)]
        items = [
            {"employee_id": str(i), "stage": None, "stage_since": None, "capacity": 0, "open_load": 0, "needs": []}
            for i in shown
        ]
        return JSONResponse({"items": items, "not_found": [str(i) for i in ids if i not in shown]})

    async def _account(self, request: Request) -> JSONResponse:
        # For opportunity clients only (they ask the key account service about the deal's account).
        self.calls.append((request.method, request.url.path, 0))
        if not self.open_world:
            return JSONResponse({"title": "Not Found", "status": 404}, status_code=404)
        return JSONResponse({"id": request.path_params["account_id"]})

    async def _accounts(self, request: Request) -> JSONResponse:
        # The batch read of the same (open-world) accounts.
        ids = list(dict.fromkeys((await request.json())["account_ids"]))
        self.calls.append((request.method, request.url.path, len(ids)))
        if not self.open_world:
            return JSONResponse({"items": [], "not_found": ids})
        return JSONResponse({"items": [{"id": i} for i in ids], "not_found": []})

    async def _other(self, request: Request) -> JSONResponse:
        self.calls.append((request.method, request.url.path, 0))
        return JSONResponse({"title": "not served by the test directory"}, status_code=503)

    @property
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/v1/employees/stages:batch-get", self._stages, methods=["POST"]),
                Route("/api/v1/accounts:batch-get", self._accounts, methods=["POST"]),
                Route("/api/v1/accounts/{account_id}", self._account, methods=["GET"]),
                Route("/api/v1/accounts/{account_id}/contacts/{contact_id}", self._account, methods=["GET"]),
                Route("/{path:path}", self._other, methods=["GET", "POST"]),
            ]
        )


async def serve_lifecycle(
    client: httpx.AsyncClient, app: object, services: tuple[str, ...] = ("employee_lifecycle",)
) -> httpx.AsyncClient:
    """Answer the calls `client`'s app makes to `services` (the employee lifecycle service) with the ASGI `app`."""
    served = client._transport.app  # type: ignore[attr-defined]
    transport = httpx.ASGITransport(app=app)
    mounts = {served.state.settings.service_url(s): transport for s in services}
    old = served.state.http
    served.state.http = httpx.AsyncClient(mounts=mounts)
    await old.aclose()
    return client


@pytest.fixture
def directory() -> Directory:
    return Directory()


@pytest.fixture
async def service_client(service_client: ClientFactory, directory: Directory) -> ClientFactory:
    """The harness's `service_client`, with key account clients served by `directory` (and the
    opportunity clients some tests make, whose references it answers in its open world)."""

    async def make(name: str, clock: Clock | None = None, **overrides: object) -> httpx.AsyncClient:
        peers = {"key_account": ("employee_lifecycle",), "opportunity": ("employee_lifecycle", "key_account")}
        served = tuple(s for s in peers.get(name, ()) if f"{s}_url" not in overrides)
        overrides = {**overrides, **{f"{s}_url": f"http://{s.replace('_', '-')}.directory.test" for s in served}}
        client = await service_client(name, clock, **overrides)
        if served:
            await serve_lifecycle(client, directory.app, served)
        return client

    return make
