"""Loading: scanning, text files and front matter, JSON records, document ids and content hashes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from qa.errors import IngestError
from qa.ingest.loaders import (
    SUPPORTED_SUFFIXES,
    document_from_record,
    document_from_text,
    iter_files,
    load_file,
    scan_paths,
    split_lines,
    validate_doc_id,
)
from qa.types import Document

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
LIMIT = 2_000_000


def load_one(path: Path, limit: int = LIMIT) -> Document:
    documents, errors = load_file(path, source=path.name, max_document_bytes=limit)
    assert errors == []
    (doc,) = documents
    return doc


def errors_of(path: Path, limit: int = LIMIT) -> list[tuple[str, str]]:
    documents, errors = load_file(path, source=path.name, max_document_bytes=limit)
    assert documents == []
    return [(e.where, e.reason) for e in errors]


# --- the seeds ----------------------------------------------------------------------------


def test_seed_000_drops_the_trailing_timestamps_and_keeps_its_title() -> None:
    doc = load_one(SEEDS / "000_4e774364687dacde.txt")
    assert doc.doc_id == doc.source == "000_4e774364687dacde.txt"
    assert doc.excluded == {11, 12, 13, 14}
    assert doc.title == doc.lines[0] == "Putin ready to help Tajiks against the Taliban"
    # Its four trailing timestamps name four days (15 April to 30 September 2021) around an
    # article about 5-6 July: dates of related stories, none of them this one's.
    assert doc.published_at is None
    assert doc.publisher == "AsiaNews"  # "Moscow (AsiaNews) - Russia is ready ..."
    assert len(doc.lines) == 14


def test_seed_001_takes_the_dateline_and_drops_links_and_share_prompt() -> None:
    doc = load_one(SEEDS / "001_6767eb312ccb9e98.txt")
    assert doc.excluded == {3, 11, 19, 21}
    assert doc.published_at == datetime(2021, 7, 6, 11, 48, tzinfo=UTC)
    assert doc.publisher == "rt.com"  # the one site its "Also on" links name
    assert doc.title == doc.lines[0]
    assert doc.title.startswith("As US withdrawal from Afghanistan proceeds")


def test_seed_folder_sources_are_relative_and_sorted() -> None:
    assert [source for _, source in iter_files([SEEDS])] == [
        "000_4e774364687dacde.txt",
        "001_6767eb312ccb9e98.txt",
    ]


# --- scanning -----------------------------------------------------------------------------


def test_scan_walks_folders_skipping_hidden_and_counting_unsupported(tmp_path: Path) -> None:
    root = tmp_path / "articles"
    for name in [
        "b.txt",
        "a/z.md",
        "a/y.jsonl",
        ".hidden.txt",
        ".git/x.txt",
        "pic.png",
        "a/n.docx",
    ]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x")
    single = tmp_path / "single.json"
    single.write_text("{}")
    scan = scan_paths([root, single, tmp_path / "missing", root / "pic.png"])
    assert [source for _, source in scan.files] == ["a/y.jsonl", "a/z.md", "b.txt", "single.json"]
    assert scan.files[0][0] == root / "a" / "y.jsonl"
    assert scan.skipped == [root / "a" / "n.docx", root / "pic.png"]
    assert [e.where for e in scan.errors] == [str(tmp_path / "missing"), str(root / "pic.png")]
    assert scan.errors[0].reason == "no such file or folder"
    assert "unsupported file type '.png'" in scan.errors[1].reason
    assert list(iter_files([root, single])) == scan.files


# --- text files ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "lines"),
    [
        (b"one\r\ntwo\r\n", ["one", "two"]),
        (b"one\rtwo", ["one", "two"]),
        (b"\xef\xbb\xbfone\ntwo\n\n", ["one", "two", ""]),
        (b"one\n\n\nfour", ["one", "", "", "four"]),
    ],
)
def test_newlines_and_bom_are_normalised_without_phantom_lines(
    tmp_path: Path, raw: bytes, lines: list[str]
) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(raw)
    assert list(load_one(path).lines) == lines


def test_split_lines_keeps_a_text_without_newline_as_one_line() -> None:
    assert split_lines("only") == ["only"]
    assert split_lines("a\r\n\r\nb\n") == ["a", "", "b"]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty file"),
        (b" \n\t\n", "empty file"),
        (b"abc\x00def", "binary file (contains NUL bytes), not text"),
        (b"Share this story\n\nAdvertisement\n", "empty document"),
    ],
)
def test_unusable_text_files_are_reported(tmp_path: Path, raw: bytes, reason: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(raw)
    ((where, got),) = errors_of(path)
    assert where == "bad.txt"
    assert got.startswith(reason)


def test_text_larger_than_the_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.md"
    path.write_text("word " * 100)
    ((where, reason),) = errors_of(path, limit=100)
    assert where == "big.md"
    assert "500 bytes, over the 100-byte limit" in reason


def test_unreadable_and_unsupported_files_are_errors_not_exceptions(tmp_path: Path) -> None:
    assert errors_of(tmp_path / "gone.txt")[0][1].startswith("cannot read")
    (tmp_path / "x.csv").write_text("a,b")
    assert "unsupported file type '.csv'" in errors_of(tmp_path / "x.csv")[0][1]


def test_front_matter_becomes_fields_and_its_lines_stay_excluded(tmp_path: Path) -> None:
    path = tmp_path / "post.md"
    path.write_text(
        "---\ntitle: Talks resume\nurl: https://example.org/a\npublisher: Example\n"
        "published_at: 2021-07-06T11:48:00+02:00\ntags: [border, talks]\nid: 7\n---\n"
        "# Heading in the body\n\nBody text.\n"
    )
    doc = load_one(path)
    assert doc.lines[0] == "---"
    assert doc.lines[8] == "# Heading in the body"
    assert doc.excluded == set(range(1, 9))
    assert (doc.title, doc.url, doc.publisher) == (
        "Talks resume",
        "https://example.org/a",
        "Example",
    )
    assert doc.published_at == datetime(2021, 7, 6, 9, 48, tzinfo=UTC)
    assert doc.metadata == {"tags": '["border", "talks"]', "id": 7}
    assert doc.doc_id == "post.md"


def test_markdown_heading_is_the_title_without_hashes(tmp_path: Path) -> None:
    path = tmp_path / "h.md"
    path.write_text("\n## Border talks resume\nBody.\n")
    assert load_one(path).title == "Border talks resume"


def test_long_first_line_gives_a_shortened_title(tmp_path: Path) -> None:
    path = tmp_path / "long.txt"
    path.write_text("word " * 100 + "\nBody.")
    title = load_one(path).title
    assert len(title) <= 200
    assert title.endswith("word…")


def test_leading_rule_that_is_not_yaml_mapping_is_content(tmp_path: Path) -> None:
    path = tmp_path / "rule.md"
    path.write_text("---\nJust a sentence.\n---\nMore text.\n")
    doc = load_one(path)
    assert doc.excluded == frozenset()
    assert doc.title == "---"


def test_unclosed_front_matter_is_content(tmp_path: Path) -> None:
    path = tmp_path / "open.md"
    path.write_text("---\ntitle: never closed\nBody.\n")
    doc = load_one(path)
    assert doc.excluded == frozenset()
    assert doc.metadata == {}


def test_broken_front_matter_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.md"
    path.write_text("---\ntitle: ok\nbad: [unclosed\n---\nBody.\n")
    ((where, reason),) = errors_of(path)
    assert where.startswith("broken.md:")
    assert reason.startswith("invalid YAML front matter")


# --- JSON and JSONL -----------------------------------------------------------------------


def test_jsonl_reports_bad_lines_and_keeps_the_good_ones(tmp_path: Path) -> None:
    path = tmp_path / "articles.jsonl"
    rows = [
        json.dumps({"id": "a1", "title": "First", "body": "Text one."}),
        "",
        json.dumps({"text": "No id here.\nSecond line.", "lang": "en", "score": 3}),
        json.dumps({"title": "no body"}),
        json.dumps({"id": "a1", "body": "duplicate"}),
        json.dumps(["not", "an", "object"]),
        '{"id": "broken", "body": ',
        json.dumps({"id": "big", "body": "x" * 50}),
    ]
    path.write_text("\n".join(rows) + "\n")
    documents, errors = load_file(path, source="articles.jsonl", max_document_bytes=40)
    assert [d.doc_id for d in documents] == ["a1", "articles.jsonl#3"]
    assert documents[1].lines == ("No id here.", "Second line.")
    assert documents[1].title == "No id here."
    assert documents[1].metadata == {"lang": "en", "score": 3}
    assert [e.where for e in errors] == [  # in file order
        "articles.jsonl:4",
        "articles.jsonl:5",
        "articles.jsonl:6",
        "articles.jsonl:7",
        "articles.jsonl:8",
    ]
    reasons = {e.where: e.reason for e in errors}
    assert reasons["articles.jsonl:7"].startswith("invalid JSON:")
    assert "'body'" in reasons["articles.jsonl:4"]
    assert "duplicate document id 'a1'" in reasons["articles.jsonl:5"]
    assert "JSON object" in reasons["articles.jsonl:6"]
    assert "over the 40-byte limit" in reasons["articles.jsonl:8"]


def test_json_array_and_single_object(tmp_path: Path) -> None:
    many = tmp_path / "many.json"
    many.write_text(json.dumps([{"body": "One."}, {"id": 5, "body": "Two."}]))
    documents, errors = load_file(many, source="dir/many.json", max_document_bytes=LIMIT)
    assert errors == []
    assert [d.doc_id for d in documents] == ["dir/many.json#0", "5"]
    assert {d.source for d in documents} == {"dir/many.json"}
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"body": "Alone.", "source": "wire"}))
    doc = load_one(one)
    assert (doc.doc_id, doc.source) == ("one.json", "wire")


def test_invalid_json_file_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('[\n{"body": "ok"},\n{"body": }\n]')
    ((where, reason),) = errors_of(path)
    assert where == "bad.json:3"
    assert reason.startswith("invalid JSON:")


def test_record_fields_metadata_and_dateline_in_body() -> None:
    doc = document_from_record(
        {
            "id": "x-1",
            "body": "Headline\n6 Jul, 2021 11:48\nThe story.\nRead more: https://e.org",
            "url": "https://e.org/x",
            "publisher": "E",
            "tags": ["a", "b"],
            "nested": {"k": 1},
            "flag": True,
            "missing": None,
        },
        source="api",
        default_id="api#0",
    )
    assert (doc.doc_id, doc.source, doc.title) == ("x-1", "api", "Headline")
    assert doc.excluded == {2, 4}
    assert doc.published_at == datetime(2021, 7, 6, 11, 48, tzinfo=UTC)
    assert doc.metadata == {"tags": '["a", "b"]', "nested": '{"k": 1}', "flag": True}


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"body": "   "}, "non-empty 'body'"),
        ({"body": 3}, "non-empty 'body'"),
        ({"id": ["x"], "body": "b"}, "'id' must be"),
        ({"id": "../etc", "body": "b"}, "'..' path segment"),
        ({"body": "b", "title": {"a": 1}}, "'title' must be a string"),
        ({"body": "b", "published_at": "07/09/2021"}, "'published_at': cannot parse"),
        ({"body": "b", "published_at": "someday"}, "'published_at': cannot parse"),
    ],
)
def test_bad_records_raise_ingest_error(record: dict[str, object], reason: str) -> None:
    with pytest.raises(IngestError) as caught:
        document_from_record(record, source="api", default_id="api#1")
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    "doc_id", ["", " lead", "trail ", "a\nb", "tab\there", "x" * 257, "..", "a/../b", "a\\..\\b"]
)
def test_invalid_doc_ids_are_refused(doc_id: str) -> None:
    with pytest.raises(IngestError, match="invalid document id"):
        validate_doc_id(doc_id)


@pytest.mark.parametrize("doc_id", ["a", "dir/file.txt", "x" * 256, "a..b", "ärticle #3"])
def test_valid_doc_ids_pass(doc_id: str) -> None:
    assert validate_doc_id(doc_id) == doc_id


# --- content hash -------------------------------------------------------------------------


def test_content_hash_follows_text_and_metadata() -> None:
    base: dict[str, object] = {"id": "d", "body": "Title\nBody line.", "url": "https://e.org/1"}
    first = document_from_record(base, source="s", default_id="d").content_hash
    assert document_from_record(dict(base), source="s", default_id="d").content_hash == first
    changes: list[dict[str, object]] = [
        {"body": "Title\nBody line!"},
        {"body": "Title\nBody line.\nShare this story"},  # same kept text, new excluded line
        {"url": "https://e.org/2"},
        {"publisher": "P"},
        {"published_at": "2021-07-06"},
        {"extra": 1},
        {"source": "other"},
        {"title": "Another"},
    ]
    hashes = {
        document_from_record(base | c, source="s", default_id="d").content_hash for c in changes
    }
    assert len(hashes) == len(changes)
    assert first not in hashes


def test_supported_suffixes() -> None:
    assert {
        *(".txt", ".md", ".markdown", ".json", ".jsonl"),
        *(".html", ".htm", ".xhtml", ".pdf"),
    } == SUPPORTED_SUFFIXES


def test_front_matter_date_wins_over_the_dateline() -> None:
    text = "---\npublished_at: 2020-01-02\n---\nTitle\n6 Jul, 2021 11:48\nBody."
    doc = document_from_text(text, source="s.md", doc_id="s.md")
    assert doc.published_at == datetime(2020, 1, 2, tzinfo=UTC)
    assert doc.excluded == {1, 2, 3, 5}
