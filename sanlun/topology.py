"""Which processes make up Sanlun, where they listen and what they own.

Process wiring only (names, ports, schemas, app factories, public prefixes):
the CLI, the gateway and the tests read it from here instead of repeating it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    port: int
    package: str
    prefixes: tuple[str, ...]

    @property
    def schema(self) -> str:
        return self.name

    @property
    def app_factory(self) -> str:
        return f"{self.package}.app:create_app"

    @property
    def migrations_dir(self) -> Path:
        module = importlib.import_module(self.package)
        # __path__, not __file__: a stale editable install can import a
        # package as a namespace package, which has no __file__.
        return Path(next(iter(module.__path__))) / "migrations"

    @property
    def env_prefix(self) -> str:
        return f"SANLUN_{self.name.upper()}_"

    def create_app(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        module = importlib.import_module(f"{self.package}.app")
        return module.create_app(*args, **kwargs)


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        "opportunity",
        8001,
        "services.opportunity",
        ("/api/v1/opportunities", "/api/v1/solutions", "/api/v1/assignments"),
    ),
    ServiceSpec(
        "employee_lifecycle",
        8002,
        "services.employee_lifecycle",
        ("/api/v1/employees", "/api/v1/org-units", "/api/v1/stage-policies"),
    ),
    ServiceSpec(
        "key_account",
        8003,
        "services.key_account",
        (
            "/api/v1/accounts",
            "/api/v1/account-plans",
            "/api/v1/plan-actions",
            "/api/v1/incubation-items",
            "/api/v1/relationship-gaps",
        ),
    ),
    ServiceSpec(
        "resource_share",
        8004,
        "services.resource_share",
        ("/api/v1/resources", "/api/v1/resource-requests", "/api/v1/support-requests", "/api/v1/introductions"),
    ),
)
GATEWAY_PORT = 8000
# The gateway owns a schema too (API keys, rate-limit buckets); it serves no
# domain prefix of its own besides /api/v1/me and /api/v1/api-keys.
GATEWAY = ServiceSpec("gateway", GATEWAY_PORT, "gateway", ())
# Every process with a schema and an Alembic history, migrated by `sanlun migrate`.
SCHEMA_OWNERS: tuple[ServiceSpec, ...] = (*SERVICES, GATEWAY)
BY_NAME = {s.name: s for s in SERVICES}

# Who receives which events (fnmatch patterns), the one place this is decided.
# Override per deployment with SANLUN_SUBSCRIPTIONS='{"opportunity": ["employee.*"]}'.
SUBSCRIPTIONS: dict[str, tuple[str, ...]] = {
    # signals come from the other services' facts
    "employee_lifecycle": (
        "opportunity.*",
        "account.coverage_changed",
        "resource.used",
        "introduction.completed",
        "support_request.fulfilled",
    ),
    # the assignment node keeps a local view of the sales people and their stages
    "opportunity": ("employee.*",),
    # coverage continuity, incubation lineage and implicit sharing (owners and teams of deals)
    "key_account": ("opportunity.*",),
    # the support desk tilts by stage; influence counts wins resources contributed to
    "resource_share": ("employee.*", "opportunity.won"),
}
