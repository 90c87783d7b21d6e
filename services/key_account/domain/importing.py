"""Bulk account import: check each row, name every problem, drop nothing silently.

`check_rows` validates and normalises the rows on their own (types, ranges,
duplicates within the batch, the known sector misspellings); `resolve_parents`
then checks each `parent_external_id` against the batch and the accounts that
already exist, and refuses parent cycles inside the batch.
"""

from __future__ import annotations

import difflib
import re
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

CANONICAL_INDUSTRIES = (
    "technology",
    "software",
    "medical",
    "retail",
    "finance",
    "marketing",
    "services",
    "telecommunications",
    "entertainment",
    "employment",
    "manufacturing",
    "energy",
    "education",
    "government",
    "logistics",
)
# Seen in real data; matched before the fuzzy fallback.
KNOWN_MISSPELLINGS = {"technolgy": "technology", "telecomunications": "telecommunications"}
FIELDS = frozenset(
    {
        "external_id",
        "name",
        "industry",
        "annual_revenue",
        "employees",
        "headquarters",
        "parent_external_id",
        "owner_id",
        "org_unit_path",
        "potential",
        "strategic_value",
        "solution_fit",
    }
)
SCORES = ("potential", "strategic_value", "solution_fit")
# Columns a row may set; a field the row leaves out keeps its stored value.
UPSERT_FIELDS = (
    "name",
    "industry",
    "annual_revenue_amount",
    "annual_revenue_currency",
    "employees",
    "headquarters",
    "owner_id",
    "org_unit_path",
    *SCORES,
)
# The fields a row clears by sending null, and their columns (a field the row leaves
# out keeps its stored value). Not `name` (required), `org_unit_path` (an account is
# always placed: null keeps it) nor `parent_external_id` (a stored account whose
# parent has no external id reads as null, so a re-import's merge would unlink it:
# null keeps the parent, naming another moves it, PATCH `parent_id: null` clears it).
CLEARABLE = {
    "industry": ("industry",),
    "annual_revenue": ("annual_revenue_amount", "annual_revenue_currency"),
    "employees": ("employees",),
    "headquarters": ("headquarters",),
    "owner_id": ("owner_id",),
    **{name: (name,) for name in SCORES},
}
ORG_UNIT_PATH = re.compile(r"^(/[A-Za-z0-9][A-Za-z0-9_.\-]*)+$")
CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass
class RowOutcome:
    index: int
    external_id: str | None
    values: dict[str, Any] = field(default_factory=dict)
    # The columns the row clears: fields of CLEARABLE it sent as null.
    cleared: set[str] = field(default_factory=set)
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, name: str, msg: str, code: str) -> None:
        self.errors.append({"loc": ["body", "items", self.index, name], "msg": msg, "code": code})

    def warn(self, name: str, msg: str, code: str) -> None:
        self.warnings.append({"loc": ["body", "items", self.index, name], "msg": msg, "code": code})


def normalise_industry(raw: str) -> tuple[str, str | None]:
    """The industry to store and, when it differs from what was sent, why."""
    value = " ".join(raw.split()).lower()
    if value in KNOWN_MISSPELLINGS:
        fixed = KNOWN_MISSPELLINGS[value]
        return fixed, f"sector '{raw}' normalised to '{fixed}' (known misspelling)"
    if value in CANONICAL_INDUSTRIES:
        return value, None
    close = difflib.get_close_matches(value, CANONICAL_INDUSTRIES, n=1, cutoff=0.85)
    if close:
        return close[0], f"sector '{raw}' normalised to '{close[0]}' (closest known sector)"
    return value, None


def _text(out: RowOutcome, row: Mapping[str, Any], name: str, max_len: int, *, required: bool = False) -> None:
    value = row.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            out.error(name, "is required", "missing")
        return
    if not isinstance(value, str):
        out.error(name, "must be a string", "type")
        return
    value = value.strip()
    if len(value) > max_len:
        out.error(name, f"at most {max_len} characters", "too_long")
        return
    out.values[name] = value


def _int(out: RowOutcome, row: Mapping[str, Any], name: str, lo: int, hi: int) -> None:
    value = row.get(name)
    if value is None or value == "":
        return
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        out.error(name, "must be an integer", "type")
        return
    try:
        number = int(value)
    except ValueError:
        out.error(name, f"'{value}' is not an integer", "type")
        return
    if not lo <= number <= hi:
        out.error(name, f"must be between {lo} and {hi}", "range")
        return
    out.values[name] = number


def _money(out: RowOutcome, row: Mapping[str, Any], name: str) -> None:
    value = row.get(name)
    if value is None:
        return
    if not isinstance(value, Mapping) or set(value) != {"amount", "currency"}:
        out.error(name, 'must be {"amount": "<decimal>", "currency": "<ISO 4217>"}', "type")
        return
    try:
        amount = Decimal(str(value["amount"]))
    except InvalidOperation:
        out.error(name, f"amount '{value['amount']}' is not a decimal", "type")
        return
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e16"):
        out.error(name, "amount must be between 0 and 10^16", "range")
        return
    if amount != amount.quantize(Decimal("0.01")):
        out.error(name, "amount has more than 2 decimal places", "precision")
        return
    if not isinstance(value["currency"], str) or not CURRENCY.match(value["currency"]):
        out.error(name, "currency must be a 3-letter ISO 4217 code", "type")
        return
    out.values["annual_revenue_amount"] = amount.quantize(Decimal("0.01"))
    out.values["annual_revenue_currency"] = value["currency"]


