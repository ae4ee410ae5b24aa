"""Dates in articles: bare datelines and ``published_at`` values, read as aware UTC datetimes."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Final

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

_ORDINAL = re.compile(r"(?<=\d)(?:st|nd|rd|th)\b", re.I)
_WEEKDAY_PREFIX = re.compile(rf"^{_WEEKDAY},?\s+", re.I)
_TZ_SUFFIX = re.compile(
    r"\s*(?:(?P<utc>z|utc|gmt)|(?P<sign>[+-])(?P<h>\d{2}):?(?P<m>\d{2}))$", re.I
)
_NUMERIC = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:\s+(.+))?$")
_TIME_FORMATS = ("%H:%M", "%H:%M:%S", "%I:%M %p", "%I:%M:%S %p")
_DATE_FORMATS = ("%d %b %Y", "%d %B %Y", "%b %d %Y", "%B %d %Y")
# Explicit formats only: a guessing parser would read 07/09/2021 as some month silently.
_TEXT_FORMATS = (
    *_DATE_FORMATS,
    *(f"{d} {t}" for d in _DATE_FORMATS for t in _TIME_FORMATS),
    *(f"{t} {d}" for d in _DATE_FORMATS for t in _TIME_FORMATS),
)


def _as_utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _parse_time(text: str) -> time | None:
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).time()
        except ValueError:
            continue
    return None


def _parse_numeric(match: re.Match[str]) -> datetime | None:
    first, second, year = int(match[1]), int(match[2]), int(match[3])
    if first > 12 >= second or first == second:
        day, month = first, second
    elif second > 12 >= first:
        day, month = second, first
    else:
        return None  # day/month order cannot be told apart
    clock = _parse_time(match[4]) if match[4] else time()
    if clock is None:
        return None
    try:
        return datetime.combine(date(year, month, day), clock)
    except ValueError:
        return None


def parse_datetime_text(text: str) -> datetime | None:
    """Parse an unambiguous date/time string to an aware UTC datetime, else None.

    Naive values are taken as UTC. Accepts ISO-8601, "6 Jul, 2021 11:48", "July 6, 2021",
    "Tue, 06 Jul 2021 11:48:00 GMT" and numeric dates whose day/month order is certain.
    """
    value = _WEEKDAY_PREFIX.sub("", " ".join(text.split()))
    value = _ORDINAL.sub("", value)
    value = re.sub(r"(?<=[a-z])\.", "", value, flags=re.I)  # "Jul." / "p.m."
    value = re.sub(r"\bsept\b", "sep", value, flags=re.I)
    value = " ".join(re.sub(r"[,|•·@]|\bat\b", " ", value, flags=re.I).split())
    tz: timezone | None = None
    tz_match = _TZ_SUFFIX.search(value)
    # A numeric offset only follows a time: in "06-07-2021" the "-2021" is the year.
    if tz_match and (tz_match["utc"] or ":" in value[: tz_match.start()]):
        if tz_match["utc"]:
            tz = UTC
        else:
            offset = timedelta(hours=int(tz_match["h"]), minutes=int(tz_match["m"]))
            tz = timezone(-offset if tz_match["sign"] == "-" else offset)
        value = value[: tz_match.start()]
    parsed = _parse_plain(value)
    if parsed is None:
        return None
    return _as_utc(parsed.replace(tzinfo=tz) if tz else parsed)


def _parse_plain(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        pass
    if numeric := _NUMERIC.match(value):
        return _parse_numeric(numeric)
    for fmt in _TEXT_FORMATS:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    return None


def parse_dateline(line: str) -> datetime | None:
    """The publication time a bare dateline states; None if not one, ambiguous or "Updated"."""
    match = DATELINE.match(line.strip())
    if match is None:
        return None
    label = (match["label"] or "").lower()
    if "updated" in label:
        return None
    return parse_datetime_text(line.strip()[match.end("label") if match["label"] else 0 :])


def parse_published(value: object) -> datetime:
    """A ``published_at`` field (datetime, date or string) as aware UTC; ValueError if not."""
    if isinstance(value, datetime):
        return _as_utc(value)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    if isinstance(value, str) and (parsed := parse_datetime_text(value)) is not None:
        return parsed
    raise ValueError(f"cannot parse date {value!r} (use ISO-8601, e.g. 2021-07-06T11:48:00Z)")
