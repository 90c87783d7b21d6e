"""The solution outcome roll-up, applied per batch of deals: one primary-key
probe per id (planned the same on any statistics), each deal counted once."""

import uuid

import pytest
import sqlalchemy as sa

from services.opportunity import opportunities  # noqa: F401 - first, as the app imports them (a cycle)
from services.opportunity.recommendations.repository import apply_outcomes
from tests.services.opportunity.helpers import ADMIN, OPPORTUNITIES

pytestmark = pytest.mark.usefixtures("any_id_exists")

RECOMPUTED = sa.text("""
SELECT count(*) FILTER (WHERE o.stage = 'won'), count(*) FILTER (WHERE o.stage = 'lost'),
       coalesce(sum(o.amount) FILTER (WHERE o.stage = 'won'), 0)
FROM opportunity.opportunities o
WHERE :s = ANY(o.solution_ids) AND o.stage IN ('won', 'lost') AND o.closed_on IS NOT NULL
""")
ROLLUP = sa.text(
    "SELECT coalesce(sum(wins), 0), coalesce(sum(losses), 0), coalesce(sum(won_amount), 0)"
    " FROM opportunity.solution_outcomes WHERE solution_id = :s"
)


async def test_a_batch_with_repeated_ids_counts_each_deal_once(service_client, connection):
    client = await service_client("opportunity")
    solution = (
        await client.post(
            "/api/v1/solutions",
            json={"name": f"Rollup {uuid.uuid4().hex[:6]}", "list_price": {"amount": "1.00", "currency": "CNY"}},
            headers=ADMIN,
        )
    ).json()["id"]
    items = [
        {
            "external_id": f"r-{i}",
            "name": f"Deal {i}",
            "org_unit_path": "/group/east/team-1",
            "stage": stage,
            "closed_on": "2026-05-01" if stage != "qualified" else None,
            "amount": {"amount": "100.00", "currency": "CNY"},
            "industry": "banking",
            "solution_ids": [solution],
        }
        for i, stage in enumerate(["won", "won", "lost", "qualified"])
    ]
    report = (await client.post(f"{OPPORTUNITIES}:bulk-upsert", json={"items": items}, headers=ADMIN)).json()
    ids = [uuid.UUID(r["id"]) for r in report["results"]]

    async def figures(query: sa.TextClause) -> tuple:
        return tuple((await connection.execute(query, {"s": solution})).one())

    assert await figures(ROLLUP) == await figures(RECOMPUTED) == (2, 1, 200)
    database = client._transport.app.state.db  # type: ignore[attr-defined]
    async with database.transaction() as session:
        await apply_outcomes(session, [*ids, *ids, ids[0]], sign=-1)
    assert await figures(ROLLUP) == (0, 0, 0)
    async with database.transaction() as session:
        await apply_outcomes(session, [ids[1], *ids, ids[1]], sign=1)
    assert await figures(ROLLUP) == (2, 1, 200)
