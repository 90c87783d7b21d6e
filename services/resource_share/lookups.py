"""What resource sharing asks the other services about a record a client
names: is this opportunity one the caller may see, where does this employee
work. Each call goes through the kernel's `Peers` with the caller's token (the
peer applies the caller's visibility) and fails closed: a peer that cannot
answer is a 502/504 naming it, never a silent yes.

A reference the caller may not see and one that does not exist answer alike
(issue 16), a 422 `unknown_reference` with the same message at the same `loc`:

    {"status": 422, "code": "unknown_reference",
     "detail": "The request names records that do not exist or that you may not see.",
     "errors": [{"loc": ["body", "opportunity_id"], "msg": "no opportunity with this id that you may see"}]}
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.errors import Unprocessable, UpstreamUnavailable
from sanlun.kernel.peers import PEER_ERRORS, Peers
from sanlun.kernel.references import unknown_reference
from services.resource_share.people import repository as people

MESSAGES = {
    "opportunity": "no opportunity with this id that you may see",
    "resource": "no resource with this id that you may see",
    "pool_member": "no support pool member with this id that you may see",
}


def unknown(kind: str, loc: list[Any]) -> Unprocessable:
    """The one answer for a reference not found, whether it does not exist or is hidden."""
    return unknown_reference([{"loc": loc, "msg": MESSAGES[kind]}])


async def check_opportunity(peers: Peers, opportunity_id: uuid.UUID | None, loc: list[Any]) -> None:
    """422 naming the field unless the caller may see the opportunity."""
    if opportunity_id is None:
        return
    response = await peers.get("opportunity", f"/api/v1/opportunities/{opportunity_id}")
    if response.status_code == 200:
        return
    if response.status_code in (403, 404):
        raise unknown("opportunity", loc)
    raise UpstreamUnavailable(
        f"The opportunity service answered {response.status_code}.",
        service="opportunity",
        upstream_status=response.status_code,
    )


async def employee_unit(peers: Peers, session: AsyncSession, employee_id: uuid.UUID) -> str | None:
    """The employee's org unit as the lifecycle service shows it to the
    caller (None: unknown, or not theirs to see). When the service cannot
    answer, the people view kept from `employee.*` events stands in."""
    try:
        response = await peers.get("employee_lifecycle", f"/api/v1/employees/{employee_id}")
    except PEER_ERRORS:
        person = await people.get(session, employee_id)
        return person.org_unit_path if person is not None and person.org_unit_path else None
    if response.status_code == 200:
        return str(response.json()["org_unit_path"])
    if response.status_code in (403, 404):
        return None
    raise UpstreamUnavailable(
        f"The employee lifecycle service answered {response.status_code}.",
        service="employee_lifecycle",
        upstream_status=response.status_code,
    )
