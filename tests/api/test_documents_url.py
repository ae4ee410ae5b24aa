"""POST /v1/documents {"url"}: the server fetches the page (HTML, PDF) and cites it with links
to the passage; by default it refuses loopback and private addresses (SSRF), saying how to
allow them, and a refusal changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.documents import NEWS_PAGE, make_pdf
from fakes.web import Page, WebServer
from fastapi.testclient import TestClient

from qa.api.app import create_app
from qa.config import Settings
from qa.wiring import build_service


@pytest.fixture(scope="module")
def web() -> Iterator[WebServer]:
    with WebServer() as server:
        server.pages["/floods.html"] = Page(NEWS_PAGE.encode())
        server.pages["/report.pdf"] = Page(
            make_pdf(
                [["Harbour report", "Dredging begins."], ["The ferry carried 120 passengers."]],
                title="Harbour report",
            ),
            "application/pdf",
        )
        server.pages["/logo.png"] = Page(b"\x89PNG\r\n", "image/png")
        yield server


@pytest.fixture(scope="module")
def fetching_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An app whose server may fetch from loopback (where the test pages are)."""
    data = tmp_path_factory.mktemp("url-data")
    settings = Settings(data_dir=data, fetch_allow_private=True, _env_file=None)
    with TestClient(create_app(build_service(settings))) as client:
        yield client


def test_a_url_is_fetched_ingested_and_cited_with_links(
    fetching_client: TestClient, web: WebServer
) -> None:
    client = fetching_client
    page, pdf = web.url("/floods.html"), web.url("/report.pdf")
    for url in (page, pdf):
        created = client.post("/v1/documents", json={"url": url})
        assert created.status_code == 201, created.text
        assert created.json()["doc_ids"] == [url]
    again = client.post("/v1/documents", json={"url": page}).json()
    assert (again["documents"], again["unchanged"]) == (0, 1)

    doc = client.get(f"/v1/documents/{page}").json()
    assert doc["title"] == "Floods hit the valley"
    assert doc["url"] == "https://news.example.com/2024/floods"
    assert doc["metadata"]["author"] == "Jane Roe"
    lines = client.get(f"/v1/documents/{page}/lines").json()["lines"]
    assert lines[0] == {"n": 1, "text": "Floods hit the valley"}
    assert all("<" not in line["text"] for line in lines)

    answer = client.post("/v1/ask", json={"question": "How many passengers did the ferry carry?"})
    citations = answer.json()["citations"]
    assert citations and citations[0]["doc_id"] == pdf
    assert citations[0]["page"] == 2
    assert citations[0]["link"] == f"{pdf}#page=2"
    quoted = client.get(
        f"/v1/documents/{pdf}/lines",
        params={"start": citations[0]["line_start"], "end": citations[0]["line_end"]},
    ).json()["lines"]
    assert citations[0]["quote"] in "\n".join(line["text"] for line in quoted)

    chat = client.post(
        "/v1/chat/completions",
        json={
            "messages": [{"role": "user", "content": "How many passengers did the ferry carry?"}]
        },
    )
    content = chat.json()["choices"][0]["message"]["content"]
    assert f"({pdf}, page 2, lines 3-3) {pdf}#page=2" in content

    answer = client.post("/v1/ask", json={"question": "How many people left their homes?"})
    (first, *_) = answer.json()["citations"]
    assert first["doc_id"] == page and first["page"] is None
    assert first["link"].startswith("https://news.example.com/2024/floods#:~:text=")


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"url": "file:///etc/passwd"}, "only http:// and https://"),
        ({"url": "ftp://example.org/a"}, "only http:// and https://"),
        ({"url": ""}, "url"),
        ({"url": "https://example.org/", "documents": [{"body": "x"}]}, "not both"),
        ({}, "either 'documents'"),
    ],
)
def test_bad_url_requests_are_422_and_change_nothing(
    fetching_client: TestClient, body: dict[str, object], needle: str
) -> None:
    before = fetching_client.get("/v1/documents").json()
    response = fetching_client.post("/v1/documents", json=body)
    assert response.status_code == 422
    assert needle in response.json()["error"]["message"]
    assert fetching_client.get("/v1/documents").json() == before


def test_pages_that_cannot_be_used_are_422(fetching_client: TestClient, web: WebServer) -> None:
    for path, needle in [("/logo.png", "content type 'image/png'"), ("/nope", "HTTP 404")]:
        response = fetching_client.post("/v1/documents", json={"url": web.url(path)})
        assert response.status_code == 422
        assert needle in response.json()["error"]["message"]


def test_the_default_server_refuses_to_fetch_from_its_own_network(
    client: TestClient, web: WebServer
) -> None:
    """The shared app runs with default settings: no fetching from loopback/private hosts."""
    before = client.get("/v1/documents").json()
    seen = len(web.requests)
    for host in ("127.0.0.1", "localhost"):
        url = web.url("/floods.html").replace("127.0.0.1", host)
        response = client.post("/v1/documents", json={"url": url})
        assert response.status_code == 422
        message = response.json()["error"]["message"]
        assert "loopback, private or reserved" in message
        assert "QA_FETCH_ALLOW_PRIVATE" in message
    assert len(web.requests) == seen  # not even a request was sent
    assert client.get("/v1/documents").json() == before


def test_settings_name_the_fetch_limits(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, _env_file=None)
    assert settings.ingest.fetch_allow_private is False
    assert (settings.ingest.fetch_timeout_s, settings.ingest.fetch_max_redirects) == (20.0, 5)
