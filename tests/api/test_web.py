"""The web pages, their static files, the offline API docs and POST /v1/feedback (TestClient)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa.api.app import create_app
from qa.config import Settings
from qa.service import QAService
from qa.web import STATIC_DIR

KEY = "sk-test-web-0123456789"
PAGES = ["/", "/documents", "/docs", "/redoc"]


class _Refs(HTMLParser):
    """Every URL a page loads or links to: src and href attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]


def page_refs(html: str) -> list[str]:
    parser = _Refs()
    parser.feed(html)
    return parser.urls


@pytest.mark.parametrize("path", PAGES)
def test_pages_load_only_local_urls(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    refs = page_refs(html)
    assert refs, "a page with no assets is not the page we mean"
    for url in refs:
        assert url.startswith("/"), f"{path} references {url}: not a local URL"
        assert not url.startswith("//"), url
        assert client.get(url).status_code == 200, f"{path}: {url} is missing"
    # Nothing remote hides in inline scripts either (the CDN defaults of FastAPI's docs).
    assert not re.search(r"https?://", html), f"{path} mentions a remote URL"


def test_redoc_bundle_has_no_remote_logo(client: TestClient) -> None:
    js = client.get("/static/redoc/redoc.standalone.js")
    assert js.status_code == 200
    assert "cdn.redoc.ly" not in js.text
    assert "/static/web/favicon.svg" in js.text


def test_swagger_assets_are_served(client: TestClient) -> None:
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        response = client.get(f"/static/docs/{asset}")
        assert response.status_code == 200
        assert len(response.content) > 100_000  # the real bundle, not a stub


@pytest.mark.parametrize("path", ["/", "/documents"])
def test_pages_send_a_strict_content_security_policy(client: TestClient, path: str) -> None:
    policy = client.get(path).headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "connect-src 'self'" in policy
    assert "unsafe-inline" not in policy


def test_scripts_never_parse_text_as_html() -> None:
    # Document text is untrusted: the scripts build nodes and set text, never HTML strings.
    scripts = sorted(STATIC_DIR.glob("*.js"))
    assert {p.name for p in scripts} >= {"common.js", "chat.js", "documents.js"}
    for script in scripts:
        source = script.read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, f"{script.name} uses {sink}"


def test_static_files_ship_in_the_package() -> None:
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"qa.web" = ["static/*"]' in pyproject
    assert (STATIC_DIR / "index.html").is_file()


def test_openapi_still_served_and_documents_feedback(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "post" in schema["paths"]["/v1/feedback"]
    assert "/docs" not in schema["paths"]  # the docs pages stay out of the schema


# ------------------------------------------------------------------ feedback
def _answered(client: TestClient, question: str) -> dict[str, object]:
    answer = client.post("/v1/ask", json={"question": question, "conversation": True}).json()
    assert answer["conversation_id"]
    return answer


def test_feedback_is_stored_like_slacks(client: TestClient) -> None:
    question = "How many Afghan soldiers did Tajik border guards let into Tajikistan on July 5?"
    answer = _answered(client, question)
    response = client.post(
        "/v1/feedback",
        json={
            "conversation_id": answer["conversation_id"],
            "question": question,
            "answer": answer["answer"],
            "citations": answer["citations"],
            "verdict": "down",
        },
    )
    assert response.status_code == 201, response.text
    feedback_id = response.json()["id"]
    stored = client.get("/v1/feedback").json()["feedback"]
    record = next(f for f in stored if f["id"] == feedback_id)
    assert record["source"] == "web"
    assert record["verdict"] == "down"
    assert record["question"] == question
    assert record["answer"] == answer["answer"]
    assert record["citations"] == answer["citations"]
    assert record["conversation_id"] == answer["conversation_id"]


def test_feedback_on_an_answer_the_conversation_never_gave_is_refused(
    client: TestClient,
) -> None:
    question = "When did US forces leave the Bagram air base?"
    answer = _answered(client, question)
    before = len(client.get("/v1/feedback").json()["feedback"])
    for body in (
        {"conversation_id": answer["conversation_id"], "question": question, "answer": "made up"},
        {"conversation_id": "no-such-conversation", "question": question, "answer": "x"},
    ):
        response = client.post("/v1/feedback", json=body | {"verdict": "up"})
        assert response.status_code == 404
        assert "no such question and answer" in response.json()["error"]["message"]
    assert len(client.get("/v1/feedback").json()["feedback"]) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"conversation_id": "c", "question": "q", "answer": "a", "verdict": "meh"}, "verdict"),
        ({"question": "q", "answer": "a", "verdict": "up"}, "conversation_id"),
        ({"conversation_id": "c", "question": "q", "answer": "a", "verdict": "up", "x": 1}, "x"),
    ],
)
def test_bad_feedback_says_what_to_fix(
    client: TestClient, body: dict[str, object], field: str
) -> None:
    response = client.post("/v1/feedback", json=body)
    assert response.status_code == 422
    assert field in response.json()["error"]["message"]


# ------------------------------------------------------------------ with API keys
@pytest.fixture
def keyed(seeded_service: QAService, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, api_keys=[KEY], _env_file=None)
    with TestClient(create_app(seeded_service, settings)) as client:
        yield client


def test_with_keys_pages_stay_open_and_the_api_they_call_does_not(keyed: TestClient) -> None:
    for path in [*PAGES, "/static/web/chat.js", "/static/docs/swagger-ui.css"]:
        assert keyed.get(path).status_code == 200, path
    body = {"conversation_id": "c", "question": "q", "answer": "a", "verdict": "up"}
    assert keyed.post("/v1/feedback", json=body).status_code == 401
    assert keyed.get("/v1/documents").status_code == 401
