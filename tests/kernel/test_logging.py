"""Every line a Sanlun process writes is JSON: the app's lines and uvicorn's own,
also those before the app starts (the process started as `sanlun up` starts it)."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import uuid

import httpx
import pytest
import yaml

from sanlun.kernel import logging as sanlun_logging
from sanlun.supervisor import ProcessSpec, Supervisor
from sanlun.topology import BY_NAME
from tests.support import TEST_SECRET, TEST_SERVICE_SECRET, auth


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "SANLUN_DATABASE_URL": database_url,
        "SANLUN_JWT_SECRET": TEST_SECRET,
        "SANLUN_SERVICE_SECRET": TEST_SERVICE_SECRET,
        "SANLUN_ENVIRONMENT": "test",
    }


def child_lines(out: io.StringIO, name: str) -> list[str]:
    """The child's own lines, without the supervisor's `name | ` prefix (padded to a column)."""
    lines = [line.split(" | ", 1) for line in out.getvalue().splitlines()]
    return [parts[1] for parts in lines if len(parts) == 2 and parts[0].rstrip() == name]


def parse_all(lines: list[str]) -> list[dict]:
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON line: {line!r}\nall lines:\n" + "\n".join(lines))
    return records


def test_the_log_config_is_a_json_dict_config():
    config = yaml.safe_load(sanlun_logging.UVICORN_LOG_CONFIG.read_text())
    assert config["formatters"]["json"]["()"] == "sanlun.kernel.logging.json_formatter"
    assert config["disable_existing_loggers"] is False
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        assert config["loggers"][name]["handlers"] == []  # uvicorn's plain handlers are gone


def test_a_stdlib_record_renders_as_one_json_line_with_the_service(monkeypatch):
    monkeypatch.setattr(sanlun_logging, "_service", None)
    sanlun_logging.name_process("opportunity")
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, "Started server process [%d]", (42,), None)
    line = sanlun_logging.json_formatter().format(record)
    assert json.loads(line) | {"timestamp": None} == {
        "event": "Started server process [42]",
        "service": "opportunity",
        "level": "info",
        "logger": "uvicorn.error",
        "request_id": None,
        "principal": None,
        "timestamp": None,
    }


@pytest.mark.e2e
def test_every_line_of_a_running_service_is_json(committed_database_url: str):
    name = "opportunity"
    out = io.StringIO()
    supervisor = Supervisor(
        [ProcessSpec(name, BY_NAME[name].app_factory, free_port())],
        host="127.0.0.1",
        env=child_env(committed_database_url),
        out=out,
        grace_seconds=5,
    )
    supervisor.start()
    try:
        supervisor.wait_ready(timeout=60)
        port = supervisor.specs[0].port
        rep = auth(employee=uuid.uuid4(), org_unit="/group/east/team-1", roles=("rep",))
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            assert client.get("/api/v1/opportunities", headers=rep).status_code == 200
            assert client.get("/api/v1/opportunities").status_code == 401
            assert client.get("/no-such-route", headers=rep).status_code == 404
    finally:
        supervisor.stop()
    records = parse_all(child_lines(out, name))
    events = [r["event"] for r in records]
    # uvicorn's lines from before the app started, and from its shutdown
    assert any(e.startswith("Started server process") for e in events), events
    assert "Waiting for application startup." in events
    assert any(e.startswith("Uvicorn running on") for e in events), events
    assert "Application shutdown complete." in events
    assert all(r.get("service") == name for r in records), [r for r in records if r.get("service") != name]


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("factory", "message"),
    [
        ("services.opportunity.app:no_such_factory", "Error loading ASGI app"),  # uvicorn's own error line
        ("services.no_such_service.app:create_app", "the process could not start"),  # what escapes uvicorn
    ],
)
def test_an_app_that_cannot_load_still_logs_json(factory: str, message: str):
    """These lines come before any app code runs."""
    out = io.StringIO()
    supervisor = Supervisor(
        [ProcessSpec("broken", factory, free_port())],
        host="127.0.0.1",
        env=child_env("postgresql://unused@127.0.0.1:1/none"),
        out=out,
    )
    supervisor.start()
    try:
        assert supervisor.children[0].process.wait(timeout=30) != 0
        assert supervisor.children[0].reader is not None
        supervisor.children[0].reader.join(timeout=5)
    finally:
        supervisor.stop()
    records = parse_all(child_lines(out, "broken"))
    assert any(message in r["event"] and r["level"] == "error" for r in records), records
    assert all(r["service"] == "broken" for r in records)
