"""What the workspace shows for each stage, and how service answers become
its sections. Pure functions: no HTTP, no framework. The services filter and
sort (due actions, open items, gaps, demand); the gateway only shapes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

L1, L2, L3 = "L1_SUBSISTENCE", "L2_COMFORTABLE", "L3_AFFLUENT"
STAGES = (L1, L2, L3)

# DOMAIN.md, "The salesperson's workspace".
SECTIONS: dict[str, tuple[str, ...]] = {
    L1: ("new_opportunities", "support_requests", "suggested_resources"),
    L2: ("accounts_with_actions_due", "incubation_items", "relationship_gaps"),
    L3: ("decisions_waiting", "influence", "expertise_demand"),
}
OPEN_ACTION = ("open", "in_progress")
OPEN_INCUBATION = ("idea", "validated", "qualified")
NEW_OPPORTUNITY_STAGES = ("lead", "qualified")


def stage_view(stage: dict[str, Any] | None) -> dict[str, Any]:
    """The caller's stage with reasons and the gap to the next (None: never evaluated)."""
    if stage is None:
        return {
            "status": "not_evaluated",
            "service": "employee_lifecycle",
            "stage": None,
            "detail": "Your stage has not been evaluated yet; the workspace shows the help for L1.",
        }
    last = stage.get("last_evaluation") or {}
    return {
        "status": "ok",
        "service": "employee_lifecycle",
        "stage": stage.get("stage"),
        "since": stage.get("stage_since"),
        "needs": stage.get("needs") or [],
        "reasons": last.get("reasons"),
        "gap": last.get("gap"),
        "override": stage.get("override"),
        "pending": stage.get("pending"),
        "evaluated_at": stage.get("evaluated_at"),
    }


def stage_used(view: dict[str, Any]) -> str:
    """Whose help to show: the stage when known, else L1's (the basics everyone can use)."""
    stage = view.get("stage")
    return stage if stage in STAGES else L1


def opportunity_summary(o: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "id",
        "name",
        "stage",
        "amount",
        "expected_close_date",
        "account_id",
        "industry",
        "assigned_at",
        "updated_at",
    )
    return {k: o.get(k) for k in keys}


def industries(opportunities: Iterable[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(i for o in opportunities if (i := o.get("industry"))))


def support_summary(requests: list[dict[str, Any]]) -> dict[str, int]:
    return dict(sorted(Counter(r.get("status", "unknown") for r in requests).items()))


def accounts_with_due_actions(actions: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per account, in the order of its most urgent action (the
    service lists actions earliest due first), each with its actions."""
    by_account: dict[str, dict[str, Any]] = {}
    for a in actions:
        entry = by_account.setdefault(
            a["account_id"],
            {
                "account_id": a["account_id"],
                "account_name": a.get("account_name"),
                "next_due_on": a.get("due_on"),
                "overdue": 0,
                "actions": [],
            },
        )
        entry["overdue"] += bool(a.get("overdue"))
        entry["actions"].append(a)
    return list(by_account.values())


def more(body: dict[str, Any]) -> bool:
    """Whether the service has more than the page the workspace read."""
    return bool(body.get("next_cursor"))
