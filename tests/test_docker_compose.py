"""docker-compose.yml and deploy/postgres/init.sql, checked without Docker.

The compose file is read as data against `sanlun.topology`; init.sql is run
for real (through psql, as the postgres image would) inside a transaction
that is rolled back, and each role's rights are read back from Postgres.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import uuid

import pytest
import yaml

from sanlun.kernel.logging import UVICORN_LOG_CONFIG
from sanlun.topology import GATEWAY_PORT, SCHEMA_OWNERS, SERVICES
from tests.support import ROOT, admin_url_for_tests, create_database, drop_database, with_database

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
INIT_SQL = ROOT / "deploy" / "postgres" / "init.sql"
ROLES = [s.name for s in SERVICES] + ["gateway"]
# Process name -> (compose service, port, app factory)
PROCESSES = {
    "gateway": ("gateway", GATEWAY_PORT, "gateway.app:create_app"),
    **{s.name: (s.name.replace("_", "-"), s.port, s.app_factory) for s in SERVICES},
}


def compose_service(process: str) -> dict:
    return COMPOSE["services"][PROCESSES[process][0]]


def test_every_process_plus_postgres_and_migrate_is_defined():
    expected = {"postgres", "migrate", *(name for name, _, _ in PROCESSES.values())}
    assert set(COMPOSE["services"]) == expected


@pytest.mark.parametrize("process", PROCESSES)
def test_process_runs_its_factory_on_its_port(process):
    _, port, factory = PROCESSES[process]
    service = compose_service(process)
    assert service["build"] == "."
    command = service["command"]
    assert command[:3] == ["uvicorn", "--factory", factory]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert command[command.index("--port") + 1] == str(port)
    # uvicorn's own lines as JSON too: the config the image copies out of the package
    log_config = command[command.index("--log-config") + 1]
    assert log_config == "/etc/sanlun/" + UVICORN_LOG_CONFIG.name
    assert "/etc/sanlun/" in (ROOT / "Dockerfile").read_text()
    # No `Server: uvicorn` banner; X-Forwarded-For only from the gateway's trusted proxies.
    assert "--no-server-header" in command
    assert "--no-proxy-headers" in command


@pytest.mark.parametrize("process", PROCESSES)
def test_process_connects_as_its_own_role(process):
    env = compose_service(process)["environment"]
    url = env[f"SANLUN_{process.upper()}_DATABASE_URL"]
    assert re.fullmatch(
        rf"postgresql://{process}:\$\{{SANLUN_{process.upper()}_DB_PASSWORD:\?set it\}}@postgres:5432/sanlun", url
    )
    # No shared URL that would let it fall back to another role.
    assert "SANLUN_DATABASE_URL" not in env
    assert not [k for k in env if k.endswith("_DATABASE_URL") and k != f"SANLUN_{process.upper()}_DATABASE_URL"]


@pytest.mark.parametrize("process", PROCESSES)
def test_process_runs_in_production_with_a_required_secret_and_finds_its_peers(process):
    env = compose_service(process)["environment"]
    assert env["SANLUN_ENVIRONMENT"] == "production"
    assert env["SANLUN_JWT_SECRET"] == "${SANLUN_JWT_SECRET:?set it}"
    # production refuses the placeholder service secret: compose must pass one
    assert env["SANLUN_SERVICE_SECRET"] == "${SANLUN_SERVICE_SECRET:?set it}"
    for peer, (host, port, _) in PROCESSES.items():
        assert env[f"SANLUN_{peer.upper()}_URL"] == f"http://{host}:{port}"


@pytest.mark.parametrize("process", PROCESSES)
def test_process_healthcheck_asks_its_own_readiness(process):
    _, port, _ = PROCESSES[process]
    check = compose_service(process)["healthcheck"]
    assert check["test"][:3] == ["CMD", "python", "-c"]
    assert f"urllib.request.urlopen('http://127.0.0.1:{port}/health/ready'" in check["test"][3]
    assert check["interval"] and check["retries"] >= 3


@pytest.mark.parametrize("process", [s.name for s in SERVICES])
def test_services_wait_for_postgres_and_migrations(process):
    assert compose_service(process)["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }


def test_gateway_waits_for_the_four_services_and_alone_is_published():
    gateway = compose_service("gateway")
    assert gateway["depends_on"] == {PROCESSES[s.name][0]: {"condition": "service_healthy"} for s in SERVICES}
    assert gateway["ports"] == [f"{GATEWAY_PORT}:{GATEWAY_PORT}"]
    published = [name for name, svc in COMPOSE["services"].items() if "ports" in svc]
    assert published == ["gateway"]


@pytest.mark.parametrize("name", sorted(set(COMPOSE["services"]) - {"gateway"}))
def test_the_services_and_postgres_are_reachable_on_the_compose_network_only(name):
    """A service reached directly skips the gateway's rate limits and its
    failed-authentication limit (issue 16): nothing but the gateway is published."""
    service = COMPOSE["services"][name]
    assert "ports" not in service
    assert service.get("network_mode") is None  # `host` would expose every port it listens on
    assert "networks" not in service  # the default network only, which publishes nothing by itself


def test_the_metrics_scrape_token_is_passed_through_and_documented():
    for process in PROCESSES:
        assert compose_service(process)["environment"]["SANLUN_METRICS_TOKEN"] == "${SANLUN_METRICS_TOKEN:-}"
    assert re.search(r"^SANLUN_METRICS_TOKEN=$", (ROOT / "deploy" / "compose.env.example").read_text(), re.MULTILINE)


def test_migrate_runs_once_with_each_services_own_role():
    migrate = COMPOSE["services"]["migrate"]
    assert migrate["command"] == ["sanlun", "migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    urls = {k: v for k, v in migrate["environment"].items() if k.endswith("_DATABASE_URL")}
    assert urls == {
        f"SANLUN_{s.name.upper()}_DATABASE_URL": compose_service(s.name)["environment"][
            f"SANLUN_{s.name.upper()}_DATABASE_URL"
        ]
        for s in SCHEMA_OWNERS
    }


def test_postgres_runs_init_sql_and_is_healthy_only_on_tcp():
    postgres = COMPOSE["services"]["postgres"]
    assert postgres["image"] == "postgres:16"
    assert postgres["environment"]["POSTGRES_DB"] == "sanlun"
    assert "./deploy/postgres/init.sql:/docker-entrypoint-initdb.d/10-sanlun-roles.sql:ro" in postgres["volumes"]
    assert postgres["healthcheck"]["test"][:4] == ["CMD", "pg_isready", "-h", "127.0.0.1"]
    for role in ROLES:
        assert (
            postgres["environment"][f"SANLUN_{role.upper()}_DB_PASSWORD"]
            == f"${{SANLUN_{role.upper()}_DB_PASSWORD:?set it}}"
        )
        assert f"\\getenv {role}_password SANLUN_{role.upper()}_DB_PASSWORD" in INIT_SQL.read_text()


def test_dockerfile_installs_the_project():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^RUN pip install \. ", dockerfile, re.MULTILINE)
    assert "USER sanlun" in dockerfile


def _psql_major() -> int:
    psql = shutil.which("psql")
    if not psql:
        return 0
    match = re.search(r"(\d+)", subprocess.run([psql, "--version"], capture_output=True, text=True, check=False).stdout)
    return int(match.group(1)) if match else 0


@pytest.mark.skipif(_psql_major() < 15, reason="needs psql 15+ (\\getenv), as in the postgres:16 image")
def test_init_sql_gives_each_role_only_its_own_schema():
    admin_url = admin_url_for_tests()
    name = f"sanlun_init_{uuid.uuid4().hex[:10]}"
    asyncio.run(create_database(admin_url, name))
    pairs = ", ".join(f"('{r}', '{s}')" for r in ROLES for s in [*ROLES, "public"])
    checks = f"""
        SELECT r, s, has_schema_privilege(r, s, 'USAGE'), has_schema_privilege(r, s, 'CREATE'),
               (SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = s)
        FROM (VALUES {pairs}) AS p(r, s) ORDER BY r, s;
    """
    # What `sanlun migrate` does first as each role must work.
    own_schema = "".join(
        f"SET ROLE {r}; SELECT to_regnamespace('{r}') IS NOT NULL; CREATE TABLE {r}.probe (id int); RESET ROLE;\n"
        for r in ROLES
    )
    script = (
        f"BEGIN;\n{INIT_SQL.read_text()}\n{own_schema}"
        f"\\pset format unaligned\\pset tuples_only on\n{checks}\nROLLBACK;\n"
    )
    env = {f"SANLUN_{r.upper()}_DB_PASSWORD": f"pw-{r}" for r in ROLES}
    try:
        result = subprocess.run(
            [shutil.which("psql") or "psql", "-X", "-v", "ON_ERROR_STOP=1", "-q", with_database(admin_url, name)],
            input=script,
            capture_output=True,
            text=True,
            check=False,  # the test reads the exit status
            env={**os.environ, **env},
            timeout=60,
        )
    finally:
        asyncio.run(drop_database(admin_url, name))
    assert result.returncode == 0, result.stderr
    rows = [line.split("|") for line in result.stdout.split() if "|" in line]
    assert len(rows) == len(ROLES) * (len(ROLES) + 1)
    for role, schema, usage, create, owner in rows:
        mine = role == schema
        assert (usage, create) == (("t", "t") if mine else ("f", "f")), (role, schema)
        if schema != "public":
            assert owner == schema
