"""Import baselines: what each import source last sent, per record, and the
three-way merge a bulk upsert with a `source` runs against them.

A bulk upsert that names its `source` (`sanlun.kernel.bulk`) is a re-import
from a system the CRM is migrating away from, not an API client syncing its
own data: work done in the CRM since the last import must survive it. So each
service keeps, per collection, source and external id, the row that source
last sent (`import_baselines`, in the service's own schema), and every field
of a new row is merged three ways, in canonical JSON forms (decimals, dates,
uuids and lists as the API returns them):

- base: the baseline's value, file: the value sent, crm: the stored value;
- no stored record: the row creates it, as sent;
- crm == file: nothing to do (applied, a no-op);
- file == base: the source did not change the field since the last import,
  so it is not applied (the CRM's value stays, whatever it is);
- crm == base: only the source changed it: the file's value is applied;
- otherwise both changed it: a **conflict**, the CRM's value is kept and the
  row gets an `import_conflict` warning;
- no baseline for the field (a record created in the CRM, or imported before
  baselines existed): an empty CRM value (null, "", [], {}) takes the file's,
  a different one is a conflict (wrong data is worse than kept data).

The service hands the kernel its stored records in the row model's input
form (`Merge.stored`); the kernel builds each row the upsert receives from
the stored values with the applied fields of the file on top, so a field the
merge drops (or the file does not send) keeps its stored value whatever the
row model's default would be. The baseline written afterwards is the file's
row as sent, all its fields, for every row that did not fail: loaded in one
statement and written in one, in the batch's savepoint (a dry run writes
none, a failed row's baseline does not move, an unchanged one is not
written).

Deleted records: no route deletes a record of a collection that keeps
baselines (opportunities, solutions, accounts, employees, org units); an
operator may, in SQL. The merge reads only stored records, so a key whose
record is gone is created from the file as sent, whatever its old baseline
says, and the file's row replaces that baseline. A service that adds a delete
deletes the record's baselines (its collection and key, every source) in the
same transaction, so that a record made again in the CRM under that key is not
merged against the deleted one's last import.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

TABLE = "import_baselines"
CONFLICT = "import_conflict"
_SHOWN = 120  # characters of a value a conflict message shows


def _columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("collection", sa.String(100), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=False),
        sa.Column("values", JSONB, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def baselines_table(metadata: sa.MetaData) -> sa.Table:
    """The table in a service's metadata (services with a bulk endpoint only)."""
    return sa.Table(TABLE, metadata, *_columns(), sa.PrimaryKeyConstraint("collection", "source", "external_id"))


def create_baselines_table(op: Any, schema: str) -> None:
    """The DDL of `baselines_table`, for a service's migration (never `create_all`)."""
    op.create_table(
        TABLE,
        *_columns(),
        sa.PrimaryKeyConstraint("collection", "source", "external_id", name=f"pk_{TABLE}"),
        schema=schema,
    )


def drop_baselines_table(op: Any, schema: str) -> None:
    op.drop_table(TABLE, schema=schema)


def canonical(value: Any) -> Any:
    """A value in its JSON form, as the API writes it (Decimal and UUID as strings, dates ISO)."""
    return to_jsonable_python(value)


def sent_fields(data: Any) -> dict[str, Any]:
    """The fields a row sent, canonical, without its key: a validated row model's
    explicitly set fields, or a dict row's keys."""
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json", include=data.model_fields_set - {"external_id"})
    return {k: canonical(v) for k, v in data.items() if k != "external_id"}


@dataclass(frozen=True, slots=True)
class Merge:
    """How a collection takes part in the merge of a bulk upsert with a `source`.

    `stored(external_ids)` answers the records the caller may see among those
    keys, each as `{field: value}` in the row model's input form (the form the
    API returns, the key left out), with every field the row model has that
    the record stores; a field it does not answer is applied as sent.
    `canonical(row_data)` gives the fields a row sent, in the same form
    (default `sent_fields`); a service whose rows it normalises itself says how.
    """

    collection: str
    table: sa.Table
    stored: Callable[[list[str]], Awaitable[Mapping[str, Mapping[str, Any]]]]
    canonical: Callable[[Any], dict[str, Any]] = sent_fields


