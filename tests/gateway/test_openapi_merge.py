import pytest

from gateway.openapi_merge import merge_specs, merged_openapi

BEARER = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
SECURITY = [{"bearerAuth": []}, {"apiKeyAuth": []}]


def new_spec(paths: dict, schemas: dict | None = None) -> dict:
    return {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": paths, "components": {"schemas": schemas or {}}}


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


async def test_gateway_serves_the_merged_spec_and_swagger_ui(start_gateway, spec):
    gw = await start_gateway()
    served = (await gw.get("/openapi.json")).json()
    assert served["paths"].keys() == spec["paths"].keys()
    assert served["components"]["securitySchemes"]["bearerAuth"] == BEARER
    docs = await gw.get("/docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text and "/openapi.json" in docs.text


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
