"""Introduction paths through the group-wide relationship graph.

Nodes are employees and contacts. Edges are relationships their owners shared
at group (or public) scope with a live consent, weighted by strength / 100; the
requester's own relationships count too, whatever their scope. Two contacts of
the same account are linked with `colleague_factor` (the contact introduces
their colleague). The requester may ask any colleague in the group: that "ask"
edge is weighted by how far the colleague sits in the organisation tree (same
team, same organisation, another organisation), so a warm path through a mutual
contact can beat a cold ask across organisations.

A path runs from the requester to a target contact in at most `max_hops`
edges (the ask counts as one) and names a *connector*: the first employee on it
other than the requester, the person who receives the request. Paths are ranked
best first by combined strength (the product of edge weights), then by fewer
hops; ties break on the relationship ids so the order is stable.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

DISCLOSURES = ("identity", "organization", "anonymous")


@dataclass(frozen=True, slots=True)
class Relationship:
    """A shared relationship as the graph sees it (owner → contact)."""

    id: uuid.UUID
    owner_id: uuid.UUID
    owner_org_unit_path: str
    contact_id: uuid.UUID
    account_id: uuid.UUID | None
    strength: int
    disclosure: str = "identity"
    shared: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PathConfig:
    max_hops: int = 3
    ask_same_team: float = 1.0
    ask_same_organization: float = 0.8
    ask_other_organization: float = 0.6
    colleague_factor: float = 0.5


@dataclass(frozen=True, slots=True)
class Hop:
    kind: str  # "ask" (requester asks a colleague), "relationship", "colleague" (same account)
    source: tuple[str, uuid.UUID]
    target: tuple[str, uuid.UUID]
    weight: float
    relationship: Relationship | None = None


@dataclass(frozen=True, slots=True)
class Path:
    hops: tuple[Hop, ...]
    strength: float
    connector: Relationship  # the connector's relationship on this path

    @property
    def relationship_ids(self) -> tuple[uuid.UUID, ...]:
        return tuple(h.relationship.id for h in self.hops if h.relationship is not None)

    @property
    def target_contact_id(self) -> uuid.UUID:
        return self.hops[-1].target[1]


def organization_of(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(parts[:2]) if parts else "/"


def ask_weight(requester_path: str, colleague_path: str, config: PathConfig) -> float:
    if requester_path == colleague_path:
        return config.ask_same_team
    if organization_of(requester_path) == organization_of(colleague_path):
        return config.ask_same_organization
    return config.ask_other_organization


def rank_paths(
    *,
    requester_id: uuid.UUID,
    requester_path: str,
    targets: Iterable[uuid.UUID],
    relationships: Iterable[Relationship],
    config: PathConfig = PathConfig(),
    limit: int = 10,
) -> list[Path]:
    """Every simple path of at most `max_hops` edges from the requester to a
    target contact that names a connector, best first."""
    targets = set(targets)
    employee_paths: dict[uuid.UUID, str] = {}
    by_node: dict[tuple[str, uuid.UUID], list[Hop]] = defaultdict(list)
    account_of: dict[uuid.UUID, uuid.UUID] = {}
    for rel in relationships:
        if rel.owner_id != requester_id:
            employee_paths[rel.owner_id] = rel.owner_org_unit_path
        e, c, w = ("employee", rel.owner_id), ("contact", rel.contact_id), rel.strength / 100
        by_node[e].append(Hop("relationship", e, c, w, rel))
        by_node[c].append(Hop("relationship", c, e, w, rel))
        if rel.account_id is not None:
            account_of[rel.contact_id] = rel.account_id
    # Only links *into* a target matter: a colleague hop elsewhere never ends a path.
    for contact, account in account_of.items():
        for target in targets:
            if contact != target and account_of.get(target) == account:
                by_node[("contact", contact)].append(
                    Hop("colleague", ("contact", contact), ("contact", target), config.colleague_factor)
                )
    start = ("employee", requester_id)
    for employee, path in employee_paths.items():
        w = ask_weight(requester_path, path, config)
        by_node[start].append(Hop("ask", start, ("employee", employee), w))

    best: dict[tuple[uuid.UUID, ...], Path] = {}

    def walk(node: tuple[str, uuid.UUID], hops: list[Hop], strength: float, seen: set[tuple[str, uuid.UUID]]) -> None:
        if node[0] == "contact" and node[1] in targets and hops:
            connector = _connector(hops, requester_id)
            if connector is not None:
                path = Path(tuple(hops), strength, connector)
                key = path.relationship_ids
                if key not in best or best[key].strength < strength:
                    best[key] = path
            return
        if len(hops) == config.max_hops:
            return
        for hop in by_node.get(node, ()):
            if hop.target in seen or (hop.kind == "ask" and hops):
                continue
            seen.add(hop.target)
            hops.append(hop)
            walk(hop.target, hops, strength * hop.weight, seen)
            hops.pop()
            seen.discard(hop.target)

    walk(start, [], 1.0, {start})
    ranked = sorted(best.values(), key=lambda p: (-p.strength, len(p.hops), [str(i) for i in p.relationship_ids]))
    return ranked[:limit]


def _connector(hops: list[Hop], requester_id: uuid.UUID) -> Relationship | None:
    """The first relationship on the path owned by someone other than the requester."""
    for hop in hops:
        rel = hop.relationship
        if rel is not None and rel.owner_id != requester_id:
            return rel
    return None


def disclose_owner(rel: Relationship, *, viewer_id: uuid.UUID | None) -> dict[str, Any]:
    """The owner's identity only as far as their sharing allows (never hidden from themself)."""
    level = "identity" if rel.owner_id == viewer_id else rel.disclosure
    if level == "identity":
        return {
            "disclosure": level,
            "employee_id": rel.owner_id,
            "org_unit_path": rel.owner_org_unit_path,
            "organization": organization_of(rel.owner_org_unit_path),
        }
    if level == "organization":
        return {
            "disclosure": level,
            "employee_id": None,
            "org_unit_path": None,
            "organization": organization_of(rel.owner_org_unit_path),
        }
    return {"disclosure": "anonymous", "employee_id": None, "org_unit_path": None, "organization": None}
