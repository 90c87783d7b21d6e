"""The column mapping file: which file feeds each target and how each API field
is made from a row. Pure: no HTTP, no database.

A field is a template (`"{product} for {account|or:no account}"`; any column
name goes between the braces) or a dict: `template`, `values` (a value map; each
change it makes is a normalisation, explained by `why`), `type` (int, decimal,
date, money), `scale`, `when` (only when that column is not empty), `strict` (a
value outside `values` rejects the row), `format` (a date's strptime format),
`locale` (a number's). The whole document is checked first (`schema.problems`);
the columns it reads are checked against each file's header when it is read.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections import abc
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from sanlun.importer import schema
from sanlun.importer.formats import check_locale, parse_date, parse_number
from sanlun.importer.schema import TYPES, did_you_mean
from sanlun.importer.slugs import slug

BUILTIN_DIR = Path(__file__).resolve().parent / "mappings"
# `{column}` or `{column|filter|filter}`: any column name without braces or `|` (`{office (HQ)}`, `{客户}`).
PLACEHOLDER = re.compile(r"\{([^{}|]+)((?:\|[^{}|]*)*)\}")
FILTERS = ("slug", "lower", "upper", "or:<default>")
TYPED_MEMO = 4096  # distinct raw texts a field keeps the typed value of (`Field.typed_memo`)


class MappingError(Exception):
    """The mapping file itself is wrong (not a row of data)."""


class RowError(Exception):
    """This row cannot be mapped; the message is the reason reported."""


__all__ = ["Field", "Mapping", "MappingError", "RowError", "Template", "load_mapping", "parse_field", "slug"]


def _check_filter(name: str, template: str) -> None:
    if name not in FILTERS[:3] and not name.startswith("or:"):
        raise MappingError(
            f"template {template!r}: unknown filter |{name}{did_you_mean(name, FILTERS)}; known: {', '.join(FILTERS)}"
        )


def _filter(value: str, name: str) -> str:
    if name == "slug":
        return slug(value)
    if name == "lower":
        return value.lower()
    if name == "upper":
        return value.upper()
    if name.startswith("or:"):
        return value or name[3:]
    raise MappingError(f"unknown filter |{name}")


@dataclass(frozen=True)
class Template:
    text: str
    # The text cut at its placeholders once: literal strings and (column, filters) pairs.
    parts: tuple[str | tuple[str, tuple[str, ...]], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts: list[str | tuple[str, tuple[str, ...]]] = []
        at = 0
        for m in PLACEHOLDER.finditer(self.text):
            if m.start() > at:
                parts.append(self.text[at : m.start()])
            filters = tuple(f.strip() for f in m.group(2).split("|")[1:])
            for name in filters:
                _check_filter(name, self.text)
            parts.append((m.group(1).strip(), filters))
            at = m.end()
        if at < len(self.text):
            parts.append(self.text[at:])
        object.__setattr__(self, "parts", tuple(parts))

    def columns(self) -> list[str]:
        return [part[0] for part in self.parts if not isinstance(part, str)]

    def render(self, row: abc.Mapping[str, str]) -> str:
        """The text with each placeholder replaced by its column's value (stripped,
        then filtered); interned, since most values repeat over a file's rows."""
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            column, filters = part
            if column not in row:
                raise RowError(f"column {column!r} is missing")
            value = (row[column] or "").strip()
            for name in filters:
                value = _filter(value, name)
            out.append(value)
        return sys.intern("".join(out))


@dataclass(frozen=True)
class Field:
    name: str
    template: Template
    type: str = "text"
    values: dict[str, str] = field(default_factory=dict)
    why: str = ""
    scale: Decimal = Decimal(1)
    when: str | None = None
    strict: bool = False
    # How the text is read: a date's strptime format (None: YYYY-MM-DD), a number's locale (None:
    # `formats.parse_number`'s rule), and whether a YYYY-MM-DD value is a date whatever the format
    # (an .xlsx date cell reads as one).
    format: str | None = None
    locale: str | None = None
    iso_too: bool = False
    # Whole days added to a `date` (the data clock, `Mapping.shifted`); 0 reads the file as it is.
    shift_days: int = 0
    # The typed value of each raw text seen, so the rows that repeat one (a date, an amount) share one
    # object instead of holding one each. Bounded: a column whose values never repeat stops filling it.
    typed_memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def evaluate(self, row: abc.Mapping[str, str], notes: list[str]) -> Any:
        """The field's value for `row` (None when empty or `when` is not met);
        appends a sentence to `notes` for each value normalised."""
        if self.when is not None and not (row.get(self.when) or "").strip():
            return None
        raw = self.template.render(row)
        if raw in self.values:
            fixed = self.values[raw]
            # A plain translation (Won -> won) is the mapping; a value fixed for a reason is a normalisation.
            if fixed != raw and self.why:
                notes.append(f"{self.name} {raw!r} read as {fixed!r} ({self.why})")
            raw = fixed
        elif self.strict and raw:
            raise RowError(f"{self.name} {raw!r} is not one of {', '.join(sorted(self.values))}")
        if raw == "":
            return None
        return self._typed(raw)

    def _typed(self, raw: str) -> Any:
        if self.type == "text":
            return raw
        value = self.typed_memo.get(raw)
        if value is None:
            value = self._convert(raw)
            if len(self.typed_memo) < TYPED_MEMO:
                self.typed_memo[raw] = value
        return value

    def _convert(self, raw: str) -> Any:
        if self.type == "date":
            try:
                day = parse_date(raw, self.format, iso_too=self.iso_too)
            except ValueError as exc:
                raise RowError(f"{self.name} {raw!r} {exc}") from None
            try:
                return day + dt.timedelta(days=self.shift_days)
            except OverflowError:
                raise RowError(f"{self.name} {raw!r} moved by {self.shift_days} days is not a date") from None
        try:
            number = parse_number(raw, self.locale) * self.scale
        except ValueError as exc:
            raise RowError(f"{self.name} {raw!r} {exc}") from None
        if not number.is_finite() or number < 0:
            raise RowError(f"{self.name} {raw!r} is not a non-negative number")
        if self.type == "int":
            if number != number.to_integral_value():
                raise RowError(f"{self.name} {raw!r} is not a whole number")
            return int(number)
        if self.type == "money":
            return number.quantize(Decimal("0.01"))
        return number


