"""How a file's text is read as a number or a date: strictly, by a locale or a
format the mapping gives, and never by a guess. Pure: no HTTP, no database.

Numbers. A locale says which character groups thousands and which is the
decimal mark; groups must be whole (`1.234.567,5`, not `1.23,5`). With no
locale, `.` is the decimal mark (as in the sample set and in machine exports),
and `,` is read as a thousands separator only where it cannot be a decimal
comma (`1,234,567` or `1,234.50`); `1,234` and `1.234` (1234, or 1.234?) and
`1,5` are rejected with a reason asking for a locale.

Dates. `YYYY-MM-DD` without a format; with one (`%d-%m-%y`, strptime's
directives), only what the format reads. `03/04/17` without a format is
rejected: the order of day and month cannot be told from the value.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

# locale -> (thousands separators, decimal mark). Languages that write numbers alike share a style.
_EN = (",", ".")
_DE = (".", ",")
_FR = (" \u00a0\u202f", ",")
_CH = ("'\u2019", ".")
LOCALES: dict[str, tuple[str, str]] = {
    "en": _EN,
    "zh": _EN,
    "ja": _EN,
    "ko": _EN,
    "de": _DE,
    "es": _DE,
    "it": _DE,
    "nl": _DE,
    "pt": _DE,
    "id": _DE,
    "tr": _DE,
    "da": _DE,
    "fr": _FR,
    "ru": _FR,
    "pl": _FR,
    "cs": _FR,
    "sv": _FR,
    "fi": _FR,
    "nb": _FR,
    "de-ch": _CH,
}
_DIGITS = re.compile(r"\d+")
_NO_LOCALE = (
    (re.compile(r"[1-9]\d{0,2}[.,]\d{3}"), None),  # 1,234 or 1.234: 1234, or a number with three decimals?
    (re.compile(r"\d+(?:\.\d+)?|\.\d+"), ""),  # 1234, 1234.5, .5
    (re.compile(r"\d{1,3}(?:,\d{3})+\.\d+"), ","),  # 1,234.50: a decimal point follows the groups
    (re.compile(r"\d{1,3}(?:,\d{3}){2,}"), ","),  # 1,234,567: two commas cannot both be decimal marks
)
# A format must say the day, the month and the year.
_DAY, _MONTH, _YEAR = ("%d", "%j"), ("%m", "%b", "%B"), ("%Y", "%y")


def check_locale(locale: str) -> str:
    """The locale's key, or ValueError naming the ones known."""
    key = locale.strip().lower().replace("_", "-")
    if key not in LOCALES:
        raise ValueError(f"locale {locale!r} is not one of {', '.join(LOCALES)}")
    return key


def parse_number(raw: str, locale: str | None) -> Decimal:
    """`raw` (stripped) as a Decimal under `locale` (a key of LOCALES) or the no-locale rule;
    ValueError with the reason otherwise. A leading `-` or `+` is kept."""
    text = raw.strip()
    sign = ""
    if text[:1] in "+-":
        sign, text = text[0], text[1:].lstrip()
    digits = _no_locale(text) if locale is None else _by_locale(text, locale)
    try:
        return Decimal(sign + digits)
    except InvalidOperation:
        raise ValueError("is not a number") from None


def _no_locale(text: str) -> str:
    for pattern, group in _NO_LOCALE:
        if pattern.fullmatch(text):
            if group is None:
                raise ValueError(
                    f"is ambiguous ({text[-4]!r} a thousands separator or a decimal mark?): give a `locale`"
                )
            return text.replace(group, "") if group else text
    if "," in text and re.fullmatch(r"[\d.,]+", text):
        raise ValueError("has a ',' that is not a thousands separator here: give a `locale` (de, fr, ...)")
    raise ValueError("is not a number")


def _by_locale(text: str, locale: str) -> str:
    groups, mark = LOCALES[locale]
    whole, _, fraction = text.partition(mark)
    if mark in fraction or (fraction and not _DIGITS.fullmatch(fraction)) or (not whole and not fraction):
        raise ValueError(f"is not a number in locale {locale}")
    if whole and not _DIGITS.fullmatch(whole):
        used = {c for c in whole if not c.isdigit()}
        if len(used) != 1 or not used <= set(groups):
            raise ValueError(f"is not a number in locale {locale}")
        sep = used.pop()
        if not re.fullmatch(rf"\d{{1,3}}(?:{re.escape(sep)}\d{{3}})+", whole):
            raise ValueError(f"is not a number in locale {locale} (groups of three digits)")
        whole = whole.replace(sep, "")
    return f"{whole or '0'}.{fraction}" if fraction else whole


def check_date_format(fmt: str) -> str:
    """`fmt` when it reads a whole date (day, month, year), else ValueError."""
    missing = [
        name for name, ways in (("day", _DAY), ("month", _MONTH), ("year", _YEAR)) if not any(w in fmt for w in ways)
    ]
    if "%j" in fmt:
        missing = [m for m in missing if m != "month"]
    if missing:
        raise ValueError(f"date format {fmt!r} has no {' or '.join(missing)} (e.g. %d-%m-%Y)")
    try:
        dt.datetime.strptime(dt.date(2017, 3, 1).strftime(fmt), fmt)
    except ValueError as exc:
        raise ValueError(f"date format {fmt!r} cannot be read back: {exc}") from None
    return fmt


def parse_date(raw: str, fmt: str | None, *, iso_too: bool = False) -> dt.date:
    """`raw` as a date: YYYY-MM-DD without `fmt`, else by `fmt` (and `iso_too`: a
    YYYY-MM-DD value as well, what an .xlsx date cell reads as); ValueError with the reason."""
    text = raw.strip()
    if fmt is None or (iso_too and _ISO.fullmatch(text)):
        if _ISO.fullmatch(text):
            try:
                return dt.date.fromisoformat(text)
            except ValueError:
                pass
        elif _DAY_MONTH.fullmatch(text):
            raise ValueError(
                "is not a date in YYYY-MM-DD, and which of day and month comes first cannot be told "
                "from it: give the field a `format` (e.g. %d/%m/%y)"
            )
        raise ValueError("is not a date (YYYY-MM-DD)")
    try:
        return dt.datetime.strptime(text, fmt).date()
    except ValueError:
        raise ValueError(f"is not a date in the format {fmt}") from None


_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")
_DAY_MONTH = re.compile(r"\d{1,2}[./-]\d{1,2}[./-]\d{2,4}")
