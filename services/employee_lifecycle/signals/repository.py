"""All queries of the signals area: facts in, signals out (set-based)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from services.employee_lifecycle.signals.models import CLOSED, COVERAGE, LOST, OPEN, RELEASED, WON, Fact

# One statement for any number of employees. Windows: 12 months for wins,
# revenue and influence; 24 months of won business for stable accounts and
# solution breadth; quotas over the 4 quarters that ended on or before as_of.
SIGNALS_SQL = sa.text("""
WITH emp AS MATERIALIZED (
    -- a join, not `= ANY(:ids)`: a filter against a 10,000-element array costs per row
    SELECT e.id, coalesce(e.entered_sales_on, e.hire_date) AS started
    FROM unnest(CAST(:ids AS uuid[])) AS i(id) JOIN employee_lifecycle.employees e ON e.id = i.id
),
f AS NOT MATERIALIZED (
    SELECT f.employee_id, f.kind, f.occurred_on, f.ends_on, f.opportunity_ref, f.account_ref, f.amount,
           f.currency, f.solution_refs, f.cross_org, f.outcome, f.id
    FROM employee_lifecycle.facts f JOIN emp ON emp.id = f.employee_id
    WHERE f.occurred_on <= :as_of
),
tally AS (
    SELECT employee_id,
        count(*) FILTER (WHERE kind = 'opportunity_won' AND occurred_on > :y1) AS wins,
        count(*) FILTER (WHERE kind = 'opportunity_lost' AND occurred_on > :y1) AS losses,
        coalesce(sum(amount) FILTER (WHERE kind = 'opportunity_won' AND occurred_on > :y1 AND currency = :cur), 0)
            AS revenue,
        coalesce(sum(CASE
            WHEN kind = 'resource_reused' THEN 1 + cross_org::int
                 + CASE WHEN outcome IN ('won', 'contributed_to_win') THEN 3 ELSE 0 END
            WHEN kind = 'introduction_made' THEN 2 + cross_org::int END
        ) FILTER (WHERE occurred_on > :y1), 0) AS influence
    FROM f WHERE occurred_on > :y2 AND kind IN ('opportunity_won', 'opportunity_lost', 'resource_reused',
                                                'introduction_made')
    GROUP BY employee_id
),
breadth AS (
    SELECT employee_id, count(DISTINCT s) AS solutions
    FROM f, unnest(f.solution_refs) AS s
    WHERE kind = 'opportunity_won' AND occurred_on > :y2
    GROUP BY employee_id
),
account_wins AS (
    SELECT employee_id, account_ref, count(DISTINCT date_trunc('quarter', occurred_on)) AS quarters, count(*) AS wins
    FROM f WHERE kind = 'opportunity_won' AND occurred_on > :y2 AND account_ref IS NOT NULL
    GROUP BY employee_id, account_ref
),
covered AS (
    SELECT DISTINCT employee_id, account_ref FROM f
    WHERE kind = 'coverage' AND occurred_on <= :covered_since AND (ends_on IS NULL OR ends_on >= :as_of)
),
stable AS (
    SELECT a.employee_id,
           count(*) FILTER (WHERE a.quarters >= 2 OR (c.account_ref IS NOT NULL AND a.wins >= 2)) AS accounts
    FROM account_wins a LEFT JOIN covered c USING (employee_id, account_ref)
    GROUP BY a.employee_id
),
pairs AS (
    -- An opportunity is open for an employee when their latest fact about it is
    -- `opportunity_open`; comparing (day, id) keys in a hash aggregate avoids
    -- sorting every opportunity fact.
    SELECT employee_id, opportunity_ref,
           max((occurred_on - date '1970-01-01')::bigint * 1000000000000 + id)
               FILTER (WHERE kind = 'opportunity_open') AS opened,
           max((occurred_on - date '1970-01-01')::bigint * 1000000000000 + id)
               FILTER (WHERE kind <> 'opportunity_open') AS ended
    FROM f WHERE kind IN ('opportunity_open', 'opportunity_released', 'opportunity_won', 'opportunity_lost',
                          'opportunity_closed')
    GROUP BY employee_id, opportunity_ref
),
pipeline AS (
    SELECT p.employee_id, count(*) AS open_count,
           coalesce(sum(o.amount) FILTER (WHERE o.currency = :cur), 0) AS open_value
    FROM pairs p JOIN employee_lifecycle.facts o ON o.id = p.opened % 1000000000000
    WHERE p.opened IS NOT NULL AND (p.ended IS NULL OR p.opened > p.ended)
    GROUP BY p.employee_id
),
quarter AS (
    SELECT q.id, q.employee_id, q.amount AS quota, coalesce(sum(w.amount), 0) AS won
    FROM employee_lifecycle.quotas q
    LEFT JOIN f w ON w.employee_id = q.employee_id AND w.kind = 'opportunity_won' AND w.currency = q.currency
        AND w.occurred_on >= q.period_start AND w.occurred_on < q.period_start + interval '3 months'
    JOIN emp ON emp.id = q.employee_id
    WHERE q.period_start >= :q_from AND q.period_start < :q_to
    GROUP BY q.id, q.employee_id, q.amount
),
quota AS (
    SELECT employee_id, sum(won) / nullif(sum(quota), 0) AS attainment,
           count(*) FILTER (WHERE won >= quota) AS at_quota
    FROM quarter GROUP BY employee_id
)
SELECT emp.id AS employee_id,
    CASE WHEN emp.started IS NULL THEN NULL
         WHEN emp.started > :as_of THEN 0
         ELSE (extract(year FROM age(:as_of, emp.started)) * 12 + extract(month FROM age(:as_of, emp.started)))::int
    END AS tenure_months,
    coalesce(t.wins, 0) AS wins_12m,
    CASE WHEN coalesce(t.wins, 0) + coalesce(t.losses, 0) > 0
         THEN t.wins::numeric / (t.wins + t.losses) END AS win_rate_12m,
    coalesce(t.revenue, 0) AS revenue_12m,
    quota.attainment AS quota_attainment_4q,
    quota.at_quota AS quarters_at_quota,
    coalesce(stable.accounts, 0) AS stable_accounts,
    coalesce(pipeline.open_count, 0) AS open_pipeline_count,
    coalesce(pipeline.open_value, 0) AS open_pipeline_value,
    coalesce(breadth.solutions, 0) AS solution_breadth,
    coalesce(t.influence, 0) AS influence_score
