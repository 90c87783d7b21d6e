"""Every public route against every kind of caller, through the real gateway.

Two tables:
- every operation of the public OpenAPI, with placeholder ids, answers 401 to
  a caller with no token, an expired token or a token signed with another key
  (the gateway refuses before any service sees the request);
- every operation again, one cell per (operation, role) for all eleven roles,
  against one record of each kind owned by one rep (tests/e2e/matrix_support.py),
  answers what ARCHITECTURE.md promises: the owner, their managers, their
  organisation's admin, the group admin and an integrator key of the
  organisation see the record; another rep, a manager elsewhere and another
  organisation's admin get 404 (not 403); admin-only actions answer 403;
  writes sent the deliberately invalid body answer 422 to every signed-in role.
  Cells where the system breaks the rule are strict xfails naming the defect.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from _pytest.mark.structures import ParameterSet

from tests.e2e.matrix_support import PROBE_BODY, add_records
from tests.e2e.matrix_support import fill as fill_ids
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


ALL = {**{r: 200 for r in ROLES}, **UNAUTHENTICATED}  # collections (filtered, see below) and the catalog
PROBE = {**{r: 422 for r in ROLES}, **UNAUTHENTICATED}  # the deliberately invalid body of matrix_support
UNKNOWN = {**{r: 404 for r in ROLES}, **UNAUTHENTICATED}  # no such record for anyone
REACHED = {200, 201, 409}  # a state-changing action on a visible record: done, or refused by its state
ACTS = {**SEES, **{r: REACHED for r, s in SEES.items() if s == 200}}
MANAGES = row(rep_of_record=403, integrator_key=403)  # managers and admins act on what they see
ADMINS = {**{r: 403 for r in ROLES}, "org_admin": 200, "other_org_admin": 200, "group_admin": 200, **UNAUTHENTICATED}
GROUP_ONLY = {**{r: 404 for r in ROLES}, "group_admin": 200, **UNAUTHENTICATED}  # a unit outside every organisation
STALE = {**{r: 412 for r, s in SEES.items() if s == 200}}  # DELETE with a stale If-Match, so nothing is deleted

# Every operation of the public OpenAPI and what each role gets; the test
# below fails when a route is added without a row here.
EXPECTED: dict[str, dict] = {
    "GET /api/v1/api-keys": ADMINS,
    "POST /api/v1/api-keys": PROBE,
    "GET /api/v1/api-keys/{key_id}": ADMIN_ONLY_READ,
    "DELETE /api/v1/api-keys/{key_id}": {**ADMIN_ONLY_READ, "org_admin": 412, "group_admin": 412},
    "GET /api/v1/me/workspace": EMPLOYEE_ONLY,
    "GET /api/v1/opportunities/policy": ALL,
    "PUT /api/v1/opportunities/policy": PROBE,
    "GET /api/v1/opportunities/pipeline": ALL,
    "GET /api/v1/opportunities": ALL,
    "POST /api/v1/opportunities": PROBE,
    "POST /api/v1/opportunities/bulk-upsert": PROBE,
    "GET /api/v1/opportunities/{opportunity_id}": SEES,
    "PATCH /api/v1/opportunities/{opportunity_id}": SEES,
    "POST /api/v1/opportunities/{opportunity_id}/stage": PROBE,
    "GET /api/v1/opportunities/{opportunity_id}/stage-history": SEES,
    "GET /api/v1/opportunities/{opportunity_id}/plan": SEES,
    "PUT /api/v1/opportunities/{opportunity_id}/plan": PROBE,
    "GET /api/v1/opportunities/{opportunity_id}/recommended-solutions": SEES,
    "GET /api/v1/opportunities/{opportunity_id}/assignment-suggestions": MANAGES,
    "POST /api/v1/opportunities/{opportunity_id}/assignment": PROBE,
    "GET /api/v1/solutions": ALL,
    "POST /api/v1/solutions": PROBE,
    "GET /api/v1/solutions/{solution_id}": ALL,  # the group's catalog: no owning organisation
    "PATCH /api/v1/solutions/{solution_id}": ADMINS,
    "POST /api/v1/assignments/proposals": PROBE,
    "GET /api/v1/assignments/proposals/{proposal_id}": UNKNOWN,
    "POST /api/v1/assignments/proposals/{proposal_id}/commit": UNKNOWN,
    "GET /api/v1/assignments/decisions": ALL,
    "GET /api/v1/assignments/sales-people": ALL,
    "POST /api/v1/employees/stages:batch-get": PROBE,
    "POST /api/v1/employees/stages:evaluate": PROBE,
    "POST /api/v1/employees/stages:lift-expired-overrides": ADMINS,
    "GET /api/v1/employees/{employee_id}/stage": SEES,
    "POST /api/v1/employees/{employee_id}/stage:evaluate": PROBE,
    "PUT /api/v1/employees/{employee_id}/stage/override": PROBE,
    # The rep has no override, so those who may manage the rep hear 404 too.
    "DELETE /api/v1/employees/{employee_id}/stage/override": {
        **UNKNOWN, "rep_of_record": 403,
        "other_rep": 404,
    },
    "GET /api/v1/employees/{employee_id}/stage/history": SEES,
    "POST /api/v1/employees/facts:backfill": PROBE,
    "GET /api/v1/employees/{employee_id}/signals": SEES,
    "GET /api/v1/employees": ALL,
    "POST /api/v1/employees": PROBE,
    "POST /api/v1/employees:bulk-upsert": PROBE,
    "GET /api/v1/employees/{employee_id}": SEES,
    "PATCH /api/v1/employees/{employee_id}": row(rep_of_record=403),
    "GET /api/v1/org-units": ALL,
    "POST /api/v1/org-units": PROBE,
    "POST /api/v1/org-units:bulk-upsert": PROBE,
    "GET /api/v1/org-units/{unit_id}": GROUP_ONLY,
    "PATCH /api/v1/org-units/{unit_id}": GROUP_ONLY,
    "GET /api/v1/employees/{employee_id}/quotas": SEES,
    "PUT /api/v1/employees/{employee_id}/quotas/{period}": PROBE,
    "GET /api/v1/stage-policies": ALL,
    "POST /api/v1/stage-policies": PROBE,
    "GET /api/v1/stage-policies/default": ALL,
    "GET /api/v1/stage-policies/effective": ALL,
    "GET /api/v1/stage-policies/{policy_id}": {
        **ALL, "other_org_admin": 404,
    },
    "GET /api/v1/accounts/segmentation-policy": ALL,
    "PUT /api/v1/accounts/segmentation-policy": PROBE,
    "POST /api/v1/accounts/{account_id}/segmentation": SEES,
    "PUT /api/v1/accounts/{account_id}/tier-override": PROBE,
    "DELETE /api/v1/accounts/{account_id}/tier-override": MANAGES,
    "GET /api/v1/accounts/coverage-violations": ALL,
    "GET /api/v1/accounts/{account_id}/coverage": SEES,
    "POST /api/v1/accounts/{account_id}/coverage/members": PROBE,
    "GET /api/v1/accounts/{account_id}/coverage/members/{member_id}": SEES,
    "PATCH /api/v1/accounts/{account_id}/coverage/members/{member_id}": SEES,
    "DELETE /api/v1/accounts/{account_id}/coverage/members/{member_id}": {**SEES, **STALE},
    "GET /api/v1/accounts": ALL,
    "POST /api/v1/accounts": PROBE,
    "GET /api/v1/accounts/{account_id}": SEES,
    "PATCH /api/v1/accounts/{account_id}": SEES,
    "POST /api/v1/accounts/bulk-upsert": PROBE,
    "GET /api/v1/accounts/{account_id}/contacts": SEES,
    "POST /api/v1/accounts/{account_id}/contacts": PROBE,
    "GET /api/v1/accounts/{account_id}/contacts/{contact_id}": SEES,
    "PATCH /api/v1/accounts/{account_id}/contacts/{contact_id}": SEES,
    "GET /api/v1/accounts/{account_id}/relationships": SEES,
    "PUT /api/v1/accounts/{account_id}/relationships": PROBE,
    "GET /api/v1/accounts/{account_id}/influence-lines": SEES,
    "POST /api/v1/accounts/{account_id}/influence-lines": PROBE,
    "GET /api/v1/accounts/{account_id}/relationship-map": SEES,
    "GET /api/v1/account-plans": ALL,
    "POST /api/v1/account-plans": PROBE,
    "GET /api/v1/account-plans/{plan_id}": SEES,
    "PATCH /api/v1/account-plans/{plan_id}": SEES,
    "GET /api/v1/account-plans/{plan_id}/completeness": SEES,
    "GET /api/v1/account-plans/{plan_id}/objectives": SEES,
    "POST /api/v1/account-plans/{plan_id}/objectives": PROBE,
    "GET /api/v1/account-plans/{plan_id}/actions": SEES,
    "POST /api/v1/account-plans/{plan_id}/actions": PROBE,
    "PATCH /api/v1/account-plans/{plan_id}/actions/{action_id}": SEES,
    "GET /api/v1/account-plans/{plan_id}/reviews": SEES,
    "POST /api/v1/account-plans/{plan_id}/reviews": PROBE,
    "GET /api/v1/account-plans/{plan_id}/relationship-targets": SEES,
    "PUT /api/v1/account-plans/{plan_id}/relationship-targets": PROBE,
    "PUT /api/v1/account-plans/{plan_id}/solution-guiding-team": PROBE,
    "GET /api/v1/account-plans/{plan_id}/solution-guiding-team/sessions": SEES,
    "POST /api/v1/account-plans/{plan_id}/solution-guiding-team/sessions": PROBE,
    "GET /api/v1/account-plans/{plan_id}/whitespace-cells": SEES,
    "PUT /api/v1/account-plans/{plan_id}/whitespace-cells": PROBE,
    "GET /api/v1/account-plans/{plan_id}/incumbent-contracts": SEES,
    "POST /api/v1/account-plans/{plan_id}/incumbent-contracts": PROBE,
    "GET /api/v1/account-plans/{plan_id}/competitor-footprint": SEES,
    "GET /api/v1/account-plans/{plan_id}/incubation-items": SEES,
    "POST /api/v1/account-plans/{plan_id}/incubation-items": PROBE,
    "GET /api/v1/account-plans/{plan_id}/incubation-items/{item_id}": SEES,
    "PATCH /api/v1/account-plans/{plan_id}/incubation-items/{item_id}": SEES,
    "POST /api/v1/account-plans/{plan_id}/incubation-items/{item_id}/promote": ACTS,
    "GET /api/v1/account-plans/{plan_id}/incubation-metrics": SEES,
    "GET /api/v1/accounts/{account_id}/incubation-metrics": SEES,
    "GET /api/v1/resources/people/{employee_id}/influence": SEES,
    "GET /api/v1/resources/people/{employee_id}/profile": UNKNOWN,  # the rep has published no profile
    "PUT /api/v1/resources/people/{employee_id}/profile": PROBE,
    "GET /api/v1/resources": ALL,
    "POST /api/v1/resources": PROBE,
    "GET /api/v1/resources/{resource_id}": SEES,
    "PATCH /api/v1/resources/{resource_id}": SEES,
    "GET /api/v1/resource-requests": ALL,
    "POST /api/v1/resource-requests": PROBE,
    "GET /api/v1/resource-requests/{request_id}": SEES,
    "POST /api/v1/resource-requests/{request_id}/approve": PROBE,
    "POST /api/v1/resource-requests/{request_id}/decline": PROBE,
    "POST /api/v1/resource-requests/{request_id}/fulfil": PROBE,
    "POST /api/v1/resource-requests/{request_id}/rate": PROBE,
    "POST /api/v1/resource-requests/{request_id}/outcome": PROBE,
    "GET /api/v1/introductions/paths": EMPLOYEE_ONLY,
    "POST /api/v1/introductions": PROBE,
    "GET /api/v1/introductions": ALL,
    "GET /api/v1/introductions/{introduction_id}": UNKNOWN,
    "POST /api/v1/introductions/{introduction_id}/accept": PROBE,
    "POST /api/v1/introductions/{introduction_id}/decline": PROBE,
    "POST /api/v1/introductions/{introduction_id}/introduce": PROBE,
    "POST /api/v1/introductions/{introduction_id}/fail": PROBE,
    "GET /api/v1/support-requests/pool": ALL,
    "PUT /api/v1/support-requests/pool/{employee_id}": PROBE,
    "GET /api/v1/support-requests/queue": ALL,
    "GET /api/v1/support-requests/fairness": ALL,
    "GET /api/v1/support-requests": ALL,
    "POST /api/v1/support-requests": PROBE,
    "GET /api/v1/support-requests/{request_id}": SEES,
    "GET /api/v1/support-requests/{request_id}/matches": SEES,
    "POST /api/v1/support-requests/{request_id}/assign": PROBE,
    "POST /api/v1/support-requests/{request_id}/fulfil": ACTS,
    "POST /api/v1/support-requests/{request_id}/cancel": ACTS,
}
# Query strings a route cannot answer without.
QUERY = {
    "GET /api/v1/stage-policies/effective": lambda c, ids: {"org_unit": c.team},
    "GET /api/v1/introductions/paths": lambda c, ids: {"account_id": ids["account_id"]},
}


def cell(operation: str, role: str, expected):
    """One (route, role) cell; a cell marked xfail keeps its mark."""
    if isinstance(expected, ParameterSet):
        return pytest.param(operation, role, expected.values[0], marks=expected.marks, id=f"{operation} {role}")
    return pytest.param(operation, role, expected, id=f"{operation} {role}")


CELLS = [cell(operation, role, expected[role]) for operation, expected in EXPECTED.items() for role in ROLES]


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
def operations(gateway: httpx.Client) -> dict[tuple[str, str], bool]:
    """Every public operation, and whether it takes a body."""
    spec = gateway.get("/openapi.json").json()
    ops = {}
    for path, item in spec["paths"].items():
        if path.startswith("/api/v1/"):
            for method, operation in item.items():
                if method in ("get", "post", "put", "patch", "delete"):
                    ops[(method.upper(), path)] = "requestBody" in operation
    assert len(ops) > 100
    return ops


@pytest.fixture(scope="module")
def ids(gateway: httpx.Client, cast: Cast) -> dict[str, str]:
    return add_records(gateway, cast)


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


def test_the_matrix_has_a_row_for_every_public_operation(operations):
    assert sorted(EXPECTED) == sorted(f"{method} {path}" for method, path in operations)


@pytest.mark.parametrize(("operation", "role", "expected"), CELLS)
def test_each_role_gets_what_the_visibility_rule_promises(gateway, cast, ids, operations, operation, role, expected):
    method, template = operation.split(" ", 1)
    headers = dict(cast.headers[role])
    body = None
    if method == "PATCH":
        body = {}  # every field optional: a no-op update, so every role meets the same record
    elif method == "DELETE":
        headers["If-Match"] = '"matrix-stale"'  # refused after the visibility check, so the record stays
    elif operations[(method, template)]:
        body = PROBE_BODY
    params = QUERY[operation](cast, ids) if operation in QUERY else None
    response = gateway.request(method, fill_ids(method, template, ids), headers=headers, json=body, params=params)
    assert "Traceback" not in response.text
    if isinstance(expected, set):
        assert response.status_code in expected, response.text
    else:
        assert response.status_code == expected, response.text


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

