"""What is not article text: front matter and boilerplate lines (share prompts, bare datelines),
and what those lines tell about the article: its date and who published it."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import yaml

from qa.errors import IngestError
from qa.ingest.dates import DATELINE, DateOrder, numeric_order, parse_dateline

DATELINE_WINDOW: Final = 5  # a dateline among the first N non-empty lines is the byline date
PUBLISHER_WINDOW: Final = 3  # a wire dateline ("Moscow (AsiaNews) - ") opens one of these
# "PLACE (Agency) - text": the agency that filed the story, as wire copy opens.
WIRE_DATELINE: Final = re.compile(
    r"^[A-Z][\w.'’ -]{1,40}?\s*\((?P<agency>[A-Z][\w.&'’ -]{1,40}?)\)\s*[-–—]\s+\S"
)
_ALSO_ON_SITE: Final = re.compile(
    r"^also\s+on\s+(?:www\.)?(?P<site>[a-z0-9-]+(?:\.[a-z0-9-]+)+)\b", re.I
)

# Each rule matches a WHOLE stripped line; they are anchored and length-capped so that an
# ordinary sentence which merely mentions sharing or following is never excluded.
BOILERPLATE_RULES: Final[dict[str, re.Pattern[str]]] = {
    "also_on": re.compile(
        r"^also\s+on\s+(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b.{0,300}$", re.I
    ),
    "read_more": re.compile(
        r"^(?:also\s+read|read\s+(?:more|also|next)|related(?:\s+(?:articles?|stories|news))?"
        r"|see\s+also|more\s+on\s+this(?:\s+story)?)\s*(?::.{0,300}|[.:»›>…→]*)$",
        re.I,
    ),
    "like_share": re.compile(
        r"^(?:did\s+you\s+)?(?:like|enjoy(?:ed)?|love)d?\s+this\s+(?:story|article|post)\s*\?"
        r"\s*share\b.{0,80}$",
        re.I,
    ),
    "share_this": re.compile(
        r"^share\s+(?:this|the)\s+(?:story|article|post|page)"
        r"(?:\s+(?:on|with|via)\s+.{1,60})?\s*[.!:]?$",
        re.I,
    ),
    "follow_us": re.compile(r"^follow\s+us\s+on\s+.{1,60}$", re.I),
    "subscribe": re.compile(
        r"^(?:subscribe|sign\s+up)(?:\s+now)?\s+(?:to|for)\s+(?:our|the)\s+"
        r"(?:(?:free|daily|weekly|email)\s+)*newsletters?\b.{0,80}$",
        re.I,
    ),
    "click_here": re.compile(r"^click\s+here\s+(?:to|for)\b.{1,100}$", re.I),
    "advertisement": re.compile(r"^(?:advertisement|advert|sponsored\s+content)\W{0,3}$", re.I),
    "dateline": DATELINE,
}


def boilerplate_rule(line: str) -> str | None:
    """Name of the first rule the whole line matches, or None for content."""
    stripped = line.strip()
    if not stripped:
        return None
    for name, pattern in BOILERPLATE_RULES.items():
        if pattern.match(stripped):
            return name
    return None


@dataclass(frozen=True)
class CleanedLines:
    """Which lines are not content, the first content line, and the article's date and
    publisher as its own lines state them, if they do."""

    excluded: frozenset[int]
    first_content: int | None
    dateline_time: datetime | None
    publisher: str | None = None


def clean_lines(lines: Sequence[str], *, skip: int = 0) -> CleanedLines:
    """Mark the first ``skip`` lines (front matter) and every boilerplate line as excluded.

    The date is the first dateline among the first ``DATELINE_WINDOW`` non-empty lines,
    else the trailing timestamps (the last lines, all boilerplate) when they name one day.
    """
    excluded = set(range(1, skip + 1))
    first_content: int | None = None
    rules: list[tuple[int, str | None]] = []  # (line number, rule) of the non-empty lines
    for number in range(skip + 1, len(lines) + 1):
        line = lines[number - 1]
        if not line.strip():
            continue
        rule = boilerplate_rule(line)
        rules.append((number, rule))
        if rule:
            excluded.add(number)
        elif first_content is None:
            first_content = number
    order = _page_order([lines[n - 1] for n, rule in rules if rule == "dateline"])
    dateline_time = None
    for number, rule in rules[:DATELINE_WINDOW]:
        if rule == "dateline" and (dateline_time := parse_dateline(lines[number - 1], order=order)):
            break
    if dateline_time is None:
        dateline_time = _trailing_time(lines, rules, order)
    publisher = _publisher(lines, rules)
    return CleanedLines(frozenset(excluded), first_content, dateline_time, publisher)


def _page_order(datelines: Sequence[str]) -> DateOrder | None:
    """The day/month order that a page's own numeric dates show (one page, one format)."""
    orders = {order for line in datelines if (order := numeric_order(line))}
    return orders.pop() if len(orders) == 1 else None


def _trailing_time(
    lines: Sequence[str], rules: Sequence[tuple[int, str | None]], order: DateOrder | None
) -> datetime | None:
    """The time the trailing timestamps state, when they all fall on one day.

    Scraped pages often end with the article's timestamp; several timestamps of different
    days there are a list of other articles (related stories), not this one's date.
    """
    times: list[datetime | None] = []
    for number, rule in reversed(rules):
        if rule is None:
            break
        if rule == "dateline":
            times.append(parse_dateline(lines[number - 1], order=order))
    known = [t for t in times if t is not None]
    if not known or len(known) < len(times) or len({t.date() for t in known}) > 1:
        return None
    return min(known)


def _publisher(lines: Sequence[str], rules: Sequence[tuple[int, str | None]]) -> str | None:
    """Who published the article, as its lines say: the agency of a wire dateline near the
    top ("Moscow (AsiaNews) - ..."), else the one site that its "Also on" links name."""
    content = [number for number, rule in rules if rule is None]
    for number in content[:PUBLISHER_WINDOW]:
        if match := WIRE_DATELINE.match(lines[number - 1].strip()):
            return match["agency"].strip()
    sites = {
        match["site"].lower()
        for number, rule in rules
        if rule == "also_on" and (match := _ALSO_ON_SITE.match(lines[number - 1].strip()))
    }
    return sites.pop() if len(sites) == 1 else None


def front_matter(lines: Sequence[str], *, where: str) -> tuple[Mapping[str, Any], int]:
    """YAML front matter at the very top and how many lines it spans (0 when absent)."""
    if not lines or lines[0].rstrip() != "---":
        return {}, 0
    for end in range(1, len(lines)):
        if lines[end].rstrip() in {"---", "..."}:
            try:
                data = yaml.safe_load("\n".join(lines[1:end]))
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                at = f"{where}:{mark.line + 2}" if mark is not None else where
                raise IngestError(at, f"invalid YAML front matter: {exc}") from None
            data = {} if data is None else data
            # A leading "---" block that is not a mapping is a Markdown rule, not metadata.
            return (data, end + 1) if isinstance(data, dict) else ({}, 0)
    return {}, 0
