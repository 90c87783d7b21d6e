"""Every public route against every kind of caller, through the real gateway.

Two tables:
- every operation of the public OpenAPI, with placeholder ids, answers 401 to
  a caller with no token, an expired token or a token signed with another key
  (the gateway refuses before any service sees the request);
- every operation again, one cell per (operation, role) for all eleven roles,
  against records owned by one rep (tests/e2e/matrix_support.py), answers what
  ARCHITECTURE.md promises: the owner, their managers, their organisation's
  admin, the group admin and an integrator key of the organisation see the
  record; another rep, a manager elsewhere and another organisation's admin
  get 404 (never 403); roles that see a record but may not do what is asked
  (an admin-only or a managers-only action, a decision that is the owner's
  line's) get 403.

Every write is sent a real, valid body (`WRITES` in matrix_support): a cell
proves who may write, not only that credentials are checked. A write that
changes state another cell would meet (a transition, an override, a PUT of a
singleton, a delete) gets its own fresh record, made inside the cell, so the
cells do not depend on each other or on their order. Creates are scoped to
the caller's own unit (`own_unit`); creating in the rep's team from outside
it is a table of its own (`REACH`). A record named in a *body* that the caller
may not see is as unknown as one that does not exist: 422 (issue 16: the
resource of a resource request too, and a unit or organisation path of another
organisation named by its admin).

Some routes answer 200 to everyone and filter inside the answer (batch reads,
bulk imports); `OBSERVE` turns such an answer into what the caller got: 404
when the rep is among `not_found`, `REFUSED` when the import row was refused.

Cells where the system breaks the rule are strict xfails naming the defect.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from _pytest.mark.structures import ParameterSet

from tests.e2e.matrix_support import (
    DEPRECATED_ALIASES,
    REACH_SETUPS,
    WRITES,
    Matrix,
    add_records,
    employee_rows,
)
from tests.e2e.matrix_support import fill as fill_ids
from tests.gateway.system import Cast, new_cast
from tests.support import auth

pytestmark = pytest.mark.e2e

ROLES = (
    "rep_of_record",
    "other_rep",
    "manager_above",
    "manager_elsewhere",
    "org_admin",
    "other_org_admin",
    "group_admin",
    "integrator_key",
    "no_token",
    "expired_token",
    "wrong_key",
)
UNAUTHENTICATED = {"no_token": 401, "expired_token": 401, "wrong_key": 401}
# The visibility rule of ARCHITECTURE.md for a record a rep owns.
SEES = {
    "rep_of_record": 200,
    "other_rep": 404,
    "manager_above": 200,
    "manager_elsewhere": 404,
    "org_admin": 200,
    "other_org_admin": 404,
    "group_admin": 200,
    "integrator_key": 200,
    **UNAUTHENTICATED,
}
ADMIN_ONLY_READ = {  # an API key record: admins of its organisation and the group
    **dict.fromkeys(ROLES, 403),
    "org_admin": 200,
    "other_org_admin": 404,
    "group_admin": 200,
    **UNAUTHENTICATED,
}
EMPLOYEE_ONLY = {**dict.fromkeys(ROLES, 200), "integrator_key": 403, **UNAUTHENTICATED}
REFUSED = "import row refused"  # a bulk import answered 200 but refused the row (see OBSERVE)


def row(**overrides: Any) -> dict[str, Any]:
    return {**SEES, **overrides}


def visible(ok: int, **overrides: Any) -> dict[str, Any]:
    """`ok` for every role that sees the rep's record, 404/401 for the others."""
    return {**{r: ok if s == 200 else s for r, s in SEES.items()}, **overrides}


def everyone(ok: int, **overrides: Any) -> dict[str, Any]:
    return {**dict.fromkeys(ROLES, ok), **UNAUTHENTICATED, **overrides}


def defect(expected: int | str, reason: str) -> ParameterSet:
    """A cell where the system breaks the rule: `expected` is what the rule says."""
    return pytest.param(expected, marks=pytest.mark.xfail(strict=True, reason=f"DEFECT: {reason}"))