def parse_field(
    name: str, spec: Any, *, locale: str | None = None, date_format: str | None = None, sheet: bool = False
) -> Field:
    """A field from its spec; `locale` and `date_format` are the mapping's (a field's own win);
    `sheet`: read from an .xlsx file, whose number cells need no locale and date cells read YYYY-MM-DD."""
    if isinstance(spec, (str, int, float)):
        return Field(name, Template(str(spec)))
    if not isinstance(spec, dict) or "template" not in spec:
        raise MappingError(f"field {name!r}: give a template string or a dict with `template`")
    unknown = set(spec) - set(schema.FIELD_KEYS)
    if unknown:
        raise MappingError(f"field {name!r}: unknown keys {', '.join(sorted(unknown))}")
    kind = spec.get("type", "text")
    if kind not in TYPES:
        raise MappingError(f"field {name!r}: type must be one of {', '.join(TYPES)}")
    try:
        own = check_locale(str(spec["locale"])) if "locale" in spec else None
    except ValueError as exc:
        raise MappingError(f"field {name!r}: {exc}") from None
    if sheet and own is not None and own not in ("en", "zh", "ja", "ko"):
        # A number cell reads as `1234.5`: under a decimal-comma locale it would be misread.
        raise MappingError(f"field {name!r}: locale {own} on an .xlsx file would misread its number cells")
    return Field(
        name,
        Template(str(spec["template"])),
        type=kind,
        values={str(k): str(v) for k, v in (spec.get("values") or {}).items()},
        why=str(spec.get("why", "")),
        scale=Decimal(str(spec.get("scale", 1))),
        when=spec.get("when"),
        strict=bool(spec.get("strict", False)),
        format=str(spec["format"]) if "format" in spec else date_format,
        locale=own if own is not None or sheet else locale,
        iso_too=sheet,
    )


@dataclass(frozen=True)
class FileOptions:
    """How one file is read (the mapping's `files:` section); None: detected."""

    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | int | None = None


@dataclass(frozen=True)
class Earliest:
    """A date taken as the earliest value of a column in another file, over the rows that match."""

    file: str
    column: str
    match: str
    format: str | None = None
    iso_too: bool = False

    def parse(self, raw: str) -> dt.date | None:
        try:
            return parse_date(raw, self.format, iso_too=self.iso_too)
        except ValueError:
            return None


@dataclass(frozen=True)
class PersonSpec:
    fields: dict[str, Field]
    earliest: dict[str, Earliest]


@dataclass(frozen=True)
class Mapping:
    name: str
    currency: str
    org_fixed: list[dict[str, str]]
    org_file: str | None
    org_levels: list[dict[str, Field]]
    employees_file: str | None
    people: list[PersonSpec]
    accounts_file: str | None
    accounts_org_unit: str | None
    account_fields: dict[str, Field]
    size_bands: list[tuple[int | None, str]]
    solutions_file: str | None
    solution_fields: dict[str, Field]
    opportunities_file: str | None
    opportunity_fields: dict[str, Field]
    list_price_when: frozenset[str]
    source: str | None
    facts: bool
    # Whole days every date of the data set is moved by (`shifted`); people's `earliest_in` dates too.
    shift_days: int = 0
    # How each file is read (`files:`), and every column the mapping reads: (file, where, column),
    # checked against each file's header once it is read (`schema.column_problems`).
    file_options: dict[str, FileOptions] = field(default_factory=dict)
    uses: tuple[tuple[str, str, str], ...] = ()

    def shifted(self, days: int) -> Mapping:
        """This mapping with every date it produces moved by `days` (from the file's dates, not cumulative)."""

        def moved(fields: dict[str, Field]) -> dict[str, Field]:
            return {n: replace(f, shift_days=days) if f.type == "date" else f for n, f in fields.items()}

        return replace(
            self,
            org_levels=[moved(level) for level in self.org_levels],
            people=[PersonSpec(moved(p.fields), p.earliest) for p in self.people],
            account_fields=moved(self.account_fields),
            solution_fields=moved(self.solution_fields),
            opportunity_fields=moved(self.opportunity_fields),
            shift_days=days,
        )

    def files(self) -> list[str]:
        named = [self.org_file, self.employees_file, self.accounts_file, self.solutions_file, self.opportunities_file]
        named += [e.file for p in self.people for e in p.earliest.values()]
        return list(dict.fromkeys(f for f in named if f))


