"""The data clock: move every date of a historical data set by one offset, in
whole days, so that it runs "live" (its last date becomes yesterday). Pure: no
HTTP, no database.

One offset for the whole set keeps every date where it was relative to every
other (a deal still closes 133 days after its engagement, a hire still comes
before the first deal). The offset is computed from the planned records in a
first pass (`bounds`), then the plan is built again from a mapping whose date
fields add it (`Mapping.shifted`).

Quarters: dates move by whole days, so a date keeps its place relative to the
other dates, not to quarter boundaries. The importer creates no quarter-keyed
records (quotas); a mapping that did would derive their period from the shifted
dates (the quarter the shifted date falls in), never shift a "2017-Q4" label.
`keep_weekdays` rounds the offset down to whole weeks, for data whose weekday
pattern matters; the last date then lands at most six days before yesterday.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from sanlun.importer.mapping import Mapping, MappingError
from sanlun.importer.plan import Plan, Planned

# The dates the services accept as a date (sanlun.kernel.clock's as_of range).
EARLIEST = dt.date(1900, 1, 1)
LATEST = dt.date(2199, 12, 31)
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

D = TypeVar("D", dt.date, dt.datetime)


def utc_today() -> dt.date:
    """`today` as the services see it by default (their business clock runs on UTC)."""
    return dt.datetime.now(dt.UTC).date()


def parse_target(value: str, today: dt.date | None = None) -> dt.date:
    """`today` or `YYYY-MM-DD`: the day the shifted data set ends before (its last date is the day before)."""
    if value.strip().lower() == "today":
        return today or utc_today()
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise MappingError(f"--shift-dates-to {value!r}: give `today` or a date YYYY-MM-DD") from None
    if not EARLIEST < day <= LATEST:
        raise MappingError(f"--shift-dates-to {value}: give a date after {EARLIEST} and up to {LATEST}")
    return day


def offset_to(last: dt.date, target: dt.date, *, keep_weekdays: bool = False) -> int:
    """Days to add so that `last` becomes the day before `target`; with
    `keep_weekdays`, rounded down to whole weeks (every date keeps its weekday)."""
    days = (target - dt.timedelta(days=1) - last).days
    return days - days % 7 if keep_weekdays else days


def shift(value: D, days: int) -> D:
    """`value` moved by `days` whole days (a datetime keeps its time and zone)."""
    try:
        return value + dt.timedelta(days=days)
    except OverflowError:
        raise MappingError(f"{value.isoformat()} moved by {days} days is not a date") from None


def shift_text(value: str, days: int) -> str:
    """An ISO date or datetime string moved by `days`; anything else unchanged."""
    if ISO_DATE.match(value):
        return shift(dt.date.fromisoformat(value), days).isoformat()
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    return shift(moment, days).isoformat()


def date_fields(mapping: Mapping) -> frozenset[str]:
    """The names of every date the mapping produces: typed `date` fields in any
    section and the people's `earliest_in` dates."""
    sections = [
        mapping.account_fields,
        mapping.solution_fields,
        mapping.opportunity_fields,
        *mapping.org_levels,
        *(p.fields for p in mapping.people),
    ]
    names = {name for fields in sections for name, f in fields.items() if f.type == "date"}
    names |= {name for p in mapping.people for name in p.earliest}
    return frozenset(names)


def as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value:
        try:
            return dt.datetime.fromisoformat(value).date()
        except ValueError:
            return None
    return None


def plan_dates(plan: Plan, names: frozenset[str]) -> Iterator[dt.date]:
    """Every date the plan will send or derive facts from (bodies and the
    per-record extras, under the mapping's date field names)."""
    yield from planned_dates(
        itertools.chain(plan.org_units, plan.employees, plan.accounts, plan.solutions, plan.opportunities), names
    )


def planned_dates(records: Iterable[Planned], names: frozenset[str]) -> Iterator[dt.date]:
    for planned in records:
        for values in (planned.body, planned.extra):
            for name in names & values.keys():
                if (day := as_date(values[name])) is not None:
                    yield day


def bounds(plan: Plan, mapping: Mapping) -> tuple[dt.date, dt.date] | None:
    """The first and last date of the planned data set (None: it has no dates; a streamed file's
    deals, `Plan.deals`, are not in it: `bounds_of` their `all()`)."""
    return _span(plan_dates(plan, date_fields(mapping)))


def bounds_of(planned: Iterable[Planned], names: frozenset[str]) -> tuple[dt.date, dt.date] | None:
    """The first and last date of `planned` records (None: they have none)."""
    return _span(planned_dates(planned, names))


def _span(days: Iterable[dt.date]) -> tuple[dt.date, dt.date] | None:
    first = last = None
    for day in days:  # one pass, no list of every date
        if first is None or day < first:
            first = day
        if last is None or day > last:
            last = day
    return (first, last) if first is not None and last is not None else None


@dataclass(frozen=True)
class DateShift:
    """The offset applied to one import, and where it came from.

    `computed`: from the data and the asked target (a first import);
    `stored`: read back from the records this data set already has in the target
    (a re-run or a resume), which wins over the asked target so dates never move twice.
    """

    days: int
    first: dt.date
    last: dt.date
    source: Literal["computed", "stored"]
    asked: dt.date | None = None

    @property
    def new_first(self) -> dt.date:
        return shift(self.first, self.days)

    @property
    def new_last(self) -> dt.date:
        return shift(self.last, self.days)

    def text(self) -> str:
        line = f"shifted by {self.days} days: {self.last.isoformat()} -> {self.new_last.isoformat()}"
        line += f" (data {self.new_first.isoformat()} .. {self.new_last.isoformat()})"
        if self.source == "stored":
            line += "; kept from the records already imported, so no date moves twice"
            if self.asked is not None and offset_to(self.last, self.asked) != self.days:
                line += f" (asked: last date {shift(self.asked, -1).isoformat()}; import into an empty system for that)"
        return line

    def as_json(self) -> dict[str, Any]:
        return {
            "days": self.days,
            "source": self.source,
            "data_first": self.first.isoformat(),
            "data_last": self.last.isoformat(),
            "shifted_first": self.new_first.isoformat(),
            "shifted_last": self.new_last.isoformat(),
            "asked_target": self.asked.isoformat() if self.asked else None,
        }


def check_range(first: dt.date, last: dt.date, days: int) -> None:
    """The shifted set must stay inside the dates the services accept."""
    new_first, new_last = shift(first, days), shift(last, days)
    if new_first < EARLIEST or new_last > LATEST:
        raise MappingError(
            f"moved by {days} days the data would span {new_first} .. {new_last}, outside {EARLIEST} .. {LATEST}"
        )
