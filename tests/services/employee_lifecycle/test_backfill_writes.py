"""The facts back-fill writes a batch in one statement (issue 17), idempotent by external id."""

import uuid

import sqlalchemy as sa

from tests.services.employee_lifecycle.helpers import backfill, new_employee


async def test_a_batch_is_stored_once_field_for_field_and_a_fact_seen_before_is_a_duplicate(service_client, connection):
    client = await service_client("employee_lifecycle")
    person = (await new_employee(client))["id"]
    key = f"bf-{uuid.uuid4().hex[:8]}"
    odd = ["GTX Plus Basic", 'say "pro"', "back\\slash", "a,b", "{braces}", "NULL"]
    facts = [
        {
            "external_id": f"{key}-won",
            "kind": "opportunity_won",
            "employee_id": person,
            "occurred_on": "2017-03-01",
            "opportunity_ref": "1C1I7A6R",
            "account_ref": "Cancity",
            "amount": {"amount": "1054.50", "currency": "USD"},
            "solution_refs": odd,
        },
        {
            "external_id": f"{key}-cover",
            "kind": "coverage",
            "employee_id": person,
            "occurred_on": "2017-01-01",
            "ends_on": "2017-06-30",
            "account_ref": "Cancity",
            "cross_org": True,
            "outcome": "kept",
        },
        {"external_id": f"{key}-won", "kind": "opportunity_lost", "employee_id": person, "occurred_on": "2017-04-01"},
    ]
    first = await backfill(client, facts)
    assert (first["received"], first["inserted"], first["duplicates"]) == (3, 2, 1)
    again = await backfill(client, facts[:2])
    assert (again["inserted"], again["duplicates"]) == (0, 2)

    rows = await connection.execute(
        sa.text(
            "SELECT external_id, kind, occurred_on::text, ends_on::text, opportunity_ref, account_ref, amount::text,"
            " currency, solution_refs, cross_org, outcome FROM employee_lifecycle.facts"
            " WHERE external_id LIKE :k ORDER BY external_id"
        ),
        {"k": f"{key}-%"},
    )
    assert [tuple(r) for r in rows] == [
        (f"{key}-cover", "coverage", "2017-01-01", "2017-06-30", None, "Cancity", None, None, [], True, "kept"),
        (
            f"{key}-won",
            "opportunity_won",
            "2017-03-01",
            None,
            "1C1I7A6R",
            "Cancity",
            "1054.50",
            "USD",
            odd,
            False,
            None,
        ),
    ]
