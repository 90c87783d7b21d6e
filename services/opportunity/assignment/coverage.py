"""Coverage teams of the deals' accounts, from the key account service.

The assignment node also asks the employee lifecycle service for stages and
capacity (`sanlun.kernel.peer_stages`, which falls back to the local view kept
from `employee.stage_changed`). Both go through the kernel's `Peers` (the
caller's token and request id, a timeout). Neither failure stops an
assignment: stages fall back to the local view (and the answer says so),
coverage falls back to no continuity (and the answer says so).
"""

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from sanlun.kernel.peers import PEER_ERRORS, Peers, gather_limited, ok_json


@dataclass(slots=True)
class Coverage:
    members: dict[str, set[str]]
    source: str  # "live" | "partial" | "unavailable" | "none"
    checked: int = 0
    failed: int = 0
    skipped: int = 0
    note: str | None = None
    # The account's Who tier (ESP+), from the same answer: a deal of a strategic account is strategic.
    tiers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CoverageLimits:
    """Coverage asks once per account: past `max_accounts` in a batch the rest
    score no continuity (and the answer says so); at most `concurrency` at once."""

    max_accounts: int = 200
    concurrency: int = 10


async def _coverage_limits(request: Request) -> CoverageLimits:
    settings = request.app.state.settings
    return CoverageLimits(settings.coverage_max_accounts, settings.coverage_concurrency)


CoverageLimitsDep = Annotated[CoverageLimits, Depends(_coverage_limits)]


async def coverage(peers: Peers, account_ids: list[uuid.UUID], limits: CoverageLimits, *, today: dt.date) -> Coverage:
    """Current members as of `today` (the business clock's)."""
    if not account_ids:
        return Coverage({}, "none")
    asked, skipped = account_ids[: limits.max_accounts], max(0, len(account_ids) - limits.max_accounts)
    day = today.isoformat()

    async def one(account_id: uuid.UUID) -> tuple[set[str], str | None] | None:
        try:
            response = await peers.get("key_account", f"/api/v1/accounts/{account_id}/coverage")
            if response.status_code == 404:
                return set(), None
            body = ok_json("key_account", response)
            members = body["members"]
            current = {
                str(m["employee_id"])
                for m in members
                if (m.get("valid_from") or "") <= day and (m.get("valid_to") is None or m["valid_to"] >= day)
            }
        except (*PEER_ERRORS, ValueError, KeyError, TypeError):
            return None
        return current, body.get("tier")

    results = await gather_limited(asked, one, concurrency=limits.concurrency)
    failed = sum(r is None for r in results)
    # gather_limited answers once per account asked, in order: strict zip pairs them
    members = {str(a): r[0] for a, r in zip(asked, results, strict=True) if r and r[0]}
    tiers = {str(a): r[1] for a, r in zip(asked, results, strict=True) if r and r[1]}
    source = "unavailable" if failed == len(asked) else "partial" if failed or skipped else "live"
    note = None
    if source != "live":
        note = (
            f"coverage unknown for {failed + skipped} of {len(account_ids)} accounts "
            "(key account service unreachable or batch over the limit): their continuity scores 0"
        )
    return Coverage(members, source, len(asked), failed, skipped, note, tiers)
