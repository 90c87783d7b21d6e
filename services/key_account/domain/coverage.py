"""Coverage: who is on an account's team, and the rule strategic/key accounts must meet."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ROLES = ("account_owner", "solution_consultant", "delivery", "executive_sponsor", "partner", "overlay")
SOLUTION_ROLES = frozenset({"solution_consultant"})
RULED_TIERS = frozenset({"strategic", "key"})


@dataclass(frozen=True, slots=True)
class Violation:
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def violations(tier: str | None, roles: Iterable[str]) -> list[Violation]:
    """What the current team of an account lacks for its tier (nothing below `key`)."""
    if tier not in RULED_TIERS:
        return []
    roles = list(roles)
    owners = roles.count("account_owner")
    found: list[Violation] = []
    if owners == 0:
        found.append(Violation("no_account_owner", f"a {tier} account needs one account owner; it has none"))
    elif owners > 1:
        found.append(Violation("several_account_owners", f"a {tier} account needs one account owner; it has {owners}"))
    if not SOLUTION_ROLES.intersection(roles):
        found.append(Violation("no_solution_role", f"a {tier} account needs a solution consultant on its team"))
    return found