@dataclass(slots=True)
class Merged:
    """One row's merge: the row to upsert (stored values, the applied file values
    on top) and the fields kept against the file's change, with both values."""

    row: dict[str, Any]
    conflicts: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # field -> (crm, file)
    kept: set[str] = field(default_factory=set)
    no_baseline: bool = False


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def merge_row(
    raw: Mapping[str, Any], sent: Mapping[str, Any], base: Mapping[str, Any] | None, crm: Mapping[str, Any]
) -> Merged:
    """The three-way merge of one row against its stored record (module docstring).
    `raw` is the row as sent (what an applied field takes), `sent` its canonical
    fields, `base` the source's baseline (None: none), `crm` the stored record."""
    row: dict[str, Any] = {**crm, "external_id": raw["external_id"]}
    merged = Merged(row, no_baseline=base is None)
    for name, file in sent.items():
        if name not in crm or crm[name] == file:
            row[name] = raw[name]
            continue
        stored = crm[name]
        if base is not None and name in base:
            if file == base[name]:
                merged.kept.add(name)  # the source did not change it: the CRM's value stays
                continue
            if stored == base[name]:
                row[name] = raw[name]  # only the source changed it
                continue
        elif _empty(stored):
            row[name] = raw[name]  # nothing in the CRM to lose
            continue
        merged.kept.add(name)
        merged.conflicts[name] = (stored, file)
    return merged


def conflict_message(crm: Any, file: Any, *, no_baseline: bool) -> str:
    why = (
        "differs in the CRM and no earlier import from this source says which is newer"
        if no_baseline
        else "changed in the CRM since the last import"
    )
    return f"{why} (CRM: {_shown(crm)}, file: {_shown(file)}); the CRM value was kept"


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


async def load(
    session: AsyncSession, table: sa.Table, *, collection: str, source: str, external_ids: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """The baselines of a batch's keys, in one statement: one primary-key probe
    per key, whatever the statistics say (an import fills the table faster than
    they follow; on those of a small table `external_id = ANY(:keys)` was a scan
    of every baseline per batch, 62% of the database's time in a 100,000-row
    import)."""
    rows = await session.execute(_load_statement(table), {"c": collection, "s": source, "keys": list(external_ids)})
    return {k: (json.loads(v) if isinstance(v, str) else v) for k, v in rows}


def _load_statement(table: sa.Table) -> sa.TextClause:
    # The table's name is the kernel's constant in the service's schema; the values are bound.
    # OFFSET 0 keeps the planner from flattening the probe into a join it could plan as a scan.
    return sa.text(
        "SELECT k.external_id, b.values "  # noqa: S608
        "FROM unnest(CAST(:keys AS text[])) AS k(external_id) "
        "CROSS JOIN LATERAL ("
        f"SELECT t.values FROM {table.fullname} t "
        "WHERE t.collection = :c AND t.source = :s AND t.external_id = k.external_id OFFSET 0"
        ") b"
    )


async def save(
    session: AsyncSession, table: sa.Table, *, collection: str, source: str, rows: Mapping[str, Mapping[str, Any]]
) -> None:
    """Write the baselines of a batch (`external_id -> values`) in one
    `INSERT ... SELECT FROM unnest ... ON CONFLICT DO UPDATE`."""
    if not rows:
        return
    keys = list(rows)
    values = [json.dumps(rows[k], ensure_ascii=False, sort_keys=True) for k in keys]
    await session.execute(_save_statement(table), {"c": collection, "s": source, "keys": keys, "vals": values})


def _save_statement(table: sa.Table) -> sa.TextClause:
    # The table's name is the kernel's constant in the service's schema; the values are bound.
    return sa.text(
        f"INSERT INTO {table.fullname} (collection, source, external_id, values, updated_at) "  # noqa: S608
        "SELECT :c, :s, b.k, CAST(b.v AS jsonb), now() "
        "FROM unnest(CAST(:keys AS text[]), CAST(:vals AS text[])) AS b(k, v) "
        "ON CONFLICT (collection, source, external_id) DO UPDATE "
        "SET values = excluded.values, updated_at = excluded.updated_at"
    )
