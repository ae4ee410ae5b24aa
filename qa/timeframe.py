"""The day a question is asked on (``as_of``): what it may read, and how much newer counts.

A question asked as of a day reads only documents published by the end of that day (UTC),
plus the undated ones, which nothing rules out; among those, retrieval may prefer the newer
(``recency_factors``; its half-life was measured: bench/README.md, "Time-aware answers").
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Final

from pydantic import BeforeValidator, WithJsonSchema

from qa.types import Filters

_DAY: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
AS_OF_FORMAT: Final = "YYYY-MM-DD"


def parse_as_of(value: object) -> date:
    """A day written YYYY-MM-DD (or a date); ValueError naming the format otherwise."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DAY.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"expected a date as {AS_OF_FORMAT}, got {value!r}")


def _validate(value: Any) -> date:
    return parse_as_of(value)


#: ``as_of`` in request bodies and question files: a day, YYYY-MM-DD, nothing else.
AsOf = Annotated[
    date,
    BeforeValidator(_validate),
    WithJsonSchema({"type": "string", "format": "date", "examples": ["2021-07-06"]}),
]


def end_of_day(day: date) -> datetime:
    """The last instant of ``day`` in UTC."""
    return datetime.combine(day, time.max, tzinfo=UTC)


def restrict(filters: Filters | None, as_of: date | None) -> Filters | None:
    """``filters`` narrowed to what was published by the end of ``as_of`` (undated kept).

    Both restrictions hold at once: an earlier ``published_before`` stays, and filters that
    already bound the date without ``include_undated`` keep excluding undated documents.
    """
    if as_of is None:
        return filters
    limit = end_of_day(as_of)
    if filters is None:
        return Filters(published_before=limit, include_undated=True)
    bounded = filters.published_after is not None or filters.published_before is not None
    before = filters.published_before
    if before is not None:
        before = before if before.tzinfo else before.replace(tzinfo=UTC)
    return filters.model_copy(
        update={
            "published_before": min(before, limit) if before is not None else limit,
            "include_undated": filters.include_undated if bounded else True,
        }
    )


def age_days(published_at: datetime | None, as_of: date) -> float | None:
    """Days from publication to the end of ``as_of`` (0 for the same day), None if undated."""
    if published_at is None:
        return None
    moment = published_at if published_at.tzinfo else published_at.replace(tzinfo=UTC)
    return max((as_of - moment.astimezone(UTC).date()).days, 0)


def recency_factor(age: float, half_life_days: float, floor: float = 0.0) -> float:
    """``floor + (1 - floor) * 0.5 ** (age / half_life)``: 1 at age 0, halving (above the
    floor) every ``half_life_days``; 1 whatever the age when ``half_life_days`` is 0."""
    if half_life_days <= 0:
        return 1.0
    return floor + (1.0 - floor) * float(0.5 ** (age / half_life_days))


def recency_factors(
    ages: Sequence[float | None], half_life_days: float, floor: float = 0.0
) -> list[float]:
    """The factor of each candidate: ``recency_factor`` of its age behind the newest
    candidate (so the newest keeps its score, however long ago all of them were); an undated
    candidate (age None) gets the median factor of the dated ones, neither preferred nor
    held back, and 1 when none is dated."""
    dated = [age for age in ages if age is not None]
    newest = min(dated, default=0.0)
    factors = [
        None if age is None else recency_factor(age - newest, half_life_days, floor) for age in ages
    ]
    known = [f for f in factors if f is not None]
    neutral = statistics.median(known) if known else 1.0
    return [neutral if f is None else f for f in factors]