ALL = everyone(200)  # collections (filtered, see below) and the catalog
UNKNOWN = everyone(404)  # no such record for anyone
MANAGES = row(rep_of_record=403, integrator_key=403)  # managers and admins act on what they see
ADMINS = everyone(403, org_admin=200, other_org_admin=200, group_admin=200)  # each for their own organisation
GROUP_ONLY = everyone(404, group_admin=200)  # a unit outside every organisation
STALE = {**{r: 412 for r, s in SEES.items() if s == 200}}  # DELETE with a stale If-Match, so nothing is deleted
# Creating in one's own unit (own_unit in matrix_support).
CREATES = everyone(201)
EMPLOYEES_CREATE = everyone(201, integrator_key=403)  # people only: a key's subject is no employee
ADMINS_CREATE = everyone(403, org_admin=201, other_org_admin=201, group_admin=201)
# A decision on a request waiting on the rep (owner or connector): the rep and the rep's line;
# admins see it but "do not decide for people" (resource_share/access.py).
DECIDES = visible(200, org_admin=403, group_admin=403, integrator_key=403)
# Proposals belong to the organisation's assigners: managers above and admins.
PROPOSALS = everyone(404, manager_above=200, org_admin=200, group_admin=200)

# Every operation of the public OpenAPI and what each role gets; the test
# below fails when a route is added without a row here.
EXPECTED: dict[str, dict] = {
    "GET /api/v1/api-keys": ADMINS,
    "POST /api/v1/api-keys": ADMINS_CREATE,  # for the caller's own organisation
    "GET /api/v1/api-keys/{key_id}": ADMIN_ONLY_READ,
    "DELETE /api/v1/api-keys/{key_id}": {**ADMIN_ONLY_READ, "org_admin": 204, "group_admin": 204},  # a fresh key each
    "GET /api/v1/me/workspace": EMPLOYEE_ONLY,
    "GET /api/v1/opportunities/policy": ALL,
    "PUT /api/v1/opportunities/policy": ADMINS,  # the caller's organisation's policy, put back as it is
    "GET /api/v1/opportunities/pipeline": ALL,
    "GET /api/v1/opportunities": ALL,
    "POST /api/v1/opportunities": CREATES,  # the caller's own deal (a key's: unassigned), in the caller's unit
    "POST /api/v1/opportunities:bulk-upsert": ALL,  # one row, written
    "GET /api/v1/opportunities/{opportunity_id}": SEES,
    "PATCH /api/v1/opportunities/{opportunity_id}": SEES,
    "POST /api/v1/opportunities/{opportunity_id}/stage": SEES,  # a fresh deal of the rep's, closed as lost
    "GET /api/v1/opportunities/{opportunity_id}/stage-history": SEES,
    "GET /api/v1/opportunities/{opportunity_id}/plan": SEES,
    "PUT /api/v1/opportunities/{opportunity_id}/plan": SEES,  # a fresh deal's plan
    "GET /api/v1/opportunities/{opportunity_id}/recommended-solutions": SEES,
    "POST /api/v1/opportunities/recommended-solutions:batch-get": SEES,  # 404: the deal came back in not_found
    "GET /api/v1/opportunities/{opportunity_id}/assignment-suggestions": MANAGES,
    "POST /api/v1/opportunities/{opportunity_id}/assignment": MANAGES,  # a fresh deal given to someone else
    "GET /api/v1/solutions": ALL,
    "POST /api/v1/solutions": ADMINS_CREATE,
    "POST /api/v1/solutions:bulk-upsert": ADMINS,  # one row, into the caller's organisation's catalogue
    # Each organisation curates its own catalogue (issue 18): the org admin's solution, read by the
    # organisation's people (its deals name it) and the group admin, hidden from another organisation.
    "GET /api/v1/solutions/{solution_id}": everyone(200, other_org_admin=404),
    "PATCH /api/v1/solutions/{solution_id}": everyone(403, org_admin=200, other_org_admin=404, group_admin=200),
    # Assigners only; deals they may not see are listed as not placed, not refused.
    "POST /api/v1/assignments/proposals": everyone(201, rep_of_record=403, other_rep=403, integrator_key=403),
    "GET /api/v1/assignments/proposals/{proposal_id}": PROPOSALS,  # the org admin's proposal
    "POST /api/v1/assignments/proposals/{proposal_id}/commit": PROPOSALS,  # a fresh proposal each
    "GET /api/v1/assignments/decisions": ALL,
    "GET /api/v1/assignments/sales-people": ALL,
    "POST /api/v1/employees/stages:batch-get": SEES,  # 404: the rep came back in not_found
    # Recording needs a manager, an admin or a key; then the rep is found or not.
    "POST /api/v1/employees/stages:evaluate": row(rep_of_record=403, other_rep=403),
    "POST /api/v1/employees/stages:lift-expired-overrides": ADMINS,
    "GET /api/v1/employees/{employee_id}/stage": SEES,
    "POST /api/v1/employees/{employee_id}/stage:evaluate": SEES,  # recorded: yourself, or as a manager/admin/key
    # A fresh evaluated rep each; an override is a person's judgement: managers and admins, not keys.
    "PUT /api/v1/employees/{employee_id}/stage/override": row(rep_of_record=403, integrator_key=403),
    "DELETE /api/v1/employees/{employee_id}/stage/override": {
        **row(rep_of_record=403, integrator_key=403),
        **dict.fromkeys(("manager_above", "org_admin", "group_admin"), 204),
    },
    "GET /api/v1/employees/{employee_id}/stage/history": SEES,
    # Facts about the rep: admins and keys; someone who cannot see the rep names an unknown employee.
    "POST /api/v1/employees/facts:backfill": everyone(
        403, org_admin=200, other_org_admin=422, group_admin=200, integrator_key=200
    ),
    "GET /api/v1/employees/{employee_id}/signals": SEES,
    "GET /api/v1/employees": ALL,
    "POST /api/v1/employees": everyone(403, org_admin=201, other_org_admin=201, group_admin=201, integrator_key=201),
    "POST /api/v1/employees:bulk-upsert": everyone(
        403, org_admin=200, other_org_admin=200, group_admin=200, integrator_key=200
    ),
    "GET /api/v1/employees/{employee_id}": SEES,
    "PATCH /api/v1/employees/{employee_id}": row(rep_of_record=403),
    "GET /api/v1/org-units": ALL,
    "POST /api/v1/org-units": ADMINS_CREATE,  # under the caller's organisation's unit
    "POST /api/v1/org-units:bulk-upsert": ADMINS,
    "GET /api/v1/org-units/{unit_id}": GROUP_ONLY,
    "PATCH /api/v1/org-units/{unit_id}": GROUP_ONLY,
    "GET /api/v1/employees/{employee_id}/quotas": SEES,
    "PUT /api/v1/employees/{employee_id}/quotas/{period}": visible(
        201, rep_of_record=403
    ),  # a fresh rep each: the quota is new
    "GET /api/v1/stage-policies": ALL,
    "POST /api/v1/stage-policies": ADMINS_CREATE,  # the group admin's for the rep's organisation
    "GET /api/v1/stage-policies/default": ALL,
    # For the rep's team: another organisation's policies are not its admin's to read (issue 16).
    "GET /api/v1/stage-policies/effective": {**ALL, "other_org_admin": 404},
    "GET /api/v1/stage-policies/{policy_id}": {
        **ALL,
        "other_org_admin": 404,
    },
    "GET /api/v1/accounts/segmentation-policy": ALL,
    "PUT /api/v1/accounts/segmentation-policy": ADMINS,  # the caller's organisation's, put back as it is
    "POST /api/v1/accounts/{account_id}/segmentation": SEES,
    "PUT /api/v1/accounts/{account_id}/tier-override": MANAGES,  # a fresh account each
    "DELETE /api/v1/accounts/{account_id}/tier-override": MANAGES,
    "GET /api/v1/accounts/coverage-violations": ALL,
    "GET /api/v1/accounts/{account_id}/coverage": SEES,
    "POST /api/v1/accounts/{account_id}/coverage/members": visible(201),  # the owner and those managing its unit
    "GET /api/v1/accounts/{account_id}/coverage/members/{member_id}": SEES,
    "PATCH /api/v1/accounts/{account_id}/coverage/members/{member_id}": SEES,
    "DELETE /api/v1/accounts/{account_id}/coverage/members/{member_id}": visible(204),  # a fresh member each
    "GET /api/v1/accounts": ALL,
    "POST /api/v1/accounts": CREATES,  # the caller's own, in the caller's unit
    "GET /api/v1/accounts/{account_id}": SEES,
    "POST /api/v1/accounts:batch-get": SEES,  # 404: the account came back in not_found
    "PATCH /api/v1/accounts/{account_id}": SEES,
    "POST /api/v1/accounts:bulk-upsert": everyone(200, rep_of_record=403, other_rep=403),
    "GET /api/v1/accounts/{account_id}/contacts": SEES,
    "POST /api/v1/accounts/{account_id}/contacts": visible(201),
    "GET /api/v1/accounts/{account_id}/contacts/{contact_id}": SEES,
    "PATCH /api/v1/accounts/{account_id}/contacts/{contact_id}": SEES,
    "GET /api/v1/accounts/{account_id}/relationships": SEES,
    "PUT /api/v1/accounts/{account_id}/relationships": SEES,  # the rep's relationship, replaced each time
    "GET /api/v1/accounts/{account_id}/influence-lines": SEES,
    "POST /api/v1/accounts/{account_id}/influence-lines": visible(201),  # between two fresh contacts
    "GET /api/v1/accounts/{account_id}/relationship-map": SEES,
    "GET /api/v1/account-plans": ALL,
    # For a fresh account of the rep's: an account one may not see is unknown (422).
    "POST /api/v1/account-plans": visible(201, other_rep=422, manager_elsewhere=422, other_org_admin=422),
    "GET /api/v1/account-plans/{plan_id}": SEES,
    "PATCH /api/v1/account-plans/{plan_id}": SEES,
    "GET /api/v1/account-plans/{plan_id}/completeness": SEES,
    "GET /api/v1/account-plans/{plan_id}/objectives": SEES,
    "POST /api/v1/account-plans/{plan_id}/objectives": visible(201),
    "GET /api/v1/account-plans/{plan_id}/actions": SEES,
    "POST /api/v1/account-plans/{plan_id}/actions": visible(201),
    "PATCH /api/v1/account-plans/{plan_id}/actions/{action_id}": SEES,
    "GET /api/v1/account-plans/{plan_id}/reviews": SEES,
    "POST /api/v1/account-plans/{plan_id}/reviews": visible(201),
    "GET /api/v1/account-plans/{plan_id}/relationship-targets": SEES,
    "PUT /api/v1/account-plans/{plan_id}/relationship-targets": SEES,  # a fresh plan each
    "PUT /api/v1/account-plans/{plan_id}/solution-guiding-team": SEES,  # a fresh plan each
    "GET /api/v1/account-plans/{plan_id}/solution-guiding-team/sessions": SEES,
    "POST /api/v1/account-plans/{plan_id}/solution-guiding-team/sessions": visible(201),
    "GET /api/v1/account-plans/{plan_id}/whitespace-cells": SEES,
    "PUT /api/v1/account-plans/{plan_id}/whitespace-cells": SEES,  # a fresh plan each
    "GET /api/v1/account-plans/{plan_id}/incumbent-contracts": SEES,
    "POST /api/v1/account-plans/{plan_id}/incumbent-contracts": visible(201),
    "GET /api/v1/account-plans/{plan_id}/competitor-footprint": SEES,
    "GET /api/v1/account-plans/{plan_id}/incubation-items": SEES,
    "POST /api/v1/account-plans/{plan_id}/incubation-items": visible(201),
    "GET /api/v1/account-plans/{plan_id}/incubation-items/{item_id}": SEES,
    "PATCH /api/v1/account-plans/{plan_id}/incubation-items/{item_id}": SEES,
    # A fresh qualified item each, promoted into an opportunity with the caller's identity.
    "POST /api/v1/account-plans/{plan_id}/incubation-items/{item_id}/promote": visible(201),
    "GET /api/v1/account-plans/{plan_id}/incubation-metrics": SEES,
    "GET /api/v1/accounts/{account_id}/incubation-metrics": SEES,
    "GET /api/v1/resources/people/{employee_id}/influence": SEES,
    "GET /api/v1/resources/people/{employee_id}/demand": SEES,  # the rep and the rep's line
    # Work across every plan the caller may see (filtered lists; see test_lists_... for what they show).
    "GET /api/v1/plan-actions": ALL,
    "GET /api/v1/incubation-items": ALL,
    "GET /api/v1/relationship-gaps": ALL,
    "GET /api/v1/resources/people/{employee_id}/profile": UNKNOWN,  # the rep has published no profile
    # A fresh rep's profile: only they may write it.
    "PUT /api/v1/resources/people/{employee_id}/profile": everyone(
        403, rep_of_record=200, other_rep=404, manager_elsewhere=404, other_org_admin=404
    ),
    "GET /api/v1/resources": ALL,
    "POST /api/v1/resources": EMPLOYEES_CREATE,
    "GET /api/v1/resources/{resource_id}": SEES,
    "PATCH /api/v1/resources/{resource_id}": SEES,
    "GET /api/v1/resource-requests": ALL,
    # For an organisation-wide resource of another rep of the rep's organisation; one the caller
    # may not see is an unknown reference in the body (issue 16).
    "POST /api/v1/resource-requests": {**EMPLOYEES_CREATE, "other_org_admin": 422},
    "GET /api/v1/resource-requests/{request_id}": SEES,
    # A fresh request for the rep's resource (by another rep of the organisation).
    "POST /api/v1/resource-requests/{request_id}/approve": DECIDES,
    "POST /api/v1/resource-requests/{request_id}/decline": DECIDES,
    "POST /api/v1/resource-requests/{request_id}/fulfil": DECIDES,  # approved first
    # A fresh fulfilled request the rep made: the requester rates; the requester or the owner's line
    # records the outcome.
    "POST /api/v1/resource-requests/{request_id}/rate": visible(
        200, manager_above=403, org_admin=403, group_admin=403, integrator_key=403
    ),
    "POST /api/v1/resource-requests/{request_id}/outcome": DECIDES,
    "GET /api/v1/introductions/paths": EMPLOYEE_ONLY,
    "POST /api/v1/introductions": EMPLOYEES_CREATE,  # through another rep's relationship shared group-wide
    "GET /api/v1/introductions": ALL,
    "GET /api/v1/introductions/{introduction_id}": SEES,  # one asked of the rep (the connector)
    # A fresh introduction asked of the rep (the connector).
    "POST /api/v1/introductions/{introduction_id}/accept": DECIDES,
    "POST /api/v1/introductions/{introduction_id}/decline": DECIDES,
    "POST /api/v1/introductions/{introduction_id}/introduce": DECIDES,  # accepted first
    "POST /api/v1/introductions/{introduction_id}/fail": DECIDES,  # accepted first
    "GET /api/v1/support-requests/pool": ALL,
    # A fresh rep put in the pool: themself, or by those over their unit.
    "PUT /api/v1/support-requests/pool/{employee_id}": SEES,
    "GET /api/v1/support-requests/queue": ALL,
    "GET /api/v1/support-requests/fairness": ALL,
    "GET /api/v1/support-requests": ALL,
    "POST /api/v1/support-requests": EMPLOYEES_CREATE,  # about a deal of the caller's own
    "GET /api/v1/support-requests/{request_id}": SEES,
    "GET /api/v1/support-requests/{request_id}/matches": SEES,
    # A fresh open request of the rep's, given to the desk's pool member: assigning others is the dispatchers'.
    "POST /api/v1/support-requests/{request_id}/assign": MANAGES,
    # A fresh assigned request of the rep's: the assignee or the requester's manager (not admins).
    "POST /api/v1/support-requests/{request_id}/fulfil": visible(
        200, rep_of_record=403, org_admin=403, group_admin=403, integrator_key=403
    ),
    "POST /api/v1/support-requests/{request_id}/cancel": row(integrator_key=403),  # a fresh open request of the rep's
}
# Query strings a route cannot answer without.
QUERY = {
    "GET /api/v1/stage-policies/effective": lambda c, ids: {"org_unit": c.team},
    "GET /api/v1/introductions/paths": lambda c, ids: {"account_id": ids["account_id"]},
}


