"""Cleaning: boilerplate line rules, and which dateline gives a document its date."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from qa.ingest.cleaning import BOILERPLATE_RULES, boilerplate_rule
from qa.ingest.loaders import document_from_text

# --- boilerplate rules --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        ("Also on rt.com Kyrgyzstan & Tajikistan sign ceasefire agreement", "also_on"),
        ("Also on www.bbc.co.uk: Talks resume", "also_on"),
        ("ALSO ON nytimes.com", "also_on"),
        ("Also read: Ten things about the border", "read_more"),
        ("Read more: https://example.org/x", "read_more"),
        ("READ MORE »", "read_more"),
        ("Related: Kabul airport reopens", "read_more"),
        ("Related stories:", "read_more"),
        ("See also: earlier coverage", "read_more"),
        ("Like this story? Share it with a friend!", "like_share"),
        ("Enjoyed this article? Share it on Twitter.", "like_share"),
        ("Share this story", "share_this"),
        ("Share this article on Facebook", "share_this"),
        ("  Share this article!  ", "share_this"),
        ("Follow us on Twitter and Facebook", "follow_us"),
        ("Subscribe to our newsletter", "subscribe"),
        ("Sign up for our free daily newsletter to get the news first.", "subscribe"),
        ("Click here to read the full report", "click_here"),
        ("Advertisement", "advertisement"),
        ("ADVERTISEMENT -", "advertisement"),
        ("30/09/2021 11:08", "dateline"),
        ("2021-07-06", "dateline"),
        ("6 Jul, 2021 11:48", "dateline"),
        ("July 6, 2021", "dateline"),
        ("Tuesday, July 6th, 2021 at 11:48 a.m.", "dateline"),
        ("2021-07-06T11:48:00Z", "dateline"),
        ("11:48 GMT", "dateline"),
        ("Published: 6 July 2021 | 11:48", "dateline"),
        ("Updated 07.09.2021, 16:15", "dateline"),
    ],
)
def test_boilerplate_lines_are_recognised(line: str, rule: str) -> None:
    assert boilerplate_rule(line) == rule


@pytest.mark.parametrize(
    "line",
    [
        "Officials said they would share intelligence with Dushanbe.",
        "Share prices fell 3% after the announcement.",
        "Also on Monday, the Kremlin said troops would not be sent.",
        "Related talks are planned for next week in Moscow.",
        "Follow the money, the investigators said.",
        "Readers who click here and there will find little.",
        "Subscribe to the idea that talks can work, he said.",
        "On 6 Jul, 2021 11:48 the first convoy crossed.",
        "2021 was a difficult year.",
        "The advertisement campaign cost millions.",
        "Like this story, the last one ended badly.",
        "",
    ],
)
def test_real_sentences_are_not_boilerplate(line: str) -> None:
    assert boilerplate_rule(line) is None


def test_rule_table_names_each_kind_once() -> None:
    assert set(BOILERPLATE_RULES) == {
        "also_on",
        "read_more",
        "like_share",
        "share_this",
        "follow_us",
        "subscribe",
        "click_here",
        "advertisement",
        "dateline",
    }


# --- the byline date ----------------------------------------------------------------------


def test_a_dateline_near_the_top_or_trailing_timestamps_of_one_day_set_published_at() -> None:
    body = ["Title", *[f"Paragraph {i}." for i in range(8)]]
    doc = document_from_text("\n".join([*body, "6 Jul, 2021 11:48"]), source="s", doc_id="s")
    assert doc.published_at == datetime(2021, 7, 6, 11, 48, tzinfo=UTC)
    assert doc.excluded == {10}
    # Several days at the bottom: a list of other stories' dates, not this one's.
    two_days = [*body, "6 Jul, 2021 11:48", "", "30/09/2021 11:08"]
    doc = document_from_text("\n".join(two_days), source="s", doc_id="s")
    assert doc.published_at is None
    assert doc.excluded == {10, 12}
    # One day twice (posted, then a time stamp of the same day): the earlier one.
    same_day = [*body, "July 6, 2021 13:37", "Share this story", "6 Jul 2021 09:15"]
    doc = document_from_text("\n".join(same_day), source="s", doc_id="s")
    assert doc.published_at == datetime(2021, 7, 6, 9, 15, tzinfo=UTC)
    # A dateline inside the text is not trailing: the article's last line is content.
    inside = ["Title", *body[1:7], "6 Jul, 2021 11:48", *body[7:]]
    doc = document_from_text("\n".join(inside), source="s", doc_id="s")
    assert doc.published_at is None


def test_the_page_settles_the_order_of_its_numeric_dates() -> None:
    # 07/09/2021 alone could be July or September; 30/09/2021 on the same page says day first.
    doc = document_from_text("T\n07/09/2021 16:15\nBody.\n30/09/2021", source="s", doc_id="s")
    assert doc.published_at == datetime(2021, 9, 7, 16, 15, tzinfo=UTC)
    doc = document_from_text("T\nBody.\n07/09/2021 16:15", source="s", doc_id="s")
    assert doc.published_at is None


@pytest.mark.parametrize(
    ("text", "publisher"),
    [
        ("Headline\nMoscow (AsiaNews) - Russia is ready to help.", "AsiaNews"),
        ("Headline\nWASHINGTON (Reuters) — The Senate voted.", "Reuters"),
        ("Headline\nBody.\nAlso on rt.com Other story\nMore.\nAlso on rt.com Another", "rt.com"),
        ("Headline\nAlso on rt.com One\nAlso on bbc.co.uk Two", None),  # two sites: neither
        ("Headline\nThe firm (Apple) said - nothing.", None),  # no dash right after it
        ("Headline\nA\nB\nC\nParis (AFP) - Late in the text.", None),  # not near the top
    ],
)
def test_publisher_from_a_wire_dateline_or_the_sites_own_links(
    text: str, publisher: str | None
) -> None:
    assert document_from_text(text, source="s", doc_id="s").publisher == publisher


def test_a_publisher_field_wins_over_the_text() -> None:
    text = "---\npublisher: AsiaNews Italy\n---\nT\nMoscow (AsiaNews) - Body."
    assert document_from_text(text, source="s", doc_id="s").publisher == "AsiaNews Italy"


def test_only_a_dateline_near_the_top_is_the_byline_date() -> None:
    doc = document_from_text("Title\n\n07/09/2021\n1 Aug 2021\nBody.", source="s", doc_id="s")
    assert doc.published_at == datetime(2021, 8, 1, tzinfo=UTC)
    assert doc.excluded == {3, 4}
