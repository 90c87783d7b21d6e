"""Every environment variable a process or command reads is in the README's
configuration table, spelt out in full."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from gateway.settings import Settings as GatewaySettings
from sanlun.kernel.settings import ServiceSettings
from sanlun.topology import SERVICES

ROOT = Path(__file__).resolve().parents[1]
# Set by `sanlun up` itself (--host, --base-port): the fields exist but nothing reads them.
NOT_READ = {"host", "port"}


def configuration_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Configuration")
    return text[start : text.index("\n## ", start + 1)]


def settings_classes() -> list[tuple[str, type[BaseSettings]]]:
    import importlib

    out: list[tuple[str, type[BaseSettings]]] = [("gateway", GatewaySettings)]
    for spec in SERVICES:
        out.append((spec.name, importlib.import_module(f"{spec.package}.settings").Settings))
    return out


def variables() -> list[str]:
    names = {f"SANLUN_{field.upper()}" for field in ServiceSettings.model_fields if field not in NOT_READ}
    for _, cls in settings_classes():
        prefix = cls.model_config["env_prefix"]
        names |= {
            f"{prefix}{field.upper()}"
            for field in cls.model_fields
            if field not in ServiceSettings.model_fields and field not in NOT_READ
        }
    # What the commands read straight from the environment.
    for path in (ROOT / "sanlun").rglob("*.py"):
        names |= set(re.findall(r"""environ(?:\.get)?[\(\[]\s*["'](SANLUN_[A-Z_]+)["']""", path.read_text()))
    names |= {f"SANLUN_RESTART_{n}" for n in ("INITIAL_DELAY", "MAX_DELAY", "RESET_AFTER", "MAX_FAILURES")}
    return sorted(names)


@pytest.mark.parametrize("name", variables())
def test_the_variable_is_in_the_configuration_table(name: str):
    assert f"`{name}`" in configuration_section()


def test_the_commands_variables_are_found():
    assert {"SANLUN_HOME", "SANLUN_URL", "SANLUN_TOKEN"} <= set(variables())
    assert {"SANLUN_GATEWAY_CORS_ORIGINS", "SANLUN_GATEWAY_CORS_MAX_AGE_SECONDS"} <= set(variables())
