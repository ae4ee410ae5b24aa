"""What is not article text: front matter and boilerplate lines (share prompts, bare datelines)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import yaml

from qa.errors import IngestError
from qa.ingest.dates import DATELINE, parse_dateline

DATELINE_WINDOW: Final = 5  # a dateline among the first N non-empty lines is the byline date

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
    """Which lines are not content, the first content line and a byline date, if any."""

    excluded: frozenset[int]
    first_content: int | None
    dateline_time: datetime | None


def clean_lines(lines: Sequence[str], *, skip: int = 0) -> CleanedLines:
    """Mark the first ``skip`` lines (front matter) and every boilerplate line as excluded."""
    excluded = set(range(1, skip + 1))
    first_content: int | None = None
    dateline_time: datetime | None = None
    non_empty = 0
    for number in range(skip + 1, len(lines) + 1):
        line = lines[number - 1]
        if not line.strip():
            continue
        non_empty += 1
        rule = boilerplate_rule(line)
        if rule == "dateline" and non_empty <= DATELINE_WINDOW and dateline_time is None:
            dateline_time = parse_dateline(line)
        if rule:
            excluded.add(number)
        elif first_content is None:
            first_content = number
    return CleanedLines(frozenset(excluded), first_content, dateline_time)


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