def load_mapping(source: str | Path) -> Mapping:
    """A mapping by built-in name (`maven-crm`) or by path to a YAML file."""
    path = Path(source)
    if not path.exists():
        builtin = BUILTIN_DIR / f"{str(source).replace('-', '_')}.yaml"
        if not builtin.exists():
            names = ", ".join(sorted(p.stem.replace("_", "-") for p in BUILTIN_DIR.glob("*.yaml")))
            raise MappingError(f"no mapping file {source!r} and no built-in mapping of that name (built in: {names})")
        path = builtin
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise MappingError(f"{path}: expected a YAML mapping at the top")
    return parse_mapping(doc)


def parse_mapping(doc: dict[str, Any]) -> Mapping:
    found = schema.problems(doc)
    if found:
        head = "the mapping has a problem" if len(found) == 1 else f"the mapping has {len(found)} problems"
        raise MappingError(f"{head}: " + "; ".join(found))
    locale = check_locale(str(doc["locale"])) if "locale" in doc else None
    date_format = str(doc["date_format"]) if "date_format" in doc else None
    uses: list[tuple[str, str, str]] = []

    def fields(specs: dict[str, Any], file: str | None, where: str) -> dict[str, Field]:
        sheet = schema.is_sheet(file or "")
        out = {}
        for name, spec in specs.items():
            f = parse_field(name, spec, locale=locale, date_format=date_format, sheet=sheet)
            uses.extend((file or "", f"{where}.{name}", column) for column in f.template.columns())
            if f.when is not None:
                uses.append((file or "", f"{where}.{name}.when", f.when))
            out[name] = f
        return out

    org = doc.get("org_units") or {}
    emp = doc.get("employees") or {}
    acc = doc.get("accounts") or {}
    sol = doc.get("solutions") or {}
    opp = doc.get("opportunities") or {}
    people = []
    for i, person in enumerate(emp.get("people") or []):
        where = f"employees.people[{i}]"
        earliest = {}
        for k, v in person.items():
            if isinstance(v, dict) and "earliest_in" in v:
                fmt = str(v["format"]) if "format" in v else date_format
                earliest[k] = Earliest(
                    v["earliest_in"], v["column"], v["match"], fmt, schema.is_sheet(v["earliest_in"])
                )
                uses.append((v["earliest_in"], f"{where}.{k}.column", v["column"]))
                uses.append((v["earliest_in"], f"{where}.{k}.match", v["match"]))
                uses.append((emp.get("file") or "", f"{where}.{k}.match", v["match"]))
        people.append(
            PersonSpec(fields({k: v for k, v in person.items() if k not in earliest}, emp.get("file"), where), earliest)
        )
    bands = [(None if b[0] is None else int(b[0]), str(b[1])) for b in acc.get("size_bands") or []]
    mapping = Mapping(
        name=str(doc.get("name") or "import"),
        currency=str(doc.get("currency") or "CNY"),
        org_fixed=[{k: str(v) for k, v in u.items()} for u in org.get("fixed") or []],
        org_file=org.get("file"),
        org_levels=[
            fields(level, org.get("file"), f"org_units.levels[{i}]") for i, level in enumerate(org.get("levels") or [])
        ],
        employees_file=emp.get("file"),
        people=people,
        accounts_file=acc.get("file"),
        accounts_org_unit=acc.get("org_unit"),
        account_fields=fields(acc.get("fields") or {}, acc.get("file"), "accounts.fields"),
        size_bands=bands,
        solutions_file=sol.get("file"),
        solution_fields=fields(sol.get("fields") or {}, sol.get("file"), "solutions.fields"),
        opportunities_file=opp.get("file"),
        opportunity_fields=fields(opp.get("fields") or {}, opp.get("file"), "opportunities.fields"),
        list_price_when=frozenset(opp.get("amount_from_list_price_when") or []),
        source=opp.get("source"),
        facts=bool(opp.get("facts", False)),
        file_options={
            name: FileOptions(o.get("encoding"), o.get("delimiter"), o.get("sheet"))
            for name, o in (doc.get("files") or {}).items()
        },
        uses=tuple(uses),
    )
    if not re.fullmatch(r"[A-Z]{3}", mapping.currency):
        raise MappingError("currency must be a 3-letter ISO 4217 code")
    return mapping
