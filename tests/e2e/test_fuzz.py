"""schemathesis against the running gateway, as a rep with a valid token.

Bounded and seeded (a few examples per operation, derandomised) so it stays
quick. Checks: no 5xx, every answer matches the declared schema and media
type, and nothing of another organisation's rep ever shows up (canary
records created before the run carry a unique marker in their names)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from tests.e2e.system import RunningSystem
from tests.gateway.system import running_system
from tests.support import auth

pytestmark = pytest.mark.e2e

CANARY = f"CANARY{uuid.uuid4().hex[:10]}"
FUZZER = auth(org_unit=f"/group/fuzz{uuid.uuid4().hex[:6]}/team-1", roles=("rep",))
# A few per operation keeps the run well under a minute; raise it for a deeper local hunt.
EXAMPLES_PER_OPERATION = int(os.environ.get("SANLUN_FUZZ_EXAMPLES", "3"))


@pytest.fixture(scope="module")
def system(committed_database_url: str) -> Iterator[RunningSystem]:
    with running_system(committed_database_url) as running:
        yield running


@pytest.fixture(scope="module")
def canaries(system: RunningSystem) -> None:
    gateway = system.url("gateway")
    owner = auth(org_unit=f"/group/canary{uuid.uuid4().hex[:6]}/team-1", roles=("rep",))
    for path, body in (
        ("/api/v1/opportunities", {"name": f"{CANARY} deal", "amount": {"amount": "10.00", "currency": "CNY"}}),
        ("/api/v1/accounts", {"name": f"{CANARY} account", "industry": "retail"}),
        ("/api/v1/resources", {"type": "reference_case", "title": f"{CANARY} case", "scope": "private"}),
    ):
        assert httpx.post(gateway + path, json=body, headers=owner, timeout=10).status_code == 201


def no_canary(ctx, response, case) -> None:
    """Another organisation's private records must never reach the fuzzer."""
    if CANARY in response.text:
        raise AssertionError(f"{case.method} {case.formatted_path} leaked another principal's record")


def public_operations() -> dict[str, schemathesis.APIOperation]:
    # The spec the gateway serves is this one (tests/gateway/test_openapi_merge.py);
    # built in-process so the operations are known when tests are collected.
    from gateway.openapi_merge import merged_openapi

    spec = merged_openapi()
    spec["paths"] = {p: item for p, item in spec["paths"].items() if p.startswith("/api/v1/")}
    operations = (result.ok() for result in schemathesis.openapi.from_dict(spec).get_all_operations())
    return {op.label: op for op in operations}


OPERATIONS = public_operations()


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_the_public_api_holds_under_fuzzing(system, canaries, label):
    base_url = system.url("gateway")
    statuses: list[int] = []

    @given(case=OPERATIONS[label].as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION, derandomize=True, deadline=None, database=None,
        suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate],
    )
    def fuzz(case: schemathesis.Case) -> None:
        # The spec offers an API key as the alternative credential: keep this run on the rep's token.
        for name in [h for h in (case.headers or {}) if h.lower() in ("x-api-key", "authorization")]:
            del case.headers[name]
        response = case.call_and_validate(
            base_url=base_url, headers=FUZZER, timeout=15,
            checks=[not_a_server_error, response_schema_conformance, content_type_conformance, no_canary],
        )
        statuses.append(response.status_code)

    fuzz()
    # The fuzzer really reached the gateway, authenticated (never a 401 with a valid token).
    assert statuses and 401 not in statuses, statuses
