"""The proxy's route table: which public prefix goes to which service.

The prefixes come from `sanlun.topology` (the one place they are decided), the
base URLs from settings. Only `/api/v1/...` prefixes are accepted, so nothing
(in particular `/internal/*`) can be routed by mistake.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sanlun.kernel.settings import ServiceSettings
from sanlun.topology import SERVICES, ServiceSpec

PUBLIC_BASE = "/api/v1/"


@dataclass(frozen=True, slots=True)
class Upstream:
    service: str
    prefix: str
    scheme: str
    host: str
    port: int

    @property
    def path(self) -> str:
        # Read by RequestContextMiddleware as the metrics `route` label: one
        # series per prefix instead of one per record id.
        return self.prefix


class RouteTable:
    def __init__(self, upstreams: list[Upstream]) -> None:
        for u in upstreams:
            if not u.prefix.startswith(PUBLIC_BASE) or u.prefix.endswith("/"):
                raise ValueError(f"{u.service}: {u.prefix!r} is not a public /api/v1/<name> prefix")
        # Longest first, so a nested prefix would win over its parent.
        self._upstreams = sorted(upstreams, key=lambda u: len(u.prefix), reverse=True)

    @classmethod
    def from_settings(cls, settings: ServiceSettings, services: tuple[ServiceSpec, ...] = SERVICES) -> RouteTable:
        upstreams = []
        for spec in services:
            url = settings.service_url(spec.name)
            if not url:
                raise ValueError(f"no URL setting for service {spec.name}")
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{spec.name}: {url!r} is not an http(s) URL")
            port = parts.port or (443 if parts.scheme == "https" else 80)
            upstreams += [Upstream(spec.name, p, parts.scheme, parts.hostname, port) for p in spec.prefixes]
        return cls(upstreams)

    def match(self, path: str) -> Upstream | None:
        if not path.startswith(PUBLIC_BASE):
            return None
        for u in self._upstreams:
            # `/api/v1/employees`, `/api/v1/employees/...` and custom methods such
            # as `/api/v1/employees:bulk-upsert`, but not `/api/v1/employeesX`.
            if path.startswith(u.prefix) and (len(path) == len(u.prefix) or path[len(u.prefix)] in "/:"):
                return u
        return None