def _not_found(key: str) -> Callable[[httpx.Response, dict[str, str]], Any]:
    """A batch read: the rep's record (`ids[key]`) in `not_found` is the batch's 404."""

    def observe(response: httpx.Response, ids: dict[str, str]) -> Any:
        if response.status_code != 200:
            return response.status_code
        return 404 if ids[key] in response.json()["not_found"] else 200

    return observe


def _imported(response: httpx.Response, ids: dict[str, str]) -> Any:
    """A bulk import: every row written (200), or a row refused."""
    if response.status_code != 200:
        return response.status_code
    report = response.json()
    if report["failed"]:
        return REFUSED
    assert report["created"] >= 1 and not report["updated"], report
    return 200


OBSERVE: dict[str, Callable[[httpx.Response, dict[str, str]], Any]] = {
    "POST /api/v1/employees/stages:batch-get": _not_found("employee_id"),
    "POST /api/v1/employees/stages:evaluate": _not_found("employee_id"),
    "POST /api/v1/opportunities/recommended-solutions:batch-get": _not_found("opportunity_id"),
    "POST /api/v1/accounts:batch-get": _not_found("account_id"),
    "POST /api/v1/opportunities:bulk-upsert": _imported,
    "POST /api/v1/accounts:bulk-upsert": _imported,
    "POST /api/v1/employees:bulk-upsert": _imported,
    "POST /api/v1/org-units:bulk-upsert": _imported,
    "POST /api/v1/solutions:bulk-upsert": _imported,
}
EXPECTED.update({alias: EXPECTED[current] for alias, current in DEPRECATED_ALIASES.items()})
OBSERVE.update({alias: OBSERVE[current] for alias, current in DEPRECATED_ALIASES.items()})


