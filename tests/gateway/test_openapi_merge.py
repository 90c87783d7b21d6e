import re

import httpx
import pytest

from gateway.docs import PACKAGED_SPEC
from gateway.openapi_merge import merge_specs, merged_openapi

BEARER = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
SECURITY = [{"bearerAuth": []}, {"apiKeyAuth": []}]


def new_spec(paths: dict, schemas: dict | None = None) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": paths,
        "components": {"schemas": schemas or {}},
    }


def new_operation(op_id: str, ref: str | None = None) -> dict:
    op: dict = {"operationId": op_id, "responses": {"200": {"description": "ok"}}}
    if ref:
        op["responses"]["200"]["content"] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}
    return op


def all_refs(node) -> set[str]:
    if isinstance(node, dict):
        own = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return own.union(*(all_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(all_refs(v) for v in node))
    return set()


@pytest.fixture(scope="module")
def spec() -> dict:
    return merged_openapi()


def test_merged_spec_has_the_public_paths_of_the_services(spec):
    get_employee = spec["paths"]["/api/v1/employees/{employee_id}"]["get"]
    assert get_employee["operationId"] == "employees-get-employee"
    assert get_employee["security"] == SECURITY
    assert spec["paths"]["/api/v1/employees"]["post"]["operationId"] == "employees-create-employee"
    assert spec["components"]["securitySchemes"]["bearerAuth"] == BEARER
    assert spec["components"]["securitySchemes"]["apiKeyAuth"]["name"] == "X-API-Key"
    assert spec["info"]["title"] == "Sanlun CRM API"


def test_merged_spec_keeps_only_public_paths_and_the_gateways_own(spec):
    non_public = sorted(p for p in spec["paths"] if not p.startswith("/api/v1/"))
    assert non_public == ["/health", "/health/live", "/health/ready", "/metrics"]
    for path in ("/api/v1/api-keys", "/api/v1/api-keys/{key_id}", "/api/v1/me/workspace"):
        assert path in spec["paths"], path
    assert spec["paths"]["/health"]["get"]["operationId"] == "operations-system-health"
    assert "security" not in spec["paths"]["/health"]["get"]


def test_merged_spec_references_resolve_and_unused_schemas_are_dropped(spec):
    schemas = spec["components"]["schemas"]
    refs = all_refs(spec["paths"]) | all_refs(schemas)
    assert {r.removeprefix("#/components/schemas/") for r in refs} <= set(schemas)
    assert {"EmployeeRead", "Problem", "SystemHealth"} <= set(schemas)
    # Only the services' /ops routes use these; /ops is not public.
    assert "OutboxEntry" not in schemas


def test_same_schema_twice_is_kept_once_and_a_clash_is_prefixed():
    gateway = new_spec({})
    money = {"type": "object", "properties": {"amount": {"type": "string"}}}
    other_money = {"type": "object", "properties": {"cents": {"type": "integer"}}}
    deal = {"type": "object", "properties": {"value": {"$ref": "#/components/schemas/Money"}}}
    first = new_spec({"/api/v1/a": {"get": new_operation("a-get", "Deal")}}, {"Money": money, "Deal": deal})
    second = new_spec(
        {"/api/v1/b": {"get": new_operation("b-get", "Deal")}, "/health/ready": {"get": new_operation("ready")}},
        {"Money": other_money, "Deal": deal},
    )
    third = new_spec({"/api/v1/c": {"get": new_operation("c-get", "Money")}}, {"Money": money})
    merged = merge_specs(gateway, [("first", first), ("key_account", second), ("third", third)])
    schemas = merged["components"]["schemas"]
    assert schemas["Money"] == money and schemas["KeyAccountMoney"] == other_money
    # Deal is textually equal but means another Money in key_account, so it is prefixed too.
    assert schemas["KeyAccountDeal"]["properties"]["value"] == {"$ref": "#/components/schemas/KeyAccountMoney"}
    b_schema = merged["paths"]["/api/v1/b"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert b_schema == {"$ref": "#/components/schemas/KeyAccountDeal"}
    assert sorted(schemas) == ["Deal", "KeyAccountDeal", "KeyAccountMoney", "Money"]
    assert "/health/ready" not in merged["paths"]


def test_two_services_claiming_one_path_or_operation_id_raise():
    gateway = new_spec({})
    a = new_spec({"/api/v1/x": {"get": new_operation("x-get")}})
    with pytest.raises(ValueError, match="/api/v1/x is served by both a and b"):
        merge_specs(gateway, [("a", a), ("b", a)])
    b = new_spec({"/api/v1/y": {"get": new_operation("x-get")}})
    with pytest.raises(ValueError, match="operationId x-get is used by both a and b"):
        merge_specs(gateway, [("a", a), ("b", b)])


async def test_gateway_serves_the_exported_spec_as_shipped(start_gateway, spec):
    gw = await start_gateway()
    served = await gw.get("/openapi.json")
    assert served.status_code == 200 and served.headers["content-type"] == "application/json"
    # The packaged copy `sanlun openapi export` wrote (drift-checked by tests/test_cli.py), byte for byte.
    assert served.content == PACKAGED_SPEC.read_bytes()
    assert served.json() == spec
    assert served.json()["components"]["securitySchemes"]["bearerAuth"] == BEARER


def test_the_gateway_never_builds_the_spec_at_run_time(monkeypatch):
    import gateway.openapi_merge
    from gateway.app import create_app
    from gateway.settings import Settings

    def forbidden() -> None:
        raise AssertionError("the gateway built its OpenAPI at run time")

    monkeypatch.setattr(gateway.openapi_merge, "merged_openapi", forbidden)
    app = create_app(Settings(environment="development"))
    assert app.openapi()["info"]["title"] == "Sanlun CRM API"


async def test_a_missing_packaged_spec_is_a_clear_error(tmp_path):
    from fastapi import FastAPI

    from gateway.docs import PackagedSpec, install_docs
    from sanlun.kernel.errors import install_problem_handlers

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    install_problem_handlers(app)
    install_docs(app, PackagedSpec(tmp_path / "openapi.json"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gw") as client:
        answer = await client.get("/openapi.json")
    assert answer.status_code == 500 and answer.json()["code"] == "openapi_missing"
    assert "sanlun openapi export" in answer.json()["detail"]


LOCAL_ASSET = re.compile(r"""(?:src|href)=["']?([^"'\s>]+)""")
REMOTE = re.compile(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", re.IGNORECASE)


@pytest.mark.parametrize(
    ("page", "kind", "assets"),
    [
        (
            "/docs",
            "SwaggerUIBundle",
            {"swagger-ui-bundle.js": "javascript", "swagger-ui.css": "text/css", "favicon.png": "image/png"},
        ),
        ("/redoc", "<redoc", {"redoc.standalone.js": "javascript", "favicon.png": "image/png"}),
    ],
)
async def test_docs_pages_load_only_assets_the_gateway_serves(start_gateway, page, kind, assets):
    gw = await start_gateway()
    html = await gw.get(page)
    assert html.status_code == 200 and kind in html.text and "/openapi.json" in html.text
    # Offline: nothing from a CDN (or Google Fonts); every asset is a path on the gateway.
    assert not REMOTE.search(html.text), REMOTE.search(html.text)
    urls = LOCAL_ASSET.findall(html.text)
    assert {u.rsplit("/", 1)[-1] for u in urls} == set(assets), urls
    for url in urls:
        assert url.startswith("/docs/assets/"), url
        asset = await gw.get(url)
        assert asset.status_code == 200, url
        assert assets[url.rsplit("/", 1)[-1]] in asset.headers["content-type"], (url, asset.headers["content-type"])
        assert len(asset.content) > 1000, url


def test_every_public_operation_documents_what_the_edge_may_answer(spec):
    for path, item in spec["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in item.items():
            responses = operation["responses"]
            assert {"401", "429", "502", "503", "504"} <= set(responses), (method, path)
            assert "Retry-After" in responses["429"]["headers"]
            ok = [r for status, r in responses.items() if status.startswith("2")]
            assert ok and all("RateLimit-Remaining" in r["headers"] for r in ok), (method, path)
    assert spec["components"]["schemas"]["Problem"]["examples"][0]["status"] == 404
    assert spec["paths"]["/api/v1/api-keys"]["post"]["operationId"] == "api-keys-create-api-key"
    assert spec["paths"]["/api/v1/me/workspace"]["get"]["operationId"] == "workspace-get-workspace"


def declared(operation: dict) -> tuple[set[str], set[str]]:
    """(header parameters, headers of the 2xx answers) of an operation."""
    params = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
    ok = [r for status, r in operation["responses"].items() if status.startswith("2")]
    return params, set.intersection(*(set(r.get("headers", {})) for r in ok))


def test_the_spec_declares_the_headers_the_api_lives_by(spec):
    ops = spec["paths"]
    params, answers = declared(ops["/api/v1/opportunities"]["post"])
    assert {"Idempotency-Key", "X-Request-ID"} <= params
    assert {"Idempotent-Replayed", "ETag", "X-Request-ID", "RateLimit-Remaining"} <= answers
    assert "idempotency_key_reused" in ops["/api/v1/opportunities"]["post"]["responses"]["422"]["description"]
    params, answers = declared(ops["/api/v1/opportunities/{opportunity_id}"]["get"])
    assert params == {"X-Request-ID"} and {"ETag", "X-Request-ID"} <= answers
    for method in ("patch",):
        params, answers = declared(ops["/api/v1/opportunities/{opportunity_id}"][method])
        assert "If-Match" in params and "ETag" in answers
        assert "412" in ops["/api/v1/opportunities/{opportunity_id}"][method]["responses"]
    # The gateway's own routes too (API keys are transactional; revoking one honours If-Match).
    assert "Idempotency-Key" in declared(ops["/api/v1/api-keys"]["post"])[0]
    assert "If-Match" in declared(ops["/api/v1/api-keys/{key_id}"]["delete"])[0]
    # A list has no ETag; a read is not idempotency-keyed.
    params, answers = declared(ops["/api/v1/opportunities"]["get"])
    assert "ETag" not in answers and "Idempotency-Key" not in params
    assert "Retry-After" in ops["/api/v1/opportunities"]["get"]["responses"]["503"]["headers"]


def test_every_answer_declares_its_request_id_and_cors_exposes_every_response_header(spec):
    from gateway.app import CORS_EXPOSED

    response_headers: set[str] = set()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            assert "X-Request-ID" in declared(operation)[0], (method, path)
            for status, response in operation["responses"].items():
                assert "X-Request-ID" in response["headers"], (method, path, status)
                response_headers |= set(response["headers"])
    assert response_headers <= set(CORS_EXPOSED)
    assert {"Idempotent-Replayed", "ETag", "Retry-After", "RateLimit-Reset"} <= response_headers
