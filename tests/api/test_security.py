"""API keys on /v1 (Bearer, constant-time compare), open health/metrics routes, no key in logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa.api.app import create_app
from qa.api.security import match_key
from qa.cli import main
from qa.config import Settings
from qa.service import QAService

KEY_A = "sk-test-alpha-0123456789"
KEY_B = "sk-test-bravo-9876543210"

# Every /v1 route, each with a request that would otherwise succeed or fail on its own terms.
V1_REQUESTS = [
    ("GET", "/v1/documents", None),
    ("POST", "/v1/search", {"query": "Taliban"}),
    ("POST", "/v1/ask", {"question": "Who crossed the border?"}),
    ("POST", "/v1/ask/stream", {"question": "Who crossed the border?"}),
    ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "Hi?"}]}),
    ("POST", "/v1/documents", {"documents": [{"id": "never-stored", "body": "Some text."}]}),
    ("GET", "/v1/documents/some-id", None),
    ("GET", "/v1/documents/some-id/lines", None),
    ("DELETE", "/v1/documents/some-id", None),
]


@pytest.fixture
def keyed(seeded_service: QAService, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, api_keys=[KEY_A, KEY_B], _env_file=None)
    with TestClient(create_app(seeded_service, settings)) as client:
        yield client


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize(("method", "path", "body"), V1_REQUESTS)
def test_every_v1_route_needs_a_key(
    keyed: TestClient, method: str, path: str, body: object
) -> None:
    response = keyed.request(method, path, json=body)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "unauthorized"
    assert "Authorization: Bearer" in response.json()["error"]["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    # Rejected before the route ran: the document was not stored.
    ok = keyed.get("/v1/documents/never-stored", headers=_bearer(KEY_A))
    assert ok.status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [
        f"Bearer {KEY_A}x",
        f"Bearer {KEY_A[:-1]}",
        f"Basic {KEY_A}",
        f"Token {KEY_A}",
        "Bearer ",
        KEY_A,
        "Bearer sk-test-ålpha".encode(),  # non-ASCII bytes must not break the comparison
    ],
)
def test_wrong_keys_are_rejected(keyed: TestClient, authorization: str | bytes) -> None:
    raw = authorization if isinstance(authorization, bytes) else authorization.encode()
    response = keyed.get("/v1/documents", headers={b"Authorization": raw})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="qa"')


def test_a_present_but_wrong_key_says_invalid_token(keyed: TestClient) -> None:
    response = keyed.get("/v1/documents", headers=_bearer("nope"))
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert response.json()["error"]["message"] == "invalid API key"


@pytest.mark.parametrize("key", [KEY_A, KEY_B])
def test_each_configured_key_is_accepted(keyed: TestClient, key: str) -> None:
    listed = keyed.get("/v1/documents", headers=_bearer(key))
    assert listed.status_code == 200
    assert len(listed.json()["documents"]) >= 2
    search = keyed.post("/v1/search", json={"query": "Taliban"}, headers=_bearer(key))
    assert search.status_code == 200
    assert search.json()["hits"]


def test_scheme_is_case_insensitive(keyed: TestClient) -> None:
    response = keyed.get("/v1/documents", headers={"Authorization": f"bearer {KEY_B}"})
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/openapi.json"])
def test_health_metrics_and_schema_stay_open(keyed: TestClient, path: str) -> None:
    response = keyed.get(path)
    assert response.status_code == 200


def test_slack_events_are_not_behind_the_bearer_check(keyed: TestClient) -> None:
    # Slack authenticates with its own request signature, never with our API keys.
    response = keyed.post("/slack/events", json={"type": "url_verification", "challenge": "c"})
    assert "WWW-Authenticate" not in response.headers  # every 401 of ours carries it


def test_keys_are_required_behind_a_proxy_prefix(seeded_service: QAService, tmp_path: Path) -> None:
    # uvicorn --root-path /qa: the raw path is /qa/v1/..., the routed one /v1/...
    settings = Settings(data_dir=tmp_path, api_keys=[KEY_A], _env_file=None)
    with TestClient(create_app(seeded_service, settings), root_path="/qa") as client:
        assert client.get("/qa/v1/documents").status_code == 401
        assert client.get("/qa/v1/documents", headers=_bearer(KEY_A)).status_code == 200
        assert client.get("/qa/healthz").status_code == 200


def test_without_keys_v1_is_open(client: TestClient) -> None:
    assert client.get("/v1/documents").status_code == 200


def test_openapi_declares_bearer_auth_on_v1_only(keyed: TestClient) -> None:
    schema = keyed.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
    }
    assert schema["paths"]["/v1/search"]["post"]["security"] == [{"apiKey": []}]
    assert "security" not in schema["paths"]["/healthz"]["get"]


def test_keys_never_reach_logs_or_responses(
    keyed: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    responses = [
        keyed.get("/v1/documents", headers=_bearer(KEY_A)),
        keyed.get("/v1/documents", headers=_bearer(KEY_B + "-wrong")),
        keyed.post("/v1/search", json={"query": "x" * 5000}, headers=_bearer(KEY_B)),
        keyed.get("/v1/documents/missing", headers=_bearer(KEY_A)),
    ]
    assert any(r.name.startswith("qa.") for r in caplog.records)  # something was logged
    for secret in (KEY_A, KEY_B):
        assert secret not in caplog.text
        for response in responses:
            assert secret not in response.text
            assert all(secret not in value for value in response.headers.values())


def test_match_key_returns_the_index_of_the_matching_key() -> None:
    keys = [b"first", b"second", b"third"]
    assert match_key(b"second", keys) == 1
    assert match_key(b"third", keys) == 2
    assert match_key(b"fourth", keys) is None
    assert match_key(b"", keys) is None
    assert match_key(None, keys) is None
    assert match_key(b"first", []) is None


def test_serve_refuses_a_public_address_without_keys(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("QA_API_KEYS", "QA_ALLOW_ANONYMOUS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path))
    from qa.config import get_settings

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    get_settings.cache_clear()
    try:
        assert main(["serve", "--host", "0.0.0.0", "--port", "9"]) == 2
    finally:
        get_settings.cache_clear()
        root.handlers[:] = handlers  # main() configured logging for a process, not a test
        root.setLevel(level)
    assert "refusing to listen on 0.0.0.0 without API keys" in capsys.readouterr().err
