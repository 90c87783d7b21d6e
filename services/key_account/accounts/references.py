"""The records a request body names, checked against what the caller may see.

Issue 16: an id that does not exist and an id the caller may not see get the
same answer, a 422 `unknown_reference` with the same message at the same
`loc`, so a body is no oracle for other organisations' records, and nothing
naming a ghost is stored:

    {"status": 422, "code": "unknown_reference",
     "detail": "The request names records that do not exist or that you may not see.",
     "errors": [{"loc": ["body", "members", 0, "employee_id"],
                 "msg": "no employee with this id that you may see"}]}

Who says what the caller may see:

- **employees** (account owners, coverage members, relationship holders,
  guiding-team members, owners of plan actions, targets and incubation items):
  the employee lifecycle service, `POST /api/v1/employees/stages:batch-get`
  with the caller's own token, so its visibility applies (a rep sees
  themself, a manager their unit and below, an org admin or integrator their
  organisation, a group admin everyone; the ids it does not show, unknown or
  hidden alike, come back in `not_found`). One batched call per request (or
  per bulk batch), whatever the number of ids. The caller's own id is vouched
  for by their token and not asked about;
- **accounts** and **contacts**: this service's own tables, by the area that
  owns them (`Refs.local`), with the same rules as a read of them.

When the lifecycle service cannot answer, nothing is stored: the request fails
with the peer client's problem naming the service (502 `upstream_unavailable`,
504 `upstream_timeout`), never with an unchecked id written.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sanlun.kernel.auth import Principal
from sanlun.kernel.errors import Unprocessable
from sanlun.kernel.peers import Peers
from sanlun.kernel.references import hidden_employees, unknown_reference

MESSAGES = {
    "employee": "no employee with this id that you may see",
    "account": "no account with this id that you may see",
    "contact": "no contact of this account with this id that you may see",
}
Loc = Sequence[str | int]


@dataclass(frozen=True, slots=True)
class Ref:
    kind: str  # a key of MESSAGES
    id: uuid.UUID
    loc: tuple[str | int, ...]

    def error(self) -> dict[str, Any]:
        return {"loc": list(self.loc), "msg": MESSAGES[self.kind]}


@dataclass(slots=True)
class Refs:
    """The references of one request (or one bulk batch), collected before one check."""

    # In the order given; a local reference carries whether its area found it (None: an employee).
    items: list[tuple[Ref, bool | None]] = field(default_factory=list)

    def employee(self, employee_id: uuid.UUID | None, loc: Loc) -> None:
        if employee_id is not None:
            self.items.append((Ref("employee", employee_id, tuple(loc)), None))

    def local(self, kind: str, record_id: uuid.UUID, loc: Loc, *, seen: bool) -> None:
        """A reference its own area has already looked up, with the caller's visibility."""
        self.items.append((Ref(kind, record_id, tuple(loc)), seen))

    async def unseen(self, *, principal: Principal, peers: Peers) -> list[Ref]:
        """Every reference the caller may not see (or that does not exist), in the order given."""
        own = principal.employee_id
        asked = list(dict.fromkeys(r.id for r, seen in self.items if seen is None and r.id != own))
        hidden = await hidden_employees(peers, asked)
        return [r for r, seen in self.items if seen is False or (seen is None and r.id in hidden)]

    async def check(self, *, principal: Principal, peers: Peers) -> None:
        """422 `unknown_reference` naming every reference the caller may not see."""
        if missing := await self.unseen(principal=principal, peers=peers):
            raise problem(missing)


def problem(unseen: Iterable[Ref]) -> Unprocessable:
    """The one answer for references not found, whether they do not exist or are hidden."""
    return unknown_reference(r.error() for r in unseen)
