"""What resource sharing asks the other services about a record a client
names: is this opportunity one the caller may see, where does this employee
work. Each call forwards the caller's token (the peer applies the caller's
visibility), has a timeout, and fails closed: a peer that cannot answer is
a 502/504 naming it, never a silent yes."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.context import outbound_headers
from sanlun.kernel.errors import Unprocessable, UpstreamTimeout, UpstreamUnavailable
from services.resource_share.people import repository as people


class Peers:
    def __init__(self, request: Request) -> None:
        self._settings = request.app.state.settings
        self._http: httpx.AsyncClient = request.app.state.http
        self._headers = {**outbound_headers(), "Authorization": request.headers.get("authorization", "")}

    async def _get(self, service: str, path: str) -> httpx.Response:
        url = self._settings.service_url(service).rstrip("/") + path
        try:
            return await self._http.get(url, headers=self._headers, timeout=self._settings.http_timeout_seconds)
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(f"The {service} service did not answer in time; try again.", service=service) from exc
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"The {service} service could not be reached; try again.", service=service) from exc

    async def check_opportunity(self, opportunity_id: uuid.UUID | None, loc: list[Any]) -> None:
        """422 naming the field unless the caller may see the opportunity."""
        if opportunity_id is None:
            return
        response = await self._get("opportunity", f"/api/v1/opportunities/{opportunity_id}")
        if response.status_code == 200:
            return
        if response.status_code in (403, 404):
            raise Unprocessable("The opportunity is not one you may see.",
                                errors=[{"loc": loc, "msg": "no opportunity you may see has this id"}])
        raise UpstreamUnavailable(f"The opportunity service answered {response.status_code}.", service="opportunity",
                                  upstream_status=response.status_code)

    async def employee_unit(self, session: AsyncSession, employee_id: uuid.UUID) -> str | None:
        """The employee's org unit as the lifecycle service shows it to the
        caller (None: unknown, or not theirs to see). When the service cannot
        answer, the people view kept from `employee.*` events stands in."""
        try:
            response = await self._get("employee_lifecycle", f"/api/v1/employees/{employee_id}")
        except (UpstreamTimeout, UpstreamUnavailable):
            person = await people.get(session, employee_id)
            return person.org_unit_path if person is not None and person.org_unit_path else None
        if response.status_code == 200:
            return str(response.json()["org_unit_path"])
        if response.status_code in (403, 404):
            return None
        raise UpstreamUnavailable(f"The employee lifecycle service answered {response.status_code}.",
                                  service="employee_lifecycle", upstream_status=response.status_code)


async def peers(request: Request) -> Peers:
    return Peers(request)


PeersDep = Annotated[Peers, Depends(peers)]
