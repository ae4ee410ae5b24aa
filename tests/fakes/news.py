"""A three-article news corpus for service tests: each answerable question has one line."""

from __future__ import annotations

from datetime import UTC, datetime

from fakes.corpus import article

HARBOUR = article(
    "harbour",
    [
        "Harbour dredging plan approved",
        "",
        "The city council approved the harbour dredging plan on Monday.",
        "The dredging will need 12 ships and cost 40 million euros.",
        "Work starts in the spring and ends before winter.",
    ],
    source="city/harbour.txt",
    published_at=datetime(2024, 3, 4, tzinfo=UTC),
)
FLEET = article(
    "fleet",
    [
        "Fishing fleet returns to port",
        "The fishing fleet of 40 boats returned to port after the storm.",
        "Fishermen said the catch was poor this season.",
    ],
    source="coast/fleet.txt",
    published_at=datetime(2024, 2, 1, tzinfo=UTC),
)
ELECTION = article(
    "election",
    [
        "Mayor wins second term",
        "Mayor Anna Berg won a second term with 58 percent of the vote.",
        "Turnout was lower than at the last election.",
    ],
    source="city/election.txt",
    published_at=datetime(2023, 11, 20, tzinfo=UTC),
)
NEWS = (HARBOUR, FLEET, ELECTION)

#: Answered by HARBOUR line 4, and only by it.
SHIPS_QUESTION = "How many ships will the dredging need?"
SHIPS_LINE = 4
#: Nothing in NEWS answers it.
UNANSWERABLE = "Who won the chess championship in Oslo?"
