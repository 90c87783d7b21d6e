"""What a mapping file may say, checked before anything is read or written.

Every key, section, target field, field option and filter is listed here; a
name that is not is an error with the nearest known name as a suggestion
(`amout` -> did you mean `amount`?), so a typo can no longer drop a field, a
currency or a section without a word. Each target field also says what kind of
value it takes, so `type: date` on a person's e-mail is a mapping error rather
than a failure half-way through a run. Columns are checked against each file's
header separately (`column_problems`), once the files are read.
"""

from __future__ import annotations

import codecs
import difflib
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from sanlun.importer.formats import check_date_format, check_locale

TEXT, INT, NUMBER, DATE = "text", "int", "number", "date"
# A field's `type` each kind of target field takes.
TYPES_OF = {TEXT: ("text",), INT: ("int",), NUMBER: ("money", "decimal", "int"), DATE: ("date",)}
TYPES = ("text", "int", "decimal", "date", "money")

TOP_KEYS = (
    "name",
    "currency",
    "locale",
    "date_format",
    "files",
    "org_units",
    "employees",
    "accounts",
    "solutions",
    "opportunities",
)
SECTION_KEYS = {
    "org_units": ("fixed", "file", "levels"),
    "employees": ("file", "people"),
    "accounts": ("file", "org_unit", "fields", "size_bands"),
    "solutions": ("file", "fields"),
    "opportunities": ("file", "fields", "amount_from_list_price_when", "source", "facts"),
}
# The fields the importer makes for each target, and what each takes. Org units, employees and
# accounts send what the mapping makes (their bulk rows' fields); solutions and opportunities
# are built field by field by the plan, so only these reach the API.
FIELDS: dict[str, dict[str, str]] = {
    "org_units": {"external_id": TEXT, "slug": TEXT, "name": TEXT, "parent_external_id": TEXT},
    "employees": {
        "external_id": TEXT,
        "name": TEXT,
        "email": TEXT,
        "org_unit": TEXT,  # the external id of a unit the import makes; sent as its path
        "manager_external_id": TEXT,
        "capacity": INT,
        "entered_sales_on": DATE,
        "hire_date": DATE,
    },
    "accounts": {
        "external_id": TEXT,
        "name": TEXT,
        "industry": TEXT,
        "headquarters": TEXT,
        "parent_external_id": TEXT,
        "annual_revenue": NUMBER,
        "employees": INT,
        "potential": INT,
        "solution_fit": INT,
        "strategic_value": INT,
    },
    "solutions": {"name": TEXT, "family": TEXT, "list_price": NUMBER},
    "opportunities": {
        "external_id": TEXT,
        "name": TEXT,
        "owner": TEXT,
        "account": TEXT,
        "solution": TEXT,
        "stage": TEXT,
        "engaged_on": DATE,
        "closed_on": DATE,
        "amount": NUMBER,
    },
}
REQUIRED = {
    "org_units": ("external_id", "slug", "name"),
    "employees": ("external_id", "name", "email", "org_unit"),
    "accounts": ("external_id", "name"),
    "solutions": ("name",),
    "opportunities": ("external_id",),
}
FIELD_KEYS = ("template", "type", "values", "why", "scale", "when", "strict", "format", "locale")
EARLIEST_KEYS = ("earliest_in", "column", "match", "format")
FILE_KEYS = ("encoding", "delimiter", "sheet")
FILTERS = ("slug", "lower", "upper", "or:")
SHEET_SUFFIXES = (".xlsx", ".xlsm")


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the nearest known name, or `` when none is near."""
    close = difflib.get_close_matches(str(name), list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown(what: str, name: Any, known: Iterable[str]) -> str:
    known = list(known)
    return f"unknown {what} {name!r}{did_you_mean(str(name), known)}; known: {', '.join(known)}"


def is_sheet(file: str) -> bool:
    return file.lower().endswith(SHEET_SUFFIXES)


def problems(doc: Mapping[str, Any]) -> list[str]:
    """Every problem of the mapping document, each `where: what`."""
    out = [f"top level: {unknown('key or section', key, TOP_KEYS)}" for key in doc if key not in TOP_KEYS]
    if "locale" in doc:
        _locale(out, "locale", doc["locale"])
    if "date_format" in doc:
        _date_format(out, "date_format", doc["date_format"])
    for section, keys in SECTION_KEYS.items():
        body = doc.get(section)
        if body is None:
            continue
        if not isinstance(body, dict):
            out.append(f"{section}: expected a mapping of {', '.join(keys)}")
            continue
        out.extend(f"{section}: {unknown('key', key, keys)}" for key in body if key not in keys)
        if "file" in body and not isinstance(body["file"], str):
            out.append(f"{section}.file: expected a file name")
        _section(out, section, body)
    _files(out, doc)
    return out


def _section(out: list[str], section: str, body: Mapping[str, Any]) -> None:
    if section == "org_units":
        for i, unit in enumerate(_list(out, "org_units.fixed", body.get("fixed"))):
            _fields(out, f"org_units.fixed[{i}]", section, unit, fixed=True)
        for i, level in enumerate(_list(out, "org_units.levels", body.get("levels"))):
            _fields(out, f"org_units.levels[{i}]", section, level)
        if body.get("levels") and not body.get("file"):
            out.append("org_units: levels need a `file` to read")
        return
    if section == "employees":
        people = _list(out, "employees.people", body.get("people"))
        for i, person in enumerate(people):
            _fields(out, f"employees.people[{i}]", section, person)
        if people and not body.get("file"):
            out.append("employees: people need a `file` to read")
        return
    where = f"{section}.fields"
    if not isinstance(body.get("fields"), dict):
        out.append(f"{where}: expected a mapping of field -> template or spec")
    else:
        _fields(out, where, section, body["fields"])
        if not body.get("file"):
            out.append(f"{section}: fields need a `file` to read")
    if section == "accounts":
        out.extend(
            f"accounts.size_bands: {band!r} is not [upper limit or null, band]"
            for band in _list(out, "accounts.size_bands", body.get("size_bands"))
            if not (isinstance(band, list) and len(band) == 2 and (band[0] is None or isinstance(band[0], int)))
        )
    if section == "opportunities":
        when = _list(out, "opportunities.amount_from_list_price_when", body.get("amount_from_list_price_when"))
        for value in when:
            if value not in ("empty", "zero"):
                known = ("empty", "zero")
                out.append(f"opportunities.amount_from_list_price_when: {unknown('case', value, known)}")
        if "facts" in body and not isinstance(body["facts"], bool):
            out.append("opportunities.facts: expected true or false")


def _list(out: list[str], where: str, value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        out.append(f"{where}: expected a list")
        return []
    return value


def _fields(out: list[str], where: str, entity: str, fields: Any, *, fixed: bool = False) -> None:
    if not isinstance(fields, dict):
        out.append(f"{where}: expected a mapping of field -> template or spec")
        return
    known = FIELDS[entity]
    for name, spec in fields.items():
        at = f"{where}.{name}"
        if name not in known:
            out.append(f"{where}: {unknown(f'{entity} field', name, known)}")
        elif fixed:
            if not isinstance(spec, (str, int)):
                out.append(f"{at}: expected a value")
        elif entity == "employees" and isinstance(spec, dict) and "earliest_in" in spec:
            _earliest(out, at, known[name], spec)
        else:
            _field(out, at, known[name], spec)
    missing = [f for f in REQUIRED[entity] if f not in fields]
    if missing:
        out.append(f"{where}: missing {', '.join(missing)}")


def _field(out: list[str], at: str, kind: str, spec: Any) -> None:
    if isinstance(spec, (str, int, float)) and not isinstance(spec, bool):
        if kind != TEXT:
            out.append(f"{at}: takes {_kind(kind)}: give {{template: ..., type: {TYPES_OF[kind][0]}}}")
        return
    if not isinstance(spec, dict) or "template" not in spec:
        out.append(f"{at}: give a template string or a mapping with `template`")
        return
    out.extend(f"{at}: {unknown('option', key, FIELD_KEYS)}" for key in spec if key not in FIELD_KEYS)
    kind_of = spec.get("type", "text")
    if kind_of not in TYPES:
        out.append(f"{at}: {unknown('type', kind_of, TYPES)}")
    elif kind_of not in TYPES_OF[kind]:
        out.append(f"{at}: type {kind_of} on a field that takes {_kind(kind)} (type: {' or '.join(TYPES_OF[kind])})")
    if "format" in spec:
        if kind_of != "date":
            out.append(f"{at}: `format` is for type date")
        _date_format(out, f"{at}.format", spec["format"])
    if "locale" in spec:
        if kind_of not in ("int", "decimal", "money"):
            out.append(f"{at}: `locale` is for numbers (type int, decimal or money)")
        _locale(out, f"{at}.locale", spec["locale"])
    if "scale" in spec:
        try:
            Decimal(str(spec["scale"]))
        except InvalidOperation:
            out.append(f"{at}.scale: {spec['scale']!r} is not a number")
    if "values" in spec and not isinstance(spec["values"], dict):
        out.append(f"{at}.values: expected a mapping of file value -> value")
    out.extend(
        f"{at}.{key}: expected text" for key in ("when", "why") if key in spec and not isinstance(spec[key], str)
    )
    if "strict" in spec and not isinstance(spec["strict"], bool):
        out.append(f"{at}.strict: expected true or false")


def _earliest(out: list[str], at: str, kind: str, spec: dict[str, Any]) -> None:
    if kind != DATE:
        out.append(f"{at}: `earliest_in` makes a date, and this field takes {_kind(kind)}")
    out.extend(f"{at}: {unknown('option', key, EARLIEST_KEYS)}" for key in spec if key not in EARLIEST_KEYS)
    out.extend(
        f"{at}: `{key}` must name a {'file' if key == 'earliest_in' else 'column'}"
        for key in ("earliest_in", "column", "match")
        if not isinstance(spec.get(key), str)
    )
    if "format" in spec:
        _date_format(out, f"{at}.format", spec["format"])


def _kind(kind: str) -> str:
    return {TEXT: "text", INT: "a whole number", NUMBER: "a number", DATE: "a date"}[kind]


def _locale(out: list[str], at: str, value: Any) -> None:
    try:
        check_locale(str(value))
    except ValueError as exc:
        out.append(f"{at}: {exc}")


def _date_format(out: list[str], at: str, value: Any) -> None:
    try:
        check_date_format(str(value))
    except ValueError as exc:
        out.append(f"{at}: {exc}")


def _files(out: list[str], doc: Mapping[str, Any]) -> None:
    files = doc.get("files")
    if files is None:
        return
    if not isinstance(files, dict):
        out.append("files: expected a mapping of file name -> options")
        return
    read = read_files(doc)
    for name, options in files.items():
        at = f"files.{name}"
        if name not in read:
            out.append(f"files: {name!r} is not a file the mapping reads{did_you_mean(name, read)}")
        if not isinstance(options, dict):
            out.append(f"{at}: expected a mapping of {', '.join(FILE_KEYS)}")
            continue
        out.extend(f"{at}: {unknown('option', key, FILE_KEYS)}" for key in options if key not in FILE_KEYS)
        if "encoding" in options:
            try:
                codecs.lookup(str(options["encoding"]))
            except LookupError:
                out.append(
                    f"{at}.encoding: {options['encoding']!r} is not an encoding Python knows (cp1252, gb18030, ...)"
                )
        delimiter = options.get("delimiter")
        if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '"\r\n'):
            out.append(f"{at}.delimiter: one character, e.g. ',' ';' '|' or '\\t'")
        if is_sheet(str(name)):
            if "encoding" in options or "delimiter" in options:
                out.append(f"{at}: an .xlsx file has no encoding or delimiter")
        elif "sheet" in options:
            out.append(f"{at}.sheet: only an .xlsx file has sheets")


def read_files(doc: Mapping[str, Any]) -> list[str]:
    """The files a mapping document names (its sections' and its `earliest_in` ones)."""
    names = []
    for section in SECTION_KEYS:
        body = doc.get(section)
        if isinstance(body, dict) and isinstance(body.get("file"), str):
            names.append(body["file"])
    emp = doc.get("employees")
    people = emp.get("people") if isinstance(emp, dict) else None
    names.extend(
        spec["earliest_in"]
        for person in (people if isinstance(people, list) else [])
        for spec in (person.values() if isinstance(person, dict) else [])
        if isinstance(spec, dict) and isinstance(spec.get("earliest_in"), str)
    )
    return list(dict.fromkeys(names))


def column_problems(file: str, header: list[str], uses: Iterable[tuple[str, str]]) -> list[str]:
    """The problems of the columns the mapping reads from `file` (`uses`: (where, column)) against its header."""
    out = []
    counts: dict[str, int] = {}
    for column in header:
        counts[column] = counts.get(column, 0) + 1
    for where, column in uses:
        if column not in counts:
            out.append(f"{where}: column {column!r} is not in {file}{did_you_mean(column, counts)}")
        elif counts[column] > 1:
            out.append(f"{where}: column {column!r} is named {counts[column]} times in {file}'s header")
    return list(dict.fromkeys(out))
