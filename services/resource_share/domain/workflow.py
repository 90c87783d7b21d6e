"""State machines of resource requests and introductions.

    resource request:  requested ──approve──▶ approved ──fulfil──▶ fulfilled ──rate──▶ rated
                                  └─decline─▶ declined
    introduction:      requested ──accept──▶ accepted ──introduce──▶ introduced
                                  └─decline─▶ declined   └─fail──────▶ failed

A request still `requested` after its expiry can no longer be decided: it reads
as `expired`. Every other move answers `IllegalTransition`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

REQUEST_TRANSITIONS: dict[tuple[str, str], str] = {
    ("requested", "approve"): "approved",
    ("requested", "decline"): "declined",
    ("approved", "fulfil"): "fulfilled",
    ("fulfilled", "rate"): "rated",
}
INTRODUCTION_TRANSITIONS: dict[tuple[str, str], str] = {
    ("requested", "accept"): "accepted",
    ("requested", "decline"): "declined",
    ("accepted", "introduce"): "introduced",
    ("accepted", "fail"): "failed",
}
# Outcomes an introduction ends with, as `introduction.completed` reports them.
INTRODUCTION_OUTCOMES = frozenset({"introduced", "declined", "failed"})
# Who may take an action: the deciding side (owner/connector or their manager) or the asking side.
DECIDER_ACTIONS = frozenset({"approve", "decline", "fulfil", "accept", "introduce", "fail"})
REQUESTER_ACTIONS = frozenset({"rate"})


@dataclass(frozen=True, slots=True)
class IllegalTransition(Exception):
    status: str
    action: str

    def __str__(self) -> str:
        return f"cannot {self.action} a request that is {self.status}"


def effective_status(status: str, expires_at: dt.datetime | None, now: dt.datetime) -> str:
    """What a reader sees: an undecided request past its expiry is `expired`."""
    if status == "requested" and expires_at is not None and expires_at <= now:
        return "expired"
    return status


def next_status(
    transitions: dict[tuple[str, str], str],
    *,
    status: str,
    action: str,
    expires_at: dt.datetime | None,
    now: dt.datetime,
) -> str:
    current = effective_status(status, expires_at, now)
    try:
        return transitions[(current, action)]
    except KeyError:
        raise IllegalTransition(current, action) from None


def allowed_actions(transitions: dict[tuple[str, str], str], status: str) -> list[str]:
    return sorted(action for (state, action) in transitions if state == status)
