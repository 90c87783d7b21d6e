"""A Python client generated from the gateway's `/openapi.json` with
openapi-python-client, used end to end against the running system."""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.system import RunningSystem
from tests.support import token

pytestmark = pytest.mark.e2e

PACKAGE = "sanlun_client"


@pytest.fixture(scope="module")
def client_package(system: RunningSystem, tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("client")
    spec = work / "openapi.json"
    spec.write_bytes(httpx.get(system.url("gateway") + "/openapi.json", timeout=30).content)
    config = work / "config.yaml"
    config.write_text(f"post_hooks: []\nproject_name_override: sanlun-client\npackage_name_override: {PACKAGE}\n")
    generator = Path(sys.executable).parent / "openapi-python-client"
    result = subprocess.run(
        [str(generator), "generate", "--path", str(spec), "--config", str(config), "--output-path", str(work / "out")],
        capture_output=True,
        text=True,
        check=False,  # the test reads the exit status
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # Every schema and operation must make it into the client.
    assert "Warning" not in output and "Unable" not in output, output
    sys.path.insert(0, str(work / "out"))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(work / "out"))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


@pytest.fixture
def clients(client_package):
    """`clients(token=...)` or `clients(headers=...)`: generated clients, closed after the test."""
    made = []

    def make(**kwargs):
        cls = client_package.AuthenticatedClient if "token" in kwargs else client_package.Client
        client = cls(**kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.get_httpx_client().close()


def api(name: str):
    return importlib.import_module(f"{PACKAGE}.api.{name}")


def models():
    return importlib.import_module(f"{PACKAGE}.models")


def test_a_rep_creates_reads_and_lists_an_opportunity(system, clients):
    rep_id = uuid.uuid4()
    client = clients(
        base_url=system.url("gateway"), token=token(employee=rep_id, org_unit="/group/east/gen", roles=("rep",))
    )
    m = models()
    opportunities = "opportunities."
    create = api(opportunities + "opportunities_create_opportunity")
    created = create.sync_detailed(
        client=client,
        body=m.OpportunityCreate(
            name="Generated client deal",
            amount=m.Money(amount="1234.50", currency="CNY"),
        ),
    )
    assert created.status_code == 201, created.content
    deal = created.parsed
    assert isinstance(deal, m.OpportunityRead)
    assert deal.amount.amount == "1234.50" and deal.amount.currency == "CNY" and deal.owner_id == rep_id

    got = api(opportunities + "opportunities_get_opportunity").sync(client=client, opportunity_id=deal.id)
    assert isinstance(got, m.OpportunityRead) and got.name == "Generated client deal"
    page = api(opportunities + "opportunities_list_opportunities").sync(client=client, owner_id=rep_id)
    assert [o.id for o in page.items] == [deal.id]

    missing = api(opportunities + "opportunities_get_opportunity").sync_detailed(
        client=client, opportunity_id=uuid.uuid4()
    )
    assert missing.status_code == 404 and isinstance(missing.parsed, m.Problem) and missing.parsed.status == 404


def test_the_workspace_comes_back_as_a_typed_model(system, clients):
    client = clients(base_url=system.url("gateway"), token=token(org_unit="/group/east/gen"))
    workspace = api("workspace.workspace_get_workspace").sync(client=client)
    m = models()
    assert isinstance(workspace, m.Workspace)
    assert workspace.stage_used.value == "L1_SUBSISTENCE"
    sections = workspace.sections.additional_properties
    assert set(sections) == {"new_opportunities", "support_requests", "suggested_resources"}
    assert {s.status.value for s in sections.values()} == {"ok"}


def test_an_admin_creates_a_key_and_an_integrator_uses_it(system, clients):
    admin = clients(base_url=system.url("gateway"), token=token(org_unit="/group", roles=("group_admin",)))
    m = models()
    created = api("api_keys.api_keys_create_api_key").sync(
        client=admin,
        body=m.ApiKeyCreate(name="Generated client", org_unit_path="/group/east"),
    )
    assert isinstance(created, m.ApiKeyCreated) and created.key.startswith("snl_")
    integrator = clients(base_url=system.url("gateway"), headers={"X-API-Key": created.key})
    accounts = api("accounts.accounts_list_accounts").sync_detailed(client=integrator)
    assert accounts.status_code == 200 and isinstance(accounts.parsed, m.PageAccountRead)
    revoked = api("api_keys.api_keys_revoke_api_key").sync_detailed(client=admin, key_id=created.id)
    assert revoked.status_code == 204
    refused = api("accounts.accounts_list_accounts").sync_detailed(client=integrator)
    assert refused.status_code == 401


def test_the_generated_client_sets_idempotency_key_and_if_match(system, clients):
    """Through the client's own generated parameters (the spec declares the
    headers), not hand-written headers: a replayed POST and a refused stale write."""
    client = clients(base_url=system.url("gateway"), token=token(org_unit="/group/east/gen", roles=("rep",)))
    m = models()
    create = api("opportunities.opportunities_create_opportunity")
    body = m.OpportunityCreate(name="Idempotent deal", amount=m.Money(amount="10.00", currency="CNY"))
    key = f"gen-{uuid.uuid4().hex}"
    first = create.sync_detailed(client=client, body=body, idempotency_key=key)
    again = create.sync_detailed(client=client, body=body, idempotency_key=key)
    assert first.status_code == again.status_code == 201, again.content
    assert again.parsed.id == first.parsed.id
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    other = create.sync_detailed(client=client, body=m.OpportunityCreate(name="Another deal"), idempotency_key=key)
    assert other.status_code == 422 and other.parsed.code == "idempotency_key_reused"

    deal_id = first.parsed.id
    read = api("opportunities.opportunities_get_opportunity").sync_detailed(client=client, opportunity_id=deal_id)
    etag = read.headers["ETag"]
    update = api("opportunities.opportunities_update_opportunity")
    changed = update.sync_detailed(
        client=client, opportunity_id=deal_id, body=m.OpportunityUpdate(name="Renamed"), if_match=etag
    )
    assert changed.status_code == 200 and changed.parsed.name == "Renamed", changed.content
    assert changed.headers["ETag"] != etag
    stale = update.sync_detailed(
        client=client, opportunity_id=deal_id, body=m.OpportunityUpdate(name="Lost update"), if_match=etag
    )
    assert stale.status_code == 412 and isinstance(stale.parsed, m.Problem), stale.content
    assert stale.parsed.code == "precondition_failed"
    assert read.headers["X-Request-ID"] and stale.headers["X-Request-ID"]
