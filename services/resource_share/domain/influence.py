"""Influence of an employee: what their sharing did for others, with the breakdown.

Points: each reuse by someone in another team of the same organisation 1, in
another organisation 2 (reach across the group counts double); each completed
introduction 3; each won opportunity their resources contributed to 5; each
organisation reached beyond their own 2.
"""

from __future__ import annotations

from dataclasses import dataclass

POINTS = {
    "reuse_other_teams": 1.0,
    "reuse_other_organizations": 2.0,
    "introductions_completed": 3.0,
    "wins_contributed": 5.0,
    "organizations_reached": 2.0,
}


@dataclass(frozen=True, slots=True)
class Breakdown:
    reuse_other_teams: int = 0
    reuse_other_organizations: int = 0
    introductions_completed: int = 0
    wins_contributed: int = 0
    organizations_reached: int = 0


def score(b: Breakdown) -> tuple[float, dict[str, float]]:
    parts = {name: getattr(b, name) * points for name, points in POINTS.items()}
    return round(sum(parts.values()), 2), parts
