"""The records a request body names, checked against what the caller may see.

Issue 16: an id that does not exist and an id the caller may not see get the
same answer (a 422 with the same message at the same `loc`), so a body is no
oracle for other organisations' records, and nothing naming a ghost is stored.

Who says what the caller may see:

- **employees** (owners, team members, plan action owners, assignment
  targets): the employee lifecycle service, through
  `POST /api/v1/employees/stages:batch-get` with the caller's own token, so
  its visibility applies (a rep sees themself, a manager their unit and below,
  an org admin or integrator their organisation, a group admin everyone). One
  batched call per request, whatever the number of rows. The caller's own id
  is vouched for by their token and not asked about. The local view of sales
  people (kept from events) is not asked: it lags behind the lifecycle service
  (an import names employees created a moment before) and would make a second
  rule of visibility;
- **accounts**: the key account service, `POST /api/v1/accounts:batch-get`
  with the caller's token, so its implicit sharing applies too; one call per
  1000 ids (a key account service without that route, 404 or 405, is asked
  `GET /api/v1/accounts/{id}` per id, as before it had one);
- their **contacts** (a plan's key players): `GET /api/v1/accounts/{id}/contacts/{id}`,
  one call per distinct id, at most `PEER_CONCURRENCY` at once, each within
  the peer client's timeout;
- **solutions**: this service's catalogues (one query): a deal names only
  solutions its organisation may use, its organisation's and the group's
  (`solutions.repository.catalogues` of the deal's org unit); another
  organisation's is as unknown as one that does not exist.

When a peer cannot answer, nothing is stored: the request fails with the peer
client's problem naming the service (502 `upstream_unavailable`, 504
`upstream_timeout`), never with an unchecked id written.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal
from sanlun.kernel.errors import Unprocessable, UpstreamUnavailable
from sanlun.kernel.peers import Peers, gather_limited, ok_json
from sanlun.kernel.references import hidden_by_batch_read, hidden_employees, unknown_reference
from services.opportunity.solutions import repository as solutions_repository
from services.opportunity.solutions.repository import catalogues

ACCOUNTS_SERVICE = "key_account"
ACCOUNTS_BATCH_PATH = "/api/v1/accounts:batch-get"
PEER_CONCURRENCY = 8

MESSAGES = {
    "employee": "no employee with this id that you may see",
    "account": "no account with this id that you may see",
    "contact": "no contact of the opportunity's account with this id that you may see",
    "solution": "no solution with this id in the deal's organisation's catalogue or the group's",
}
Loc = list[str | int]


@dataclass(frozen=True, slots=True)
class Ref:
    kind: str  # a key of MESSAGES
    id: uuid.UUID
    loc: tuple[str | int, ...]
    # A contact is looked up under its account; None: there is no account to find it under.
    account_id: uuid.UUID | None = None
    # A solution is looked up in the catalogues of the deal's org unit.
    org_unit_path: str | None = None

    def error(self) -> dict[str, Any]:
        return {"loc": list(self.loc), "msg": MESSAGES[self.kind]}


@dataclass(slots=True)
class Refs:
    """The references of one request (or one bulk batch), collected before one check."""

    items: list[Ref] = field(default_factory=list)

    def employee(self, employee_id: uuid.UUID | None, loc: Iterable[str | int]) -> None:
        if employee_id is not None:
            self.items.append(Ref("employee", employee_id, tuple(loc)))

    def account(self, account_id: uuid.UUID | None, loc: Iterable[str | int]) -> None:
        if account_id is not None:
            self.items.append(Ref("account", account_id, tuple(loc)))

    def contact(self, contact_id: uuid.UUID, account_id: uuid.UUID | None, loc: Iterable[str | int]) -> None:
        self.items.append(Ref("contact", contact_id, tuple(loc), account_id))

    def solutions(self, solution_ids: Iterable[uuid.UUID], loc: Iterable[str | int], *, org_unit_path: str) -> None:
        """The solutions a deal in `org_unit_path` names (at `loc`, one index each)."""
        base = tuple(loc)
        self.items += [Ref("solution", s, (*base, i), org_unit_path=org_unit_path) for i, s in enumerate(solution_ids)]


def problem(unseen: list[Ref]) -> Unprocessable:
    """The one answer for references not found, whether they do not exist or are hidden."""
    return unknown_reference(r.error() for r in unseen)


async def unseen(*, session: AsyncSession, principal: Principal, peers: Peers, refs: Refs) -> list[Ref]:
    """The references the caller may not see (or that do not exist), in the order given."""
    if not refs.items:
        return []
    own = principal.employee_id
    employees = list(dict.fromkeys(r.id for r in refs.items if r.kind == "employee" and r.id != own))
    accounts = list(dict.fromkeys(r.id for r in refs.items if r.kind == "account"))
    contacts = list(
        dict.fromkeys((r.account_id, r.id) for r in refs.items if r.kind == "contact" and r.account_id is not None)
    )
    solutions = list(dict.fromkeys(r.id for r in refs.items if r.kind == "solution"))
    # The database first (one session, one statement at a time), then both peers at once.
    catalogue_of = await solutions_repository.catalogues_of(session, solutions)
    hidden_people, hidden_accounts, hidden_contacts = await asyncio.gather(
        hidden_employees(peers, employees), _hidden_accounts(peers, accounts), _hidden_contacts(peers, contacts)
    )

    def seen(r: Ref) -> bool:
        match r.kind:
            case "employee":
                return r.id == own or r.id not in hidden_people
            case "account":
                return r.id not in hidden_accounts
            case "contact":
                return r.account_id is not None and (r.account_id, r.id) not in hidden_contacts
            case "solution":
                return r.org_unit_path is not None and catalogue_of.get(r.id) in catalogues(r.org_unit_path)
        raise ValueError(f"unknown reference kind {r.kind}")

    return [r for r in refs.items if not seen(r)]


async def check(*, session: AsyncSession, principal: Principal, peers: Peers, refs: Refs) -> None:
    """422 `unknown_reference` naming every reference the caller may not see."""
    if missing := await unseen(session=session, principal=principal, peers=peers, refs=refs):
        raise problem(missing)


async def _visible(peers: Peers, path: str) -> bool:
    response = await peers.get(ACCOUNTS_SERVICE, path)
    if response.status_code == 404:
        return False
    ok_json(ACCOUNTS_SERVICE, response)  # anything but 2xx or 404: a 502 naming the service
    return True


async def _hidden_accounts(peers: Peers, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    if not ids:
        return set()
    try:
        return await hidden_by_batch_read(
            peers, ACCOUNTS_SERVICE, ACCOUNTS_BATCH_PATH, ids, field="account_ids", id_key="id", label="key account"
        )
    except UpstreamUnavailable as exc:
        if exc.extensions.get("upstream_status") not in (404, 405):
            raise
    # A key account service older than its batch read: one read per id.
    shown = await gather_limited(ids, lambda a: _visible(peers, f"/api/v1/accounts/{a}"), concurrency=PEER_CONCURRENCY)
    return {a for a, ok in zip(ids, shown, strict=True) if not ok}


async def _hidden_contacts(
    peers: Peers, pairs: list[tuple[uuid.UUID | None, uuid.UUID]]
) -> set[tuple[uuid.UUID | None, uuid.UUID]]:
    shown = await gather_limited(
        pairs,
        lambda p: _visible(peers, f"/api/v1/accounts/{p[0]}/contacts/{p[1]}"),
        concurrency=PEER_CONCURRENCY,
    )
    return {p for p, ok in zip(pairs, shown, strict=True) if not ok}
