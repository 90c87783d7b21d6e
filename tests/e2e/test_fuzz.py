"""schemathesis against the running gateway, as a rep with a valid token.

Bounded and seeded (a few examples per operation, derandomised) so it stays
quick. Checks: no 5xx, every answer matches the declared schema and media
type, and nothing of another organisation's rep ever shows up (canary
records created before the run carry a unique marker in their names).

schemathesis' explicit phase, as used here, does not send the schemas'
examples; `test_every_request_body_example_is_served` does: each request-body
example of each public operation, as a rep, a manager, an org admin and a
group admin of one fresh organisation (the examples' org unit paths are moved
into it, so nothing they write reaches another organisation or the group)."""

from __future__ import annotations

import copy
import os
import re
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from tests.e2e.system import RunningSystem
from tests.support import auth, ensure_org_unit_sync

pytestmark = pytest.mark.e2e

CANARY = f"CANARY{uuid.uuid4().hex[:10]}"
FUZZER = auth(org_unit=f"/group/fuzz{uuid.uuid4().hex[:6]}/team-1", roles=("rep",))
# A few per operation keeps the run well under a minute; raise it for a deeper local hunt.
EXAMPLES_PER_OPERATION = int(os.environ.get("SANLUN_FUZZ_EXAMPLES", "3"))


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


def public_spec() -> dict[str, Any]:
    # The spec the gateway serves is this one (tests/gateway/test_openapi_merge.py);
    # built in-process so the operations are known when tests are collected.
    from gateway.openapi_merge import merged_openapi

    spec = merged_openapi()
    spec["paths"] = {p: item for p, item in spec["paths"].items() if p.startswith("/api/v1/")}
    return spec


def public_operations(spec: dict[str, Any]) -> dict[str, schemathesis.APIOperation]:
    operations = (result.ok() for result in schemathesis.openapi.from_dict(copy.deepcopy(spec)).get_all_operations())
    return {op.label: op for op in operations}


