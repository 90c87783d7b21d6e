"""Small builders shared by the opportunity tests."""

import uuid

import sqlalchemy as sa

from tests.support import auth

OPPORTUNITIES = "/api/v1/opportunities"
ADMIN = auth(org_unit="/group", roles=("group_admin",))
MANAGER = auth(org_unit="/group/east", roles=("manager",))
# A deal created beyond lead passes the gates; a manager or admin records one as it happened.
FORCED = {"force": True, "reason": "recorded as it happened"}


def new_opportunity(**extra: object) -> dict:
    return {"name": "Core banking refresh", "amount": {"amount": "120000.50", "currency": "CNY"}, **extra}


def rep(org_unit: str = "/group/east/team-1") -> tuple[uuid.UUID, dict[str, str]]:
    employee = uuid.uuid4()
    return employee, auth(employee=employee, org_unit=org_unit, roles=("rep",))


async def outbox(connection, subject: str) -> list[tuple[str, dict]]:
    """Events published about `subject`, one per type (deduplicated over subscribers)."""
    rows = (
        await connection.execute(
            sa.text(
                "SELECT DISTINCT ON (event_id) event_id, type, data, id FROM opportunity.outbox"
                " WHERE subject = :s ORDER BY event_id, id"
            ),
            {"s": subject},
        )
    ).all()
    return [(r.type, r.data) for r in sorted(rows, key=lambda r: r.id)]


def full_plan() -> dict:
    return {
        "profile": "Bank modernising its core",
        "business_issues": ["batch windows"],
        "solution_value": "real time",
        "assessment": {
            "is_there_an_opportunity": "yes",
            "can_we_compete": "yes",
            "can_we_win": "yes",
            "is_it_worth_winning": "yes",
        },
        "competitors": [{"name": "Rival", "threat": "high", "status": "incumbent"}],
        "competitive_strategy": "flanking",
        "key_players": [
            {"contact_id": str(uuid.uuid4()), "buying_role": "decision_maker", "support": "supporter"},
            {"contact_id": str(uuid.uuid4()), "buying_role": "evaluator"},
        ],
        "action_plan": [{"action": "Workshop", "due": "2026-12-01"}],
    }
