"""A fake of the two services the opportunity service asks about references.

`directory` holds what the employee lifecycle and key account services know
(employees, accounts, contacts, each in an org unit) and answers the calls the
opportunity service makes with the caller's token, applying the visibility rule
of docs/architecture.md to that token, as the real services do:

- `POST /api/v1/employees/stages:batch-get` (an employee is "owned" by themself);
- `POST /api/v1/accounts:batch-get`, `GET /api/v1/accounts/{id}` and
  `GET /api/v1/accounts/{id}/contacts/{id}`.

Every opportunity client `service_client` makes here is served by the test's
`directory` at the URLs that app has for those two services (unless the test
names their URLs itself): no port is opened, and the other peers stay at their
closed ports. The directory knows nothing until a test adds to it; tests about
something else than references say `directory.open_world = True` (every id
exists and everyone may see it). `directory.failing` makes a service answer
503 (the opportunity service then fails with 502, or falls back to its cached
stages where it has them).
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
LIFECYCLE_URL = "http://employee-lifecycle.directory.test"
KEY_ACCOUNT_URL = "http://key-account.directory.test"


@dataclass
class Directory:
    employees: dict[uuid.UUID, str] = field(default_factory=dict)  # id -> org unit
    accounts: dict[uuid.UUID, tuple[uuid.UUID | None, str]] = field(default_factory=dict)  # id -> (owner, unit)
    contacts: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)  # id -> account id
    calls: list[tuple[str, str]] = field(default_factory=list)  # (method, path) as received
    # A service answering 503 to everything (as one that is up but failing).
    failing: set[str] = field(default_factory=set)
    # Every id not added exists and everyone may see it (for tests about something else).
    open_world: bool = False
    # A key account service from before `accounts:batch-get` (that route answers 404).
    without_account_batch: bool = False

    def employee(self, unit: str = UNIT) -> str:
        employee_id = uuid.uuid4()
        self.employees[employee_id] = unit
        return str(employee_id)

    def account(self, unit: str = UNIT, owner: str | None = None) -> str:
        account_id = uuid.uuid4()
        self.accounts[account_id] = (uuid.UUID(owner) if owner else None, unit)
        return str(account_id)

    def contact(self, account: str) -> str:
        contact_id = uuid.uuid4()
        self.contacts[contact_id] = uuid.UUID(account)
        return str(contact_id)

    # -- the fake services --------------------------------------------------------------------

    @staticmethod
    def _principal(request: Request) -> Principal:
        token = request.headers["authorization"].removeprefix("Bearer ")
        claims = jwt.decode(token, TEST_SECRET, algorithms=["HS256"])
        return Principal(claims["sub"], claims["org_unit_path"], frozenset(claims["roles"]))

    def _sees_employee(self, principal: Principal, employee_id: uuid.UUID) -> bool:
        if employee_id not in self.employees:
            return self.open_world
        return can_see(principal, owner_id=employee_id, org_unit_path=self.employees[employee_id])

    def _sees_account(self, principal: Principal, account_id: uuid.UUID) -> bool:
        if account_id not in self.accounts:
            return self.open_world
        owner, unit = self.accounts[account_id]
        return can_see(principal, owner_id=owner, org_unit_path=unit)

    async def _stages(self, request: Request) -> JSONResponse:
        self.calls.append((request.method, request.url.path))
        if "employee_lifecycle" in self.failing:
            return JSONResponse({"title": "down"}, status_code=503)
        principal = self._principal(request)
        ids = [uuid.UUID(i) for i in (await request.json())["employee_ids"]]
        shown = [i for i in ids if self._sees_employee(principal, i)]
        items = [
            {"employee_id": str(i), "stage": None, "stage_since": None, "capacity": 0, "open_load": 0, "needs": []}
            for i in shown
        ]
        return JSONResponse({"items": items, "not_found": [str(i) for i in ids if i not in shown]})

    async def _accounts(self, request: Request) -> JSONResponse:
        self.calls.append((request.method, request.url.path))
        if self.without_account_batch:
            return JSONResponse({"title": "Not Found", "status": 404}, status_code=404)
        if "key_account" in self.failing:
            return JSONResponse({"title": "down"}, status_code=503)
        principal = self._principal(request)
        ids = list(dict.fromkeys(uuid.UUID(i) for i in (await request.json())["account_ids"]))
        shown = [i for i in ids if self._sees_account(principal, i)]
        return JSONResponse(
            {"items": [{"id": str(i)} for i in shown], "not_found": [str(i) for i in ids if i not in shown]}
        )

    async def _account(self, request: Request) -> JSONResponse:
        self.calls.append((request.method, request.url.path))
        if "key_account" in self.failing:
            return JSONResponse({"title": "down"}, status_code=503)
        principal = self._principal(request)
        account_id = uuid.UUID(request.path_params["account_id"])
        contact = request.path_params.get("contact_id")
        found = self._sees_account(principal, account_id) and (
            contact is None
            or self.contacts.get(uuid.UUID(contact)) == account_id
            or (self.open_world and uuid.UUID(contact) not in self.contacts)
        )
        if not found:
            return JSONResponse({"title": "Not Found", "status": 404}, status_code=404)
        return JSONResponse({"id": contact or str(account_id)})

    async def _other(self, request: Request) -> JSONResponse:
        # What these fakes do not serve (coverage, for example): a service that is up but failing.
        self.calls.append((request.method, request.url.path))
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

    async def serve(
        self, client: httpx.AsyncClient, services: tuple[str, ...] = ("employee_lifecycle", "key_account")
    ) -> httpx.AsyncClient:
        """Answer `client`'s app's calls to `services` from this directory (a
        service left out is unreachable at the directory's made-up host)."""
        app = client._transport.app  # type: ignore[attr-defined]
        transport = httpx.ASGITransport(app=self.app)
        mounts = {app.state.settings.service_url(s): transport for s in services}
        old = app.state.http
        app.state.http = httpx.AsyncClient(mounts=mounts)
        await old.aclose()
        return client


@pytest.fixture
def directory() -> Directory:
    return Directory()


@pytest.fixture
async def service_client(service_client: ClientFactory, directory: Directory) -> ClientFactory:
    """The harness's `service_client`, with opportunity clients served by `directory`."""

    async def make(name: str, clock: Clock | None = None, **overrides: object) -> httpx.AsyncClient:
        served = name == "opportunity" and not {"employee_lifecycle_url", "key_account_url"} & overrides.keys()
        if served:
            # Hosts of their own: a closed port a test gives another peer may be one of these services'.
            overrides = {**overrides, "employee_lifecycle_url": LIFECYCLE_URL, "key_account_url": KEY_ACCOUNT_URL}
        client = await service_client(name, clock, **overrides)
        if served:
            await directory.serve(client)
        return client

    return make


@pytest.fixture
def any_id_exists(directory: Directory) -> None:
    """For tests about something else than references: every id exists and everyone may see it."""
    directory.open_world = True