def cell(operation: str, role: str, expected):
    """One (route, role) cell; a cell marked xfail keeps its mark."""
    if isinstance(expected, ParameterSet):
        return pytest.param(operation, role, expected.values[0], marks=expected.marks, id=f"{operation} {role}")
    return pytest.param(operation, role, expected, id=f"{operation} {role}")


CELLS = [cell(operation, role, expected[role]) for operation, expected in EXPECTED.items() for role in ROLES]


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
        response = gateway.request(
            method, fill(path, {}), headers=cast.headers[role], json={} if method in ("POST", "PUT", "PATCH") else None
        )
        if response.status_code != 401 or response.headers["content-type"] != "application/problem+json":
            wrong[f"{method} {path}"] = response.status_code
        elif "Traceback" in response.text or not any(
            w in response.json()["detail"] for w in ("not valid", "expired", "Bearer")
        ):
            wrong[f"{method} {path}"] = "detail"
    assert wrong == {}


def test_the_matrix_has_a_row_for_every_public_operation(operations):
    assert sorted(EXPECTED) == sorted(f"{method} {path}" for method, path in operations)


@pytest.fixture(scope="module")
def matrix(gateway: httpx.Client, cast: Cast, ids: dict[str, str]) -> Matrix:
    return Matrix(gateway, cast, ids)