def check_row(index: int, row: Any) -> RowOutcome:
    if not isinstance(row, Mapping):
        out = RowOutcome(index, None)
        out.error("row", "must be an object", "type")
        return out
    ext = row.get("external_id")
    out = RowOutcome(index, ext.strip() if isinstance(ext, str) else None)
    for name in sorted(set(row) - FIELDS):
        out.error(name, "unknown field", "unknown_field")
    _text(out, row, "external_id", 200, required=True)
    _text(out, row, "name", 200, required=True)
    _text(out, row, "headquarters", 200)
    _text(out, row, "parent_external_id", 200)
    _text(out, row, "industry", 100)
    if "industry" in out.values:
        industry, note = normalise_industry(out.values["industry"])
        out.values["industry"] = industry
        if note:
            out.warn("industry", note, "normalised")
    _int(out, row, "employees", 0, 100_000_000)
    for name in SCORES:
        _int(out, row, name, 0, 100)
    _money(out, row, "annual_revenue")
    owner = row.get("owner_id")
    if owner is not None:
        try:
            out.values["owner_id"] = uuid.UUID(str(owner))
        except ValueError:
            out.error("owner_id", f"'{owner}' is not a UUID", "type")
    out.cleared = {
        column for name, columns in CLEARABLE.items() if name in row and row[name] is None for column in columns
    }
    path = row.get("org_unit_path")
    if path is not None:
        if not isinstance(path, str) or not ORG_UNIT_PATH.match(path) or len(path) > 500:
            out.error("org_unit_path", "must be a path like /group/east/team-3", "type")
        else:
            out.values["org_unit_path"] = path
    return out


def check_rows(rows: Sequence[Any]) -> list[RowOutcome]:
    outcomes = [check_row(i, row) for i, row in enumerate(rows)]
    first: dict[str, int] = {}
    for out in outcomes:
        key = out.values.get("external_id")
        if key is None:
            continue
        if key in first:
            out.error("external_id", f"duplicate of row {first[key]} in this batch", "duplicate")
        else:
            first[key] = out.index
    return outcomes


def resolve_parents(
    outcomes: list[RowOutcome],
    existing_external_ids: Collection[str],
    existing_parent_of: Mapping[str, str | None] | None = None,
) -> None:
    """Fail rows whose parent is unknown, failed, or closes a cycle, in the batch
    or through existing accounts (`existing_parent_of`: stored account key → its
    parent's key, for the ancestry of the parents the batch names)."""
    by_ext = {o.values["external_id"]: o for o in outcomes if "external_id" in o.values and not _is_duplicate(o)}
    for out in outcomes:
        parent = out.values.get("parent_external_id")
        if parent is None or not out.ok:
            continue
        if parent == out.values.get("external_id"):
            out.error("parent_external_id", "an account cannot be its own parent", "cycle")
        elif parent not in by_ext and parent not in existing_external_ids:
            out.error(
                "parent_external_id",
                f"unknown parent '{parent}': not in this batch nor among existing accounts",
                "unknown_parent",
            )
    _fail_cycles(outcomes, by_ext, existing_parent_of or {})
    # A child of a failed row fails too (repeat until stable: chains fail whole).
    changed = True
    while changed:
        changed = False
        for out in outcomes:
            parent = out.values.get("parent_external_id")
            if out.ok and parent in by_ext and not by_ext[parent].ok:
                out.error("parent_external_id", f"parent row {by_ext[parent].index} failed", "parent_failed")
                changed = True


def _is_duplicate(out: RowOutcome) -> bool:
    return any(e["code"] == "duplicate" for e in out.errors)


def _fail_cycles(
    outcomes: list[RowOutcome], by_ext: Mapping[str, RowOutcome], existing_parent_of: Mapping[str, str | None]
) -> None:
    def parent_of(node: str) -> str | None:
        # A parent the batch names wins over the stored one (it is the hierarchy after
        # the import); a row that names none keeps its stored parent.
        if node in by_ext and "parent_external_id" in by_ext[node].values:
            parent: str = by_ext[node].values["parent_external_id"]  # _text stores only stripped strings
            return parent
        return existing_parent_of.get(node)

    for start in outcomes:
        if not start.ok or start.values.get("parent_external_id") is None:
            continue
        seen: list[str] = []
        node: str | None = start.values.get("external_id")
        while node is not None and node not in seen:
            seen.append(node)
            node = parent_of(node)
        if node is not None:  # the walk came back: the accounts from `node` on form a cycle
            cycle = seen[seen.index(node) :]
            for ext in cycle:
                row = by_ext.get(ext)
                # Blame the rows that set a parent: a row keeping its stored parent did not close the loop.
                if row is not None and row.ok and "parent_external_id" in row.values:
                    row.error(
                        "parent_external_id", f"parent chain is a cycle: {' -> '.join([*cycle, cycle[0]])}", "cycle"
                    )
