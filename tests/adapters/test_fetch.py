"""URL ingestion against a loopback web server: what is fetched, what is refused and why, and
that a refused fetch sends nothing (loopback needs QA_FETCH_ALLOW_PRIVATE, as any private
address does)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.documents import NEWS_PAGE, make_pdf
from fakes.service import ServiceFactory
from fakes.web import Page, WebServer, gzipped, redirect

from qa.errors import IngestError
from qa.ingest.fetch import FetchError, allowed_address, doc_id_for_url, fetch_url, is_url

MB = 1_000_000


def fetch(url: str, **limits: float | int | bool) -> object:
    options: dict[str, float | int | bool] = {
        "timeout_s": 5.0,
        "max_bytes": MB,
        "max_redirects": 3,
        "allow_private": True,
    }
    return fetch_url(url, **(options | limits))  # type: ignore[arg-type]


def refusal(url: str, **limits: float | int | bool) -> str:
    with pytest.raises(FetchError) as caught:
        fetch(url, **limits)
    assert caught.value.where == url[:200]
    return caught.value.reason


@pytest.fixture
def web() -> Iterator[WebServer]:
    with WebServer() as server:
        yield server


@pytest.fixture
def make(tmp_path: Path) -> Iterator[ServiceFactory]:
    with ServiceFactory(tmp_path) as factory:
        yield factory


# --- what is refused before anything is sent ----------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
        "0.0.0.0", "224.0.0.1", "::1", "fe80::1%eth0", "fc00::1", "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
    ],
)  # fmt: skip
def test_non_global_addresses_are_not_allowed(address: str) -> None:
    assert not allowed_address(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_global_addresses_are_allowed(address: str) -> None:
    assert allowed_address(address)


def test_loopback_is_refused_by_default_and_nothing_is_sent(web: WebServer) -> None:
    web.pages["/a"] = Page(NEWS_PAGE.encode())
    for host in ("127.0.0.1", "localhost", "[::ffff:127.0.0.1]"):
        url = web.url("/a").replace("127.0.0.1", host)
        reason = refusal(url, allow_private=False)
        assert "loopback, private or reserved" in reason, reason
        assert "QA_FETCH_ALLOW_PRIVATE" in reason
    assert web.paths() == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.org/a.html", "only http:// and https:// URLs"),
        ("file:///etc/passwd", "only http:// and https:// URLs"),
        ("http://user:pw@example.org/", "user name or password"),
        ("http:///path-only", "names no host"),
        ("http://ex\x00ample.org/", "not a valid URL"),
    ],
)
def test_urls_that_are_not_fetched(url: str, reason: str) -> None:
    assert reason in refusal(url)


# --- limits -------------------------------------------------------------------------------


def test_redirects_are_followed_up_to_the_limit(web: WebServer) -> None:
    web.pages["/final"] = Page(NEWS_PAGE.encode())
    for i in range(4):
        web.pages[f"/r{i}"] = redirect(f"/r{i + 1}" if i < 3 else "/final")
    page = fetch(web.url("/r1"), max_redirects=3)
    assert page.url == web.url("/final")  # type: ignore[attr-defined]
    assert "more than 2 redirects (QA_FETCH_MAX_REDIRECTS)" in refusal(
        web.url("/r1"), max_redirects=2
    )
    web.pages["/out"] = redirect("file:///etc/passwd")
    assert "not http(s)" in refusal(web.url("/out"))


@pytest.mark.parametrize(
    ("page", "reason"),
    [
        (Page(b"\x89PNG", "image/png"), "content type 'image/png' is not one of"),
        (Page(b"<html></html>", None), "content type 'missing'"),
        (Page(b"gone", "text/plain", status=404), "the server answered HTTP 404"),
        (Page(b"oops", "text/plain", status=503), "the server answered HTTP 503"),
    ],
)
def test_unwanted_answers_are_refused(web: WebServer, page: Page, reason: str) -> None:
    web.pages["/x"] = page
    assert reason in refusal(web.url("/x"))


def test_bodies_over_the_byte_cap_are_refused(web: WebServer) -> None:
    big = b"<p>" + b"word " * 50_000 + b"</p>"
    web.pages["/declared"] = Page(big)
    web.pages["/undeclared"] = Page(big, length=False, chunks=20)
    web.pages["/bomb"] = gzipped(b" " * (5 * MB))  # 5 kB on the wire
    for path, size in [("/declared", f"{len(big)} bytes"), ("/undeclared", "more than")]:
        reason = refusal(web.url(path), max_bytes=100_000)
        assert f"the page is {size}" in reason and "(QA_MAX_FILE_BYTES)" in reason
    assert "more than 1000000 bytes" in refusal(web.url("/bomb"))


def test_a_slow_body_is_cut_off_at_the_whole_fetch_deadline(web: WebServer) -> None:
    # Each piece comes within the per-read timeout; together they take too long.
    web.pages["/slow"] = Page(NEWS_PAGE.encode(), chunks=20, delay=0.1)
    started = time.monotonic()
    assert "timed out after 0.5 s (QA_FETCH_TIMEOUT_S)" in refusal(web.url("/slow"), timeout_s=0.5)
    assert time.monotonic() - started < 1.5


def test_a_silent_server_times_out(web: WebServer) -> None:
    web.pages["/silent"] = Page(NEWS_PAGE.encode(), chunks=1, delay=2.0)
    assert "timed out" in refusal(web.url("/silent"), timeout_s=0.3)


# --- what is fetched ------------------------------------------------------------------------


def test_a_page_is_fetched_with_its_type_charset_and_a_polite_request(web: WebServer) -> None:
    web.pages["/a"] = Page(NEWS_PAGE.encode("cp1252"), "text/html; charset=windows-1252")
    page = fetch(web.url("/a"))
    assert (page.kind, page.charset) == ("html", "windows-1252")  # type: ignore[attr-defined]
    ((_, headers),) = web.requests
    assert headers["User-Agent"].startswith("qa-ingest/")
    assert "application/pdf" in headers["Accept"]


def test_ingest_urls_stores_pages_and_reports_each_failure(
    web: WebServer, make: ServiceFactory, tmp_path: Path
) -> None:
    web.pages["/floods.html"] = Page(NEWS_PAGE.encode())
    web.pages["/report.pdf"] = Page(
        make_pdf([["Harbour report"], ["The ferry carried 120 passengers on Monday."]]),
        "application/pdf",
    )
    web.pages["/notes.txt"] = Page("Le café était très chaud.".encode("cp1252"), "text/plain")
    web.pages["/empty.html"] = Page(b"<html><body><div></div></body></html>")
    built = make(fetch_allow_private=True)
    urls = [web.url(p) for p in ("/floods.html", "/report.pdf", "/notes.txt", "/empty.html")]
    report = built.service.ingest_urls([*urls, web.url("/missing")])
    assert (report.documents, report.skipped, report.failed) == (3, 1, 1)
    assert report.skips == [f"{urls[3]}: no article text found in the HTML page"]
    assert report.errors == [f"{web.url('/missing')}: the server answered HTTP 404"]
    html = built.service.get_document(urls[0])
    assert html.source == urls[0]
    assert html.title == "Floods hit the valley"
    assert html.url == "https://news.example.com/2024/floods"  # the page's canonical URL
    pdf = built.service.get_document(urls[1])
    assert pdf.url == urls[1] and pdf.lines[-1] == "The ferry carried 120 passengers on Monday."
    assert built.service.get_document(urls[2]).lines == ("Le café était très chaud.",)

    answer = built.service.ask("How many passengers did the ferry carry?")
    (citation,) = [c for c in answer.citations if c.doc_id == urls[1]]
    assert (citation.page, citation.link) == (2, f"{urls[1]}#page=2")
    answer = built.service.ask("How many people were forced from their homes by the floods?")
    cited = [c for c in answer.citations if c.doc_id == urls[0]]
    assert cited and cited[0].link is not None
    assert cited[0].link.startswith("https://news.example.com/2024/floods#:~:text=")

    # Pruning a folder removes documents whose files are gone; fetched pages have none.
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "a.txt").write_text("Harbour news\n\nThe pier reopened.\n")
    assert built.service.ingest_paths([folder], prune=True).pruned == 0
    assert len(built.service.list_documents()) == 4


def test_the_charset_a_server_declares_is_used(web: WebServer, make: ServiceFactory) -> None:
    # Detection alone reads these few koi8-r bytes as Japanese.
    text = "Москва - столица России."
    web.pages["/ru.txt"] = Page(text.encode("koi8_r"), "text/plain; charset=koi8-r")
    built = make(fetch_allow_private=True)
    assert built.service.ingest_urls([web.url("/ru.txt")]).documents == 1
    doc = built.service.get_document(web.url("/ru.txt"))
    assert doc.lines == (text,)
    assert doc.metadata["encoding"] == "koi8-r"


def test_the_api_path_refuses_loopback_by_default(web: WebServer, make: ServiceFactory) -> None:
    web.pages["/a"] = Page(NEWS_PAGE.encode())
    built = make()
    with pytest.raises(IngestError, match="QA_FETCH_ALLOW_PRIVATE"):
        built.service.add_url(web.url("/a"))
    assert built.service.list_documents() == []
    assert web.paths() == []


def test_url_helpers() -> None:
    assert is_url("https://x.org/a") and is_url("HTTP://x") and not is_url("seeds/a.txt")
    long = "https://example.org/" + "a" * 400
    assert len(doc_id_for_url(long)) == 256 and doc_id_for_url(long) != doc_id_for_url(long + "b")
    assert doc_id_for_url("https://x.org/a") == "https://x.org/a"