def send(
    gateway: httpx.Client, cast: Cast, matrix: Matrix, operations, operation: str, role: str, setup
) -> httpx.Response:
    """The cell's request: a setup's fresh record and valid body, or (reads) the shared records."""
    method, template = operation.split(" ", 1)
    headers = dict(cast.headers[role])
    values, body = matrix.ids, None
    if setup is not None:
        own, body = setup(matrix, role)
        values = {**matrix.ids, **own}
        if role == "rep_of_record" and values["employee_id"] != cast.rep_id:
            # The setup made a fresh rep of the rep's team: the rep of record is them.
            headers = auth(employee=values["employee_id"], org_unit=cast.team, roles=("rep",))
    elif method == "PATCH":
        body = {}  # every field optional: a no-op update, so every role meets the same record
    elif method == "DELETE":
        headers["If-Match"] = '"matrix-stale"'  # refused after the visibility check, so the record stays
    else:
        assert not operations[(method, template)], f"{operation} takes a body: give it a setup in matrix_support.WRITES"
    params = QUERY[operation](cast, matrix.ids) if operation in QUERY else None
    return gateway.request(method, fill_ids(method, template, values), headers=headers, json=body, params=params)


def observed(operation: str, response: httpx.Response, ids: dict[str, str]) -> Any:
    assert "Traceback" not in response.text
    return OBSERVE[operation](response, ids) if operation in OBSERVE else response.status_code


