"""Dates in articles: bare datelines and ``published_at`` values, read as aware UTC datetimes.

A small pattern (``DATELINE``) decides whether a whole line is only a date and/or a time;
the value itself is read by ``dateparser`` (imported on first use: it costs ~0.2 s). One
thing is not left to the parser: a numeric date such as 07/09/2021 reads as July or as
September, and dateparser would silently pick its locale's order. Such a date is read only
when its own fields, or a caller that saw other dates of the same page, settle the order.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from functools import cache
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from dateparser.date import DateDataParser

DateOrder = Literal["DMY", "MDY"]

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_WEEKDAY = r"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_DATE = (
    rf"(?:\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}[/.-]\d{{1,2}}[/.-](?:\d{{4}}|\d{{2}})"
    rf"|{_DAY}\s+{_MONTH},?\s+\d{{4}}|{_MONTH}\s+{_DAY},?\s+\d{{4}})"
)
_TIME = (
    r"\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*[ap]\.?m\.?)?(?:\s*(?:z|utc|gmt|[+-]\d{2}:?\d{2}))?"
)
_SEP = r"(?:\s*[,|•·@-]\s*|\s+(?:at\s+)?|t)"
_LABEL = r"(?P<label>(?:last\s+)?(?:published|updated|posted)(?:\s+on)?\s*:?\s*)?"
# A line that is ONLY a date and/or a time (optionally labelled "Published:" and the like).
DATELINE: Final = re.compile(
    rf"^{_LABEL}(?:{_WEEKDAY},?\s+)?"
    rf"(?:{_DATE}(?:{_SEP}{_TIME})?|{_TIME}(?:{_SEP}{_DATE})?)\W{{0,2}}$",
    re.IGNORECASE,
)
# Day and month as numbers (07/09/2021, 7.9.21): the only dates whose order is in doubt.
_NUMERIC_DATE: Final = re.compile(r"(?<![\d:])(\d{1,2})[/.-](\d{1,2})[/.-](?:\d{4}|\d{2})\b")

_SETTINGS: Final = {
    # A date without its day, month or year is not a publication date (dateparser would
    # otherwise fill the gaps from today).
    "REQUIRE_PARTS": ["day", "month", "year"],
    "STRICT_PARSING": True,
    "TIMEZONE": "UTC",  # naive values are taken as UTC
    "TO_TIMEZONE": "UTC",
    "RETURN_AS_TIMEZONE_AWARE": True,
}


@cache
def _parser(order: DateOrder | None) -> DateDataParser:
    from dateparser.date import DateDataParser

    settings = dict(_SETTINGS, DATE_ORDER=order) if order else _SETTINGS
    return DateDataParser(languages=["en"], settings=settings)


def _as_utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def numeric_order(text: str) -> DateOrder | None:
    """The day/month order a numeric date in ``text`` shows by itself (30/09 is day first,
    09/30 month first), else None."""
    match = _NUMERIC_DATE.search(text)
    if match is None:
        return None
    first, second = int(match[1]), int(match[2])
    if first > 12 >= second:
        return "DMY"
    if second > 12 >= first:
        return "MDY"
    return None


def parse_datetime_text(text: str, *, order: DateOrder | None = None) -> datetime | None:
    """An unambiguous date/time string as an aware UTC datetime, else None.

    Naive values are taken as UTC. ISO-8601, "6 Jul, 2021 11:48", "July 6, 2021",
    "Tue, 06 Jul 2021 11:48:00 GMT", "Sept. 9, 2021, 4:05 p.m." and the like. A numeric
    date whose day/month order its fields do not show (07/09/2021) is read with ``order``
    when given, and is None otherwise (05/05/2021 needs no order).
    """
    value = " ".join(text.split())
    if not value:
        return None
    try:
        return _as_utc(datetime.fromisoformat(value))
    except ValueError:
        pass
    numeric = _NUMERIC_DATE.search(value)
    if numeric is not None:
        own = numeric_order(value)
        if own is None and numeric[1] != numeric[2] and order is None:
            return None  # 07/09/2021: July or September, and nothing says which
        order = own or order or "DMY"  # 05/05/2021 reads the same either way
    parsed = _parser(order).get_date_data(value).date_obj
    return _as_utc(parsed) if parsed is not None else None


def parse_dateline(line: str, *, order: DateOrder | None = None) -> datetime | None:
    """The publication time a bare dateline states; None if not one, ambiguous or "Updated"."""
    match = DATELINE.match(line.strip())
    if match is None:
        return None
    label = (match["label"] or "").lower()
    if "updated" in label:
        return None
    stripped = line.strip()
    return parse_datetime_text(stripped[match.end("label") if match["label"] else 0 :], order=order)


def parse_published(value: object) -> datetime:
    """A ``published_at`` field (datetime, date or string) as aware UTC; ValueError if not."""
    if isinstance(value, datetime):
        return _as_utc(value)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    if isinstance(value, str) and (parsed := parse_datetime_text(value)) is not None:
        return parsed
    raise ValueError(f"cannot parse date {value!r} (use ISO-8601, e.g. 2021-07-06T11:48:00Z)")
