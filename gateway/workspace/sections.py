"""What the workspace shows for each stage, and how raw service answers
become its sections. Pure functions: no HTTP, no framework."""

from __future__ import annotations

import datetime as dt
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
OPEN_ACTION = frozenset({"open", "in_progress"})
OPEN_INCUBATION = frozenset({"idea", "validated", "qualified"})
NEW_OPPORTUNITY_STAGES = ("lead", "qualified")


def stage_view(stage: dict[str, Any] | None) -> dict[str, Any]:
    """The caller's stage with reasons and the gap to the next (None: never evaluated)."""
    if stage is None:
        return {
            "status": "not_evaluated", "service": "employee_lifecycle", "stage": None,
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
    keys = ("id", "name", "stage", "amount", "expected_close_date", "account_id", "industry", "updated_at")
    return {k: o.get(k) for k in keys}


def industries(opportunities: Iterable[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(i for o in opportunities if (i := o.get("industry"))))


def support_summary(requests: list[dict[str, Any]]) -> dict[str, int]:
    return dict(sorted(Counter(r.get("status", "unknown") for r in requests).items()))


def current_plans(plans: Iterable[dict[str, Any]], today: dt.date, limit: int) -> list[dict[str, Any]]:
    """Plans whose period has not ended, soonest ending first."""
    live = [p for p in plans if _date(p.get("ends_on")) is None or _date(p.get("ends_on")) >= today]  # type: ignore[operator]
    live.sort(key=lambda p: (p.get("ends_on") or "9999-12-31", p.get("id", "")))
    return live[:limit]


def due_actions(
    actions: Iterable[dict[str, Any]], *, today: dt.date, horizon_days: int, employee_id: str
) -> list[dict[str, Any]]:
    """Open actions due within the horizon (overdue ones too) that are the
    caller's or nobody's, earliest first."""
    until = today + dt.timedelta(days=horizon_days)
    out = []
    for a in actions:
        due = _date(a.get("due_on"))
        if a.get("status") not in OPEN_ACTION or due is None or due > until:
            continue
        if a.get("owner_id") not in (None, employee_id):
            continue
        out.append({**a, "overdue": due < today})
    out.sort(key=lambda a: (a["due_on"], a.get("id", "")))
    return out


def accounts_with_due_actions(per_plan: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """One entry per account with at least one due action."""
    by_account: dict[str, dict[str, Any]] = {}
    for plan, actions in per_plan:
        if not actions:
            continue
        entry = by_account.setdefault(plan["account_id"], {"account_id": plan["account_id"], "plans": []})
        entry["plans"].append({"plan_id": plan["id"], "period": plan.get("period"), "actions": actions})
    accounts = list(by_account.values())
    accounts.sort(key=lambda a: min(x["due_on"] for p in a["plans"] for x in p["actions"]))
    return accounts


def open_incubation(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    out = [i for i in items if i.get("status") in OPEN_INCUBATION]
    out.sort(key=lambda i: (i.get("created_at") or "", i.get("id", "")))
    return out


def relationship_gaps(plan: dict[str, Any], targets: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    gaps = [
        {**t, "account_id": plan["account_id"], "plan_id": plan["id"]}
        for t in targets if not t.get("met") and (t.get("gap_steps") or 0) > 0
    ]
    return gaps


def largest_gaps_first(gaps: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    return sorted(gaps, key=lambda g: (-(g.get("gap_steps") or 0), g.get("contact_name") or ""))[:limit]


def expertise_demand(
    requests: list[dict[str, Any]], *, own_organization: str, support_assigned: int
) -> dict[str, Any]:
    """How much others ask for what the caller shares: by status, and how many
    requests come from other organisations of the group."""
    organisations = {_organization(r.get("requester_org_unit_path") or "/") for r in requests}
    other = sum(1 for r in requests if _organization(r.get("requester_org_unit_path") or "/") != own_organization)
    return {
        "resource_requests": len(requests),
        "by_status": dict(sorted(Counter(r.get("status", "unknown") for r in requests).items())),
        "requesting_organisations": len(organisations),
        "from_other_organisations": other,
        "support_requests_assigned": support_assigned,
    }


def _organization(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(parts[:2]) if parts else "/"


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None
