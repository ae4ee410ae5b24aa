"""Dates: bare datelines and published_at values, read only when unambiguous."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from qa.ingest.dates import parse_dateline, parse_published


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("6 Jul, 2021 11:48", datetime(2021, 7, 6, 11, 48, tzinfo=UTC)),
        ("July 6, 2021", datetime(2021, 7, 6, tzinfo=UTC)),
        ("2021-07-06", datetime(2021, 7, 6, tzinfo=UTC)),
        ("30/09/2021 11:08", datetime(2021, 9, 30, 11, 8, tzinfo=UTC)),
        ("09/30/2021", datetime(2021, 9, 30, tzinfo=UTC)),
        ("05.05.2021", datetime(2021, 5, 5, tzinfo=UTC)),
        ("Tue, 06 Jul 2021 11:48:00 GMT", datetime(2021, 7, 6, 11, 48, tzinfo=UTC)),
        ("2021-07-06T11:48:00+03:00", datetime(2021, 7, 6, 8, 48, tzinfo=UTC)),
        ("Sept. 9, 2021, 4:05 p.m.", datetime(2021, 9, 9, 16, 5, tzinfo=UTC)),
        ("Published: 6 July 2021", datetime(2021, 7, 6, tzinfo=UTC)),
        ("30-09-2021", datetime(2021, 9, 30, tzinfo=UTC)),  # "-2021" is no UTC offset
        ("Tue, 06 Jul 2021 11:48:00 +0200", datetime(2021, 7, 6, 9, 48, tzinfo=UTC)),
        ("2021-07-06 11:48 -05:00", datetime(2021, 7, 6, 16, 48, tzinfo=UTC)),
        ("6 Jul 2021 11:48 pm UTC", datetime(2021, 7, 6, 23, 48, tzinfo=UTC)),
        ("30/09/2021 25:61", None),
        ("07/09/2021 16:15", None),  # 7 September or July 9: not guessed
        ("Updated 6 July 2021", None),  # an update time is not the publication time
        ("31/02/2021", None),
        ("11:48", None),
        ("The talks ended on 6 July 2021.", None),
    ],
)
def test_dateline_parsing_is_explicit_and_unambiguous(line: str, expected: datetime | None) -> None:
    assert parse_dateline(line) == expected


def test_published_field_accepts_dates_datetimes_and_offsets() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert parse_published(datetime(2021, 7, 6, 13, 0, tzinfo=plus_two)) == datetime(
        2021, 7, 6, 11, 0, tzinfo=UTC
    )
    assert parse_published(datetime(2021, 7, 6).date()) == datetime(2021, 7, 6, tzinfo=UTC)
    assert parse_published("2021-07-06 11:48") == datetime(2021, 7, 6, 11, 48, tzinfo=UTC)
    with pytest.raises(ValueError, match="ISO-8601"):
        parse_published(20210706)