@pytest.mark.parametrize(("operation", "role", "expected"), CELLS)
def test_each_role_gets_what_the_visibility_rule_promises(gateway, cast, matrix, operations, operation, role, expected):
    response = send(gateway, cast, matrix, operations, operation, role, WRITES.get(operation))
    assert observed(operation, response, matrix.ids) == expected, response.text


def test_every_operation_with_a_body_has_a_setup(operations):
    """No write (nor batch read) is left probing with a body nobody accepts."""
    missing = [
        f"{m} {p}" for (m, p), has_body in operations.items() if has_body and m != "PATCH" and f"{m} {p}" not in WRITES
    ]
    assert missing == []


# Creating in the rep's team (or organisation, or about the rep's records) from
# outside it. One role per row succeeds, which shows the body is valid; the
# others may not reach there.
REACH: dict[str, dict[str, Any]] = {
    "POST /api/v1/opportunities": {
        "rep_of_record": 201,
        "other_rep": 403,
        "manager_elsewhere": 403,
        "other_org_admin": 403,
    },
    "POST /api/v1/opportunities:bulk-upsert": {
        "rep_of_record": 200,
        "other_rep": REFUSED,
        "manager_elsewhere": REFUSED,
        "other_org_admin": REFUSED,
    },
    "POST /api/v1/accounts": {"rep_of_record": 201, "other_rep": 403, "manager_elsewhere": 403, "other_org_admin": 403},
    "POST /api/v1/accounts:bulk-upsert": {
        "manager_above": 200,
        "manager_elsewhere": REFUSED,
        "other_org_admin": REFUSED,
    },
    # A unit or organisation of another organisation is no unit its admin may see (issue 16): 422.
    "POST /api/v1/employees": {"org_admin": 201, "other_org_admin": 422},
    "POST /api/v1/employees:bulk-upsert": {"org_admin": 200, "other_org_admin": REFUSED},
    "POST /api/v1/org-units": {"org_admin": 201, "other_org_admin": 422},
    "POST /api/v1/org-units:bulk-upsert": {"org_admin": 200, "other_org_admin": REFUSED},
    "POST /api/v1/api-keys": {"org_admin": 201, "other_org_admin": 403},
    "POST /api/v1/stage-policies": {"org_admin": 201, "other_org_admin": 422},
    "PUT /api/v1/accounts/segmentation-policy": {"org_admin": 200, "other_org_admin": 403},
    # About the rep's deal: one the caller may not see is unknown to them.
    "POST /api/v1/support-requests": {
        "rep_of_record": 201,
        "other_rep": 422,
        "manager_elsewhere": 422,
        "other_org_admin": 422,
    },
    # A fresh rep of the rep's team, put in the pool in the caller's own unit.
    # The member's unit is the lifecycle service's, whatever unit the body names.
    "PUT /api/v1/support-requests/pool/{employee_id}": {
        "manager_above": 200,
        "manager_elsewhere": 404,
        "other_org_admin": 404,
    },
}
REACH_CELLS = [
    cell(operation, role, expected) for operation, roles in REACH.items() for role, expected in roles.items()
]


