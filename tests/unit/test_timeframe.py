"""as_of: the day format, the filter it adds to a question's own, and the recency factor."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import BaseModel, ValidationError

from qa.timeframe import (
    AsOf,
    age_days,
    end_of_day,
    parse_as_of,
    recency_factor,
    recency_factors,
    restrict,
)
from qa.types import Filters

JULY6 = date(2021, 7, 6)


@pytest.mark.parametrize("text", ["2021-07-06", " 2021-07-06 "])
def test_as_of_is_a_day_written_yyyy_mm_dd(text: str) -> None:
    assert parse_as_of(text) == JULY6
    assert parse_as_of(JULY6) == JULY6


@pytest.mark.parametrize(
    "value",
    [
        "2021-7-6",
        "20210706",
        "2021-W27-2",
        "2021-02-30",
        "6 July 2021",
        "",
        20210706,
        None,
        datetime(2021, 7, 6),
    ],
)
def test_anything_else_is_refused_with_the_format(value: object) -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_as_of(value)


def test_as_of_in_a_model_names_the_format() -> None:
    class Body(BaseModel):
        as_of: AsOf | None = None

    assert Body.model_validate({"as_of": "2021-07-06"}).as_of == JULY6
    with pytest.raises(ValidationError, match="YYYY-MM-DD"):
        Body.model_validate({"as_of": "2021-13-01"})
    assert Body.model_json_schema()["properties"]["as_of"]["anyOf"][0]["format"] == "date"


def test_restrict_reads_up_to_the_end_of_the_day_and_keeps_undated() -> None:
    end = end_of_day(JULY6)
    assert end == datetime(2021, 7, 6, 23, 59, 59, 999999, tzinfo=UTC)
    assert restrict(None, None) is None
    assert restrict(Filters(source=["a"]), None) == Filters(source=["a"])
    assert restrict(None, JULY6) == Filters(published_before=end, include_undated=True)
    assert restrict(Filters(source=["a"]), JULY6) == Filters(
        source=["a"], published_before=end, include_undated=True
    )


def test_restrict_keeps_the_stricter_bound_and_an_explicit_bounds_meaning() -> None:
    earlier = datetime(2021, 7, 1)  # naive: UTC
    narrowed = restrict(Filters(published_before=earlier), JULY6)
    assert narrowed == Filters(published_before=earlier.replace(tzinfo=UTC))  # undated: out
    later = restrict(Filters(published_after=earlier, published_before=datetime(2030, 1, 1)), JULY6)
    assert later is not None
    assert later.published_before == end_of_day(JULY6)
    assert not later.include_undated
    asked = Filters(published_after=earlier, include_undated=True)
    assert restrict(asked, JULY6) == asked.model_copy(
        update={"published_before": end_of_day(JULY6)}
    )


def test_age_in_whole_days_at_the_end_of_as_of() -> None:
    assert age_days(datetime(2021, 7, 6, 23, 0, tzinfo=UTC), JULY6) == 0
    assert age_days(datetime(2021, 7, 5, 1, 0, tzinfo=UTC), JULY6) == 1
    assert age_days(datetime(2021, 6, 6), JULY6) == 30
    assert age_days(None, JULY6) is None
    assert age_days(datetime(2021, 7, 9, tzinfo=UTC), JULY6) == 0  # never negative


def test_recency_factor_halves_above_the_floor_every_half_life() -> None:
    assert recency_factor(0, 7) == 1.0
    assert recency_factor(7, 7) == 0.5
    assert recency_factor(14, 7) == 0.25
    assert recency_factor(7, 7, floor=0.5) == 0.75
    assert recency_factor(10_000, 7, floor=0.5) == pytest.approx(0.5)
    assert recency_factor(100, 0) == 1.0  # off


def test_factors_count_age_behind_the_newest_candidate() -> None:
    # Asked years later, the newest of old reports still keeps its score.
    assert recency_factors([1000, 1007, 1014], 7) == [1.0, 0.5, 0.25]
    assert recency_factors([0, 7], 7, floor=0.5) == [1.0, 0.75]
    # Undated: the median of the dated factors, so neither preferred nor held back.
    assert recency_factors([0, None, 7, 14], 7) == [1.0, 0.5, 0.5, 0.25]
    assert recency_factors([None, None], 7) == [1.0, 1.0]
    assert recency_factors([], 7) == []
