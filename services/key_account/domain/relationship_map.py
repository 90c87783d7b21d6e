"""The relationship map of an account as nodes and edges a frontend can draw directly."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def build_map(
    account: Mapping[str, Any],
    contacts: Iterable[Mapping[str, Any]],
    relationships: Iterable[Mapping[str, Any]],
    influence_lines: Iterable[Mapping[str, Any]],
) -> dict[str, Any]:
    """Node ids are prefixed by kind (`account:`, `contact:`, `employee:`) so a
    contact and an employee never collide; every edge names existing nodes."""
    account_node = f"account:{account['id']}"
    nodes: list[dict[str, Any]] = [{"id": account_node, "kind": "account", "label": account["name"], "data": {}}]
    edges: list[dict[str, Any]] = []
    contacts = list(contacts)
    contact_ids = {str(c["id"]) for c in contacts}
    for c in contacts:
        node = f"contact:{c['id']}"
        nodes.append(
            {
                "id": node,
                "kind": "contact",
                "label": c["name"],
                "data": {
                    k: c.get(k)
                    for k in ("title", "business_unit", "buying_role", "political_status", "decision_orientation")
                },
            }
        )
        reports_to = c.get("reports_to_id")
        if reports_to is not None and str(reports_to) in contact_ids:
            edges.append(
                {
                    "id": f"reports_to:{c['id']}",
                    "kind": "reports_to",
                    "source": node,
                    "target": f"contact:{reports_to}",
                    "data": {},
                }
            )
        else:
            edges.append(
                {"id": f"works_at:{c['id']}", "kind": "works_at", "source": node, "target": account_node, "data": {}}
            )
    employees: set[str] = set()
    for r in relationships:
        if str(r["contact_id"]) not in contact_ids:
            continue
        employee = f"employee:{r['employee_id']}"
        if employee not in employees:
            employees.add(employee)
            nodes.append({"id": employee, "kind": "employee", "label": str(r["employee_id"]), "data": {}})
        edges.append(
            {
                "id": f"relationship:{r['id']}",
                "kind": "relationship",
                "source": employee,
                "target": f"contact:{r['contact_id']}",
                "data": {
                    "level": r["level"],
                    "strength": r["strength"],
                    "last_interaction_on": r["last_interaction_on"].isoformat()
                    if r.get("last_interaction_on")
                    else None,
                },
            }
        )
    for line in influence_lines:
        if str(line["from_contact_id"]) not in contact_ids or str(line["to_contact_id"]) not in contact_ids:
            continue
        edges.append(
            {
                "id": f"influence:{line['id']}",
                "kind": "influence",
                "source": f"contact:{line['from_contact_id']}",
                "target": f"contact:{line['to_contact_id']}",
                "data": {"strength": line["strength"], "note": line.get("note")},
            }
        )
    return {"nodes": nodes, "edges": edges}