PUBLIC_SPEC = public_spec()
OPERATIONS = public_operations(PUBLIC_SPEC)


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_the_public_api_holds_under_fuzzing(system, canaries, label):
    base_url = system.url("gateway")
    statuses: list[int] = []

    @given(case=OPERATIONS[label].as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    def fuzz(case: schemathesis.Case) -> None:
        # The spec offers an API key as the alternative credential: keep this run on the rep's token.
        for name in [h for h in (case.headers or {}) if h.lower() in ("x-api-key", "authorization")]:
            del case.headers[name]
        response = case.call_and_validate(
            base_url=base_url,
            headers=FUZZER,
            timeout=15,
            checks=[not_a_server_error, response_schema_conformance, content_type_conformance, no_canary],
        )
        statuses.append(response.status_code)

    fuzz()
    # The fuzzer really reached the gateway, authenticated (never a 401 with a valid token).
    assert statuses and 401 not in statuses, statuses


# -- every request-body example, sent as it is documented -----------------------

EXAMPLE_ORG = f"/group/ex{uuid.uuid4().hex[:8]}"
EXAMPLE_ROLES = ("rep", "manager", "org_admin", "group_admin")
HTTP_METHODS = ("get", "put", "post", "delete", "patch")
SCHEMA_REF = "#/components/schemas/"
SPEC_URI = "urn:sanlun:public-openapi"


# Answers to the examples that the spec does not document, each with why. The
# test fails when one no longer happens: then drop it from here.
# (method, path, status) answered but not documented, with why; empty while the spec tells the truth.
KNOWN_UNDOCUMENTED: dict[tuple[str, str, int], str] = {}


def body_examples(spec: dict[str, Any]) -> list[tuple[str, str, str, Any]]:
    """(method, path template, where the example comes from, example) for every
    request-body example of every operation, in a fixed order: the media
    type's own examples, else its schema's (a component's `examples`; for an
    array of components, each item example as a one-item array)."""
    found = []
    schemas = spec["components"]["schemas"]
    for path, item in sorted(spec["paths"].items()):
        for method in HTTP_METHODS:
            media = item.get(method, {}).get("requestBody", {}).get("content", {}).get("application/json")
            if media is None:
                continue
            examples: list[tuple[str, Any]] = []
            if "example" in media:
                examples.append(("media example", media["example"]))
            examples += [
                (f"media examples.{n}", e["value"])
                for n, e in sorted((media.get("examples") or {}).items())
                if "value" in e
            ]
            schema = media.get("schema", {})
            if not examples and "$ref" in schema:
                name = schema["$ref"].removeprefix(SCHEMA_REF)
                examples = [(f"{name} example {i}", e) for i, e in enumerate(schemas[name].get("examples") or [])]
            elif not examples and schema.get("type") == "array" and "$ref" in schema.get("items", {}):
                name = schema["items"]["$ref"].removeprefix(SCHEMA_REF)
                examples = [(f"[{name}] example {i}", [e]) for i, e in enumerate(schemas[name].get("examples") or [])]
            found += [(method, path, where, example) for where, example in examples]
    return found


BODY_EXAMPLES = body_examples(PUBLIC_SPEC)


def confined(value: Any) -> Any:
    """The example with its org unit paths moved into EXAMPLE_ORG (`/group/east/team-3`
    -> `<EXAMPLE_ORG>/team-3`, `/group` -> `<EXAMPLE_ORG>`): a group admin sending
    `{"org_path": "/group/east", ...}` must not set another organisation's policy."""
    if isinstance(value, dict):
        return {k: confined(v) for k, v in value.items()}
    if isinstance(value, list):
        return [confined(v) for v in value]
    if isinstance(value, str) and (value == "/group" or value.startswith("/group/")):
        return "/".join([EXAMPLE_ORG, *value.split("/")[3:]])
    return value


def _created(response: httpx.Response) -> str:
    assert response.status_code == 201, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()["id"]


@pytest.fixture(scope="module")
def example_cast(system: RunningSystem) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """The four roles' headers, and real records (owned by the rep) for the path ids
    it is cheap to have, so that many examples reach a 2xx; other ids are fresh (404)."""
    team = f"{EXAMPLE_ORG}/team-1"
    group_admin = auth(org_unit=EXAMPLE_ORG, roles=("group_admin",))
    with httpx.Client(base_url=system.url("gateway"), timeout=15) as gateway:
        ensure_org_unit_sync(gateway, team)  # employees live only in existing units (issue 16)
        rep_id = _created(
            gateway.post(
                "/api/v1/employees",
                headers=group_admin,
                json={
                    "name": "Example rep",
                    "email": f"example-{uuid.uuid4().hex[:10]}@example.com",
                    "org_unit_path": team,
                },
            )
        )
        headers = {
            "rep": auth(employee=rep_id, org_unit=team, roles=("rep",)),
            "manager": auth(org_unit=EXAMPLE_ORG, roles=("manager",)),
            "org_admin": auth(org_unit=EXAMPLE_ORG, roles=("org_admin",)),
            "group_admin": group_admin,
        }
        rep = headers["rep"]
        account = _created(gateway.post("/api/v1/accounts", headers=rep, json={"name": f"Example account {rep_id}"}))
        plan = _created(
            gateway.post(
                "/api/v1/account-plans",
                headers=rep,
                json={"account_id": account, "period": "2026", "starts_on": "2026-01-01", "ends_on": "2026-12-31"},
            )
        )
        ids = {
            "employee_id": rep_id,
            "account_id": account,
            "plan_id": plan,
            "period": "2026-Q1",
            "contact_id": _created(
                gateway.post(f"/api/v1/accounts/{account}/contacts", headers=rep, json={"name": "Example contact"})
            ),
            "action_id": _created(
                gateway.post(f"/api/v1/account-plans/{plan}/actions", headers=rep, json={"title": "Example action"})
            ),
            "item_id": _created(
                gateway.post(
                    f"/api/v1/account-plans/{plan}/incubation-items", headers=rep, json={"title": "Example item"}
                )
            ),
            "opportunity_id": _created(
                gateway.post("/api/v1/opportunities", headers=rep, json={"name": f"Example deal {rep_id}"})
            ),
            "resource_id": _created(
                gateway.post(
                    "/api/v1/resources",
                    headers=rep,
                    json={"type": "reference_case", "title": f"Example case {rep_id}", "scope": "organization"},
                )
            ),
            "solution_id": _created(
                gateway.post(
                    "/api/v1/solutions", headers=headers["org_admin"], json={"name": f"Example solution {rep_id}"}
                )
            ),
        }
    return headers, ids


def _path_value(name: str, parameter: dict[str, Any], ids: dict[str, str]) -> str:
    if name in ids:
        return ids[name]
    schema = parameter.get("schema", {})
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    raise AssertionError(f"no value for path parameter {name} ({schema}): add one to example_cast")


def _documented(statuses: dict[str, Any], status: int) -> str | None:
    """The documented response key that covers `status`."""
    for key in (str(status), f"{str(status)[0]}XX", "default"):
        if key in statuses:
            return key
    return None


def _pointer_token(key: str) -> str:
    # A JSON pointer token, percent-encoded for a URI fragment (`{plan_id}`).
    return quote(key.replace("~", "~0").replace("/", "~1"), safe="~")


def test_every_request_body_example_is_served(system, example_cast):
    """Every documented request-body example, sent as each role to the running
    system: never a 5xx or a traceback, always a documented status, and a 2xx
    JSON answer matches the documented schema (JSON Schema 2020-12, formats
    checked, the whole spec as the registry)."""
    headers, ids = example_cast
    assert len(BODY_EXAMPLES) >= 60, len(BODY_EXAMPLES)
    registry = jsonschema_rs.Registry([(SPEC_URI, PUBLIC_SPEC)], draft=jsonschema_rs.Draft202012)
    failures: list[str] = []
    outcomes: dict[tuple[str, str, str, str], int] = {}
    seen_known: set[tuple[str, str, int]] = set()
    with httpx.Client(base_url=system.url("gateway"), timeout=15) as gateway:
        for method, template, where, example in BODY_EXAMPLES:
            operation = PUBLIC_SPEC["paths"][template][method]
            parameters = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "path"}
            if required := [
                p["name"] for p in operation.get("parameters", []) if p["in"] != "path" and p.get("required")
            ]:
                failures.append(f"{method.upper()} {template}: fill its required parameters {required} here")
                continue
            path = re.sub(
                r"\{(\w+)\}", lambda m, given=parameters: _path_value(m.group(1), given[m.group(1)], ids), template
            )
            for role in EXAMPLE_ROLES:
                label = f"{method.upper()} {template} ({where}) as {role}"
                response = gateway.request(method, path, json=confined(example), headers=headers[role])
                outcomes[(method, template, where, role)] = response.status_code
                status, text = response.status_code, response.text
                key = _documented(operation["responses"], status)
                if status >= 500 or "Traceback" in text:
                    failures.append(f"{label}: {status} {text[:300]}")
                elif key is None and (method, template, status) in KNOWN_UNDOCUMENTED:
                    seen_known.add((method, template, status))
                elif key is None:
                    failures.append(
                        f"{label}: {status} is not documented ({sorted(operation['responses'])}) {text[:300]}"
                    )
                elif 200 <= status < 300 and "application/json" in operation["responses"][key].get("content", {}):
                    if not response.headers.get("content-type", "").startswith("application/json"):
                        failures.append(f"{label}: {status} answered {response.headers.get('content-type')}")
                        continue
                    pointer = (
                        f"#/paths/{_pointer_token(template)}/{method}/responses/{key}/content/application~1json/schema"
                    )
                    validator = jsonschema_rs.Draft202012Validator(
                        {"$ref": SPEC_URI + pointer}, registry=registry, validate_formats=True
                    )
                    errors = [
                        f"{'/'.join(map(str, e.instance_path)) or '<root>'}: {e.message}"
                        for e in validator.iter_errors(response.json())
                    ]
                    if errors:
                        failures.append(f"{label}: {status} does not match its schema: " + "; ".join(errors[:5]))
    # The tokens are valid: a 401 would mean the run never reached the services.
    assert 401 not in outcomes.values(), sorted(k for k, v in outcomes.items() if v == 401)
    # With real ids for the cheap path parameters, a good share of the examples is accepted.
    accepted = sum(200 <= status < 300 for status in outcomes.values())
    assert accepted >= len(outcomes) // 4, f"only {accepted} of {len(outcomes)} example requests were accepted"
    assert not failures, f"{len(failures)} of {len(outcomes)} example requests failed:\n" + "\n".join(failures)
    assert seen_known == set(KNOWN_UNDOCUMENTED), (
        f"fixed? drop from KNOWN_UNDOCUMENTED: {set(KNOWN_UNDOCUMENTED) - seen_known}"
    )