@pytest.mark.parametrize(("operation", "role", "expected"), REACH_CELLS)
def test_no_role_creates_outside_its_reach(gateway, cast, matrix, operations, operation, role, expected):
    response = send(gateway, cast, matrix, operations, operation, role, REACH_SETUPS[operation])
    assert observed(operation, response, matrix.ids) == expected, response.text


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


def test_an_employee_import_without_managers_is_not_a_server_error(gateway, cast):
    response = gateway.post(
        "/api/v1/employees:bulk-upsert",
        headers=cast.headers["org_admin"],
        json={"items": employee_rows(cast.team, with_manager=False)},
    )
    assert response.status_code == 200, response.text


# The cross-plan work lists must agree with the plan's visibility too.
WORK_LISTS = [("action_id", "/api/v1/plan-actions"), ("item_id", "/api/v1/incubation-items")]


@pytest.mark.parametrize(("record", "path"), WORK_LISTS, ids=[p for _, p in WORK_LISTS])
def test_work_lists_show_the_plans_work_exactly_to_those_who_may_see_it(gateway, cast, ids, record, path):
    observed = {}
    for role in ROLES:
        response = gateway.get(path, params={"account_id": ids["account_id"]}, headers=cast.headers[role])
        if response.status_code != 200:
            observed[role] = response.status_code
        else:
            observed[role] = 200 if ids[record] in {i["id"] for i in response.json()["items"]} else 404
    assert observed == {role: SEES[role] for role in ROLES}
