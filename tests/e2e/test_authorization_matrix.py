"""Every public route against every kind of caller, through the real gateway.

Two tables:
- every operation of the public OpenAPI, with placeholder ids, answers 401 to
  a caller with no token, an expired token or a token signed with another key
  (the gateway refuses before any service sees the request);
- the routes that touch one rep's records, and the admin routes, answer each
  role what ARCHITECTURE.md promises: the owner, their managers, their
  organisation's admin, the group admin and an integrator key of the
  organisation see the record; another rep, a manager elsewhere and another
  organisation's admin get 404 (not 403); admin-only actions answer 403.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.system import RunningSystem
from tests.gateway.system import Cast, new_cast, running_system

pytestmark = pytest.mark.e2e

ROLES = (
    "rep_of_record", "other_rep", "manager_above", "manager_elsewhere", "org_admin", "other_org_admin",
    "group_admin", "integrator_key", "no_token", "expired_token", "wrong_key",
)
UNAUTHENTICATED = {"no_token": 401, "expired_token": 401, "wrong_key": 401}
# The visibility rule of ARCHITECTURE.md for a record a rep owns.
SEES = {
    "rep_of_record": 200, "other_rep": 404, "manager_above": 200, "manager_elsewhere": 404, "org_admin": 200,
    "other_org_admin": 404, "group_admin": 200, "integrator_key": 200, **UNAUTHENTICATED,
}
ADMIN_ONLY_READ = {  # an API key record: admins of its organisation and the group
    **{r: 403 for r in ROLES}, "org_admin": 200, "other_org_admin": 404, "group_admin": 200, **UNAUTHENTICATED,
}
EMPLOYEE_ONLY = {**{r: 200 for r in ROLES}, "integrator_key": 403, **UNAUTHENTICATED}


def row(**overrides: int) -> dict[str, int]:
    return {**SEES, **overrides}


# (method, path template, json body, expected status per role)
MATRIX: list[tuple[str, str, dict | None, dict[str, int]]] = [
    ("GET", "/api/v1/opportunities/{opportunity}", None, SEES),
    ("GET", "/api/v1/opportunities/{opportunity}/plan", None, SEES),
    ("GET", "/api/v1/opportunities/{opportunity}/stage-history", None, SEES),
    ("PATCH", "/api/v1/opportunities/{opportunity}", {"name": "Renamed by the matrix"}, SEES),
    ("GET", "/api/v1/opportunities/{opportunity}/recommended-solutions", None, SEES),
    ("GET", "/api/v1/accounts/{account}", None, SEES),
    ("PATCH", "/api/v1/accounts/{account}", {"industry": "retail"}, SEES),
    ("GET", "/api/v1/accounts/{account}/relationship-map", None, SEES),
    ("GET", "/api/v1/accounts/{account}/contacts", None, SEES),
    ("GET", "/api/v1/resources/{resource}", None, SEES),
    ("GET", "/api/v1/employees/{employee}/signals", None, SEES),
    ("GET", "/api/v1/employees/{employee}/quotas", None, SEES),
    ("GET", "/api/v1/accounts/{account}/coverage", None, SEES),
    ("GET", "/api/v1/employees/{employee}", None, SEES),
    ("GET", "/api/v1/api-keys/{api_key}", None, ADMIN_ONLY_READ),
    ("GET", "/api/v1/me/workspace", None, EMPLOYEE_ONLY),
]


@pytest.fixture(scope="module")
def system(committed_database_url: str) -> Iterator[RunningSystem]:
    with running_system(committed_database_url) as running:
        yield running


@pytest.fixture(scope="module")
def gateway(system: RunningSystem) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=system.url("gateway"), timeout=15) as client:
        yield client


@pytest.fixture(scope="module")
def cast(gateway: httpx.Client) -> Cast:
    return new_cast(gateway)


@pytest.fixture(scope="module")
def operations(gateway: httpx.Client) -> list[tuple[str, str]]:
    spec = gateway.get("/openapi.json").json()
    ops = []
    for path, item in spec["paths"].items():
        if path.startswith("/api/v1/"):
            ops += [(method.upper(), path) for method in item if method in ("get", "post", "put", "patch", "delete")]
    assert len(ops) > 100
    return ops


def fill(template: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), str(uuid.uuid4())), template)


@pytest.mark.parametrize("role", sorted(UNAUTHENTICATED))
def test_every_public_operation_refuses_a_caller_without_valid_credentials(gateway, cast, operations, role):
    wrong = {}
    for method, path in operations:
        response = gateway.request(method, fill(path, {}), headers=cast.headers[role], json={} if method in ("POST", "PUT", "PATCH") else None)
        if response.status_code != 401 or response.headers["content-type"] != "application/problem+json":
            wrong[f"{method} {path}"] = response.status_code
        elif "Traceback" in response.text or not any(w in response.json()["detail"] for w in ("not valid", "expired", "Bearer")):
            wrong[f"{method} {path}"] = "detail"
    assert wrong == {}


@pytest.mark.parametrize(("method", "template", "body", "expected"), MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
def test_each_role_gets_what_the_visibility_rule_promises(gateway, cast, method, template, body, expected):
    path = fill(template, cast.records)
    observed = {role: gateway.request(method, path, headers=cast.headers[role], json=body).status_code for role in ROLES}
    assert observed == {role: expected[role] for role in ROLES}


# Lists must agree with the record routes: a role that gets 404 there must not find the record here.
LISTS = [
    ("opportunity", "/api/v1/opportunities", lambda c: {"owner_id": c.rep_id}),
    ("account", "/api/v1/accounts", lambda c: {"org_unit": c.team}),
    ("resource", "/api/v1/resources", lambda c: {"owner_id": c.rep_id}),
    ("employee", "/api/v1/employees", lambda c: {"org_unit": c.team}),
]


@pytest.mark.parametrize(("record", "path", "params"), LISTS, ids=[r for r, _, _ in LISTS])
def test_lists_show_the_record_exactly_to_those_who_may_see_it(gateway, cast, record, path, params):
    observed = {}
    for role in ROLES:
        response = gateway.get(path, params=params(cast), headers=cast.headers[role])
        if response.status_code != 200:
            observed[role] = response.status_code
        else:
            observed[role] = 200 if cast.records[record] in {i["id"] for i in response.json()["items"]} else 404
    assert observed == {role: SEES[role] for role in ROLES}
