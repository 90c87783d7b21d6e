"""The real system for the gateway's end-to-end tests: `sanlun up` (the lead's
`tests/e2e/system.py`) on a database whose gateway schema is migrated too,
with principals for every role and records owned by one rep."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

from tests.e2e.system import RunningSystem, free_base_port, start_sanlun_up, stop, wait_until_up
from tests.gateway.conftest import migrate_gateway
from tests.support import auth, ensure_org_unit_sync

# Fuzzing and the matrix send hundreds of requests per principal in seconds,
# and the matrix hundreds of refused credentials from this one address (the
# failed-authentication limit itself: tests/gateway/test_edge_security.py).
SYSTEM_ENV = {
    "SANLUN_GATEWAY_RATE_LIMIT_PER_SECOND": "100000",
    "SANLUN_GATEWAY_RATE_LIMIT_BURST": "100000",
    "SANLUN_GATEWAY_AUTH_FAILURE_LIMIT": "100000",
}


@contextmanager
def running_system(database_url: str, env: dict[str, str] | None = None) -> Iterator[RunningSystem]:
    migrate_gateway(database_url)
    extra = {**SYSTEM_ENV, **(env or {})}
    saved = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)  # start_sanlun_up passes os.environ on to the children
    try:
        system = start_sanlun_up(database_url, free_base_port())
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    try:
        wait_until_up(system)
        yield system
    finally:
        stop(system)


@dataclass
class Cast:
    """Everyone the authorization matrix asks, and what the rep owns."""

    org: str
    team: str
    other_team: str
    other_org: str
    rep_id: str
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    records: dict[str, str] = field(default_factory=dict)


def new_cast(gateway: httpx.Client) -> Cast:
    tag = uuid.uuid4().hex[:6]
    org, other_org = f"/group/org{tag}", f"/group/far{tag}"
    team, other_team = f"{org}/team-1", f"{org}/team-2"
    group_admin = auth(org_unit="/group", roles=("group_admin",))
    # Every unit of the cast exists: employees live only in existing units (issue 16).
    # External ids as the matrix's `_org_unit` gives them (tests/e2e/matrix_support.py).
    for unit in (team, other_team, other_org):
        ensure_org_unit_sync(gateway, unit, headers=group_admin, external_prefix="matrix")
    employee = gateway.post(
        "/api/v1/employees",
        headers=group_admin,
        json={
            "name": "Rep of the record",
            "email": f"rep-{tag}@example.com",
            "org_unit_path": team,
        },
    )
    assert employee.status_code == 201, employee.text
    rep_id = employee.json()["id"]
    cast = Cast(org=org, team=team, other_team=other_team, other_org=other_org, rep_id=rep_id)
    key = gateway.post("/api/v1/api-keys", headers=group_admin, json={"name": f"matrix {tag}", "org_unit_path": org})
    assert key.status_code == 201, key.text
    cast.headers = {
        "rep_of_record": auth(employee=rep_id, org_unit=team, roles=("rep",)),
        "other_rep": auth(org_unit=other_team, roles=("rep",)),
        "manager_above": auth(org_unit=org, roles=("manager",)),
        "manager_elsewhere": auth(org_unit=other_team, roles=("manager",)),
        "org_admin": auth(org_unit=org, roles=("org_admin",)),
        "other_org_admin": auth(org_unit=other_org, roles=("org_admin",)),
        "group_admin": group_admin,
        "integrator_key": {"X-API-Key": key.json()["key"]},
        "no_token": {},
        "expired_token": auth(employee=rep_id, org_unit=team, ttl=-120),
        "wrong_key": auth(employee=rep_id, org_unit=team, secret="not-the-secret-of-this-system-0123456789"),
    }
    cast.records["api_key"] = key.json()["id"]
    cast.records["employee"] = rep_id
    rep = cast.headers["rep_of_record"]
    for name, path, body in (
        (
            "opportunity",
            "/api/v1/opportunities",
            {"name": f"Matrix deal {tag}", "amount": {"amount": "1000.00", "currency": "CNY"}},
        ),
        ("account", "/api/v1/accounts", {"name": f"Matrix account {tag}", "industry": "retail"}),
        (
            "resource",
            "/api/v1/resources",
            {"type": "reference_case", "title": f"Matrix case {tag}", "scope": "private"},
        ),
    ):
        created = gateway.post(path, headers=rep, json=body)
        assert created.status_code == 201, created.text
        cast.records[name] = created.json()["id"]
    return cast