FROM emp
LEFT JOIN tally t ON t.employee_id = emp.id
LEFT JOIN breadth ON breadth.employee_id = emp.id
LEFT JOIN stable ON stable.employee_id = emp.id
LEFT JOIN pipeline ON pipeline.employee_id = emp.id
LEFT JOIN quota ON quota.employee_id = emp.id
""").bindparams(
    sa.bindparam("ids", type_=ARRAY(sa.Uuid)),
    sa.bindparam("as_of", type_=sa.Date),
    sa.bindparam("y1", type_=sa.Date),
    sa.bindparam("y2", type_=sa.Date),
    sa.bindparam("covered_since", type_=sa.Date),
    sa.bindparam("q_from", type_=sa.Date),
    sa.bindparam("q_to", type_=sa.Date),
    sa.bindparam("cur", type_=sa.String),
)

SIGNAL_COLUMNS = (
    "tenure_months",
    "wins_12m",
    "win_rate_12m",
    "revenue_12m",
    "quota_attainment_4q",
    "quarters_at_quota",
    "stable_accounts",
    "open_pipeline_count",
    "open_pipeline_value",
    "solution_breadth",
    "influence_score",
)


def _months_before(day: dt.date, months: int) -> dt.date:
    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    return dt.date(y, m + 1, min(day.day, 28 if m + 1 == 2 else 30 if m + 1 in (4, 6, 9, 11) else 31))


def quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


async def signals_for(
    session: AsyncSession, employee_ids: Sequence[uuid.UUID], *, as_of: dt.date, currency: str
) -> dict[uuid.UUID, dict[str, float | None]]:
    if not employee_ids:
        return {}
    # The quarter that contains the day after as_of has not ended yet.
    q_to = quarter_start(as_of + dt.timedelta(days=1))
    params: dict[str, Any] = {
        "ids": list(employee_ids),
        "as_of": as_of,
        "y1": _months_before(as_of, 12),
        "y2": _months_before(as_of, 24),
        "covered_since": _months_before(as_of, 12),
        "q_from": _months_before(q_to, 12),
        "q_to": q_to,
        "cur": currency,
    }
    # JIT compilation of this plan costs more than it saves; sorts of a million facts want memory.
    await session.execute(sa.text("SET LOCAL jit = off"))
    await session.execute(sa.text("SET LOCAL work_mem = '64MB'"))
    rows = (await session.execute(SIGNALS_SQL, params)).mappings()
    return {
        row["employee_id"]: {c: (None if row[c] is None else float(row[c])) for c in SIGNAL_COLUMNS} for row in rows
    }


OPEN_LOAD_SQL = sa.text("""
SELECT employee_id, count(*) FILTER (WHERE kind = 'opportunity_open') AS open_load FROM (
    SELECT DISTINCT ON (f.employee_id, f.opportunity_ref) f.employee_id, f.kind
    FROM employee_lifecycle.facts f JOIN unnest(CAST(:ids AS uuid[])) AS wanted(id) ON wanted.id = f.employee_id
    WHERE f.occurred_on <= :as_of AND f.kind IN (
        'opportunity_open', 'opportunity_released', 'opportunity_won', 'opportunity_lost', 'opportunity_closed')
    ORDER BY f.employee_id, f.opportunity_ref, f.occurred_on DESC, f.id DESC
) latest GROUP BY employee_id
""").bindparams(sa.bindparam("ids", type_=ARRAY(sa.Uuid)), sa.bindparam("as_of", type_=sa.Date))


async def open_load(
    session: AsyncSession, employee_ids: Sequence[uuid.UUID], *, as_of: dt.date
) -> dict[uuid.UUID, int]:
    if not employee_ids:
        return {}
    rows = await session.execute(OPEN_LOAD_SQL, {"ids": list(employee_ids), "as_of": as_of})
    return {r.employee_id: int(r.open_load) for r in rows}


def open_load_of(employee_id: sa.ColumnElement[Any], as_of: sa.ColumnElement[Any]) -> sa.ScalarSelect[int]:
    """`OPEN_LOAD_SQL` for the one employee `employee_id` (a column of the
    enclosing statement) as a correlated subquery of its select list, so a
    statement reads the load of the rows it returns only. No `IN (...)`: the
    kinds are one array parameter, so the statement compiles once
    (`sanlun.kernel.reads.Prebuilt`)."""
    facts = Fact.__table__
    kinds = sa.bindparam("opportunity_kinds", [OPEN, RELEASED, WON, LOST, CLOSED], type_=ARRAY(sa.String))
    latest = (
        sa.select(facts.c.kind)
        .where(facts.c.employee_id == employee_id, facts.c.occurred_on <= as_of, facts.c.kind == sa.any_(kinds))
        .ext(distinct_on(facts.c.opportunity_ref))
        # The employee is the enclosing statement's (a derived table may name an outer query's row).
        .correlate_except(facts)
        .order_by(facts.c.opportunity_ref, facts.c.occurred_on.desc(), facts.c.id.desc())
        .subquery("latest")
    )
    return sa.select(sa.func.count()).select_from(latest).where(latest.c.kind == OPEN).scalar_subquery()


_FACT_COLUMNS = {
    "external_id": "text[]",
    "kind": "text[]",
    "employee_id": "uuid[]",
    "occurred_on": "date[]",
    "ends_on": "date[]",
    "opportunity_ref": "text[]",
    "account_ref": "text[]",
    "amount": "numeric[]",
    "currency": "text[]",
    "solution_refs": "text[]",  # each row's array as an array literal (unnest takes no ragged arrays)
    "cross_org": "boolean[]",
    "outcome": "text[]",
    "source_version": "int[]",
}
_FACT_VALUES = ", ".join(
    "CAST(f.solution_refs AS varchar[])" if c == "solution_refs" else f"f.{c}" for c in _FACT_COLUMNS
)
_FACT_ARRAYS = ", ".join(f"CAST(:{c} AS {t})" for c, t in _FACT_COLUMNS.items())
_INSERT_FACTS = sa.text(
    f"INSERT INTO {Fact.__table__.fullname} ({', '.join(_FACT_COLUMNS)}) SELECT {_FACT_VALUES} "  # type: ignore[attr-defined]  # noqa: S608 - constant names; values are bound
    f"FROM unnest({_FACT_ARRAYS}) AS f({', '.join(_FACT_COLUMNS)}) ON CONFLICT (external_id) DO NOTHING RETURNING 1"
)


def _text_array(values: Sequence[str]) -> str:
    """A text[] literal: every element quoted, backslashes and quotes escaped."""
    quoted = ('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return "{" + ",".join(quoted) + "}"


async def insert_facts(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
    """Idempotent by `external_id`: a fact seen before is skipped. Returns how
    many were new. One INSERT for any number of rows (each column an array)."""
    if not rows:
        return 0
    columns: dict[str, list[Any]] = {c: [r.get(c) for r in rows] for c in _FACT_COLUMNS}
    columns["solution_refs"] = [_text_array(r.get("solution_refs") or []) for r in rows]
    columns["cross_org"] = [bool(r.get("cross_org", False)) for r in rows]
    return len((await session.execute(_INSERT_FACTS, columns)).all())


async def coverage_version(session: AsyncSession, account_ref: str) -> int | None:
    stmt = sa.select(sa.func.max(Fact.source_version)).where(Fact.kind == COVERAGE, Fact.account_ref == account_ref)
    return (await session.execute(stmt)).scalar_one()


async def replace_coverage(session: AsyncSession, account_ref: str, rows: Sequence[dict[str, Any]]) -> None:
    await session.execute(sa.delete(Fact).where(Fact.kind == COVERAGE, Fact.account_ref == account_ref))
    if rows:
        await insert_facts(session, rows)


async def known_employees(
    session: AsyncSession, ids: Sequence[uuid.UUID], visible: sa.ColumnElement[bool]
) -> set[uuid.UUID]:
    from services.employee_lifecycle.employees.models import Employee

    stmt = sa.select(Employee.id).where(Employee.id.in_(list(set(ids))), visible)
    return set((await session.execute(stmt)).scalars())
