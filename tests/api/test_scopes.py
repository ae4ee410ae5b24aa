"""Key scopes (read / admin), conversations bound to the key that started them, server-issued
conversation ids, feedback export for admins only, and `qa serve --no-auth`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.net import free_port
from fastapi.testclient import TestClient

from qa.api.app import create_app
from qa.api.security import ApiKey, parse_key
from qa.config import Settings
from qa.errors import ConfigError
from qa.service import QAService
from qa.types import Feedback

READ_1 = "sk-read-one-0123456789"
READ_2 = "sk-read-two-0123456789"
ADMIN = "sk-admin-0123456789"
BARE = "sk-bare-legacy-0123456789"  # a key configured before scopes existed: admin

FIRST = "Who did Putin speak with?"
FOLLOW_UP = "Which organisation framework was support offered in?"


@pytest.fixture
def scoped(seeded_service: QAService, tmp_path: Path) -> Iterator[TestClient]:
    keys = [f"read:{READ_1}", f"read:{READ_2}", f"admin:{ADMIN}", BARE]
    settings = Settings(data_dir=tmp_path, api_keys=keys, _env_file=None)
    with TestClient(create_app(seeded_service, settings)) as client:
        yield client


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_parse_key_scopes() -> None:
    assert parse_key("read:abc") == ApiKey("read", b"abc")
    assert parse_key("admin:abc") == ApiKey("admin", b"abc")
    assert parse_key("ADMIN: abc") == ApiKey("admin", b"abc")
    assert parse_key("abc") == ApiKey("admin", b"abc")
    # A colon inside a bare key is part of the key, unless before it stands a scope.
    assert parse_key("sk:abc") == ApiKey("admin", b"sk:abc")
    with pytest.raises(ConfigError, match="read: needs a key"):
        parse_key("read:")
    # Owners are digests of the key: distinct per key, and they do not reveal it.
    assert parse_key("read:abc").owner != parse_key("read:abd").owner
    assert "abc" not in parse_key("read:abc").owner


def test_a_read_key_may_search_and_ask(scoped: TestClient) -> None:
    search = scoped.post("/v1/search", json={"query": "Taliban"}, headers=auth(READ_1))
    assert search.status_code == 200 and search.json()["hits"]
    ask = scoped.post("/v1/ask", json={"question": FIRST}, headers=auth(READ_1))
    assert ask.status_code == 200 and ask.json()["answerable"] is True
    chat = scoped.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": FIRST}]},
        headers=auth(READ_1),
    )
    assert chat.status_code == 200
    assert scoped.get("/v1/documents", headers=auth(READ_1)).status_code == 200


def test_a_read_key_may_not_change_documents_or_export_feedback(
    scoped: TestClient, seeded_service: QAService
) -> None:
    before = {d.doc_id for d in seeded_service.list_documents()}
    victim = sorted(before)[0]
    added = scoped.post(
        "/v1/documents",
        json={"documents": [{"id": "planted", "body": "Planted text."}]},
        headers=auth(READ_1),
    )
    deleted = scoped.delete(f"/v1/documents/{victim}", headers=auth(READ_1))
    feedback = scoped.get("/v1/feedback", headers=auth(READ_1))
    for response in (added, deleted, feedback):
        assert response.status_code == 403, response.text
        error = response.json()["error"]
        assert error["type"] == "forbidden"
        assert "admin" in error["message"]
    assert {d.doc_id for d in seeded_service.list_documents()} == before


@pytest.mark.parametrize("key", [ADMIN, BARE])
def test_admin_and_unscoped_keys_may_manage_documents_and_feedback(
    scoped: TestClient, seeded_service: QAService, key: str
) -> None:
    doc_id = f"scoped-{key[-4:]}-{key[:6]}"
    added = scoped.post(
        "/v1/documents",
        json={"documents": [{"id": doc_id, "body": "An admin may add this text."}]},
        headers=auth(key),
    )
    assert added.status_code == 201, added.text
    seeded_service.record_feedback(Feedback(None, "q?", "a.", [], "up", "U1", "slack"))
    exported = scoped.get("/v1/feedback", headers=auth(key))
    assert exported.status_code == 200 and exported.json()["feedback"]
    assert scoped.delete(f"/v1/documents/{doc_id}", headers=auth(key)).status_code == 204


def test_ask_stores_nothing_unless_a_conversation_is_asked_for(scoped: TestClient) -> None:
    plain = scoped.post("/v1/ask", json={"question": FIRST}, headers=auth(READ_1)).json()
    assert plain["conversation_id"] is None
    started = scoped.post(
        "/v1/ask", json={"question": FIRST, "conversation": True}, headers=auth(READ_1)
    ).json()
    assert started["conversation_id"]
    follow = scoped.post(
        "/v1/ask",
        json={"question": FOLLOW_UP, "conversation_id": started["conversation_id"]},
        headers=auth(READ_1),
    )
    assert follow.status_code == 200
    assert follow.json()["conversation_id"] == started["conversation_id"]
    assert follow.json()["answerable"] is True


def test_another_key_cannot_continue_a_conversation(
    scoped: TestClient, seeded_service: QAService
) -> None:
    started = scoped.post(
        "/v1/ask", json={"question": FIRST, "conversation": True}, headers=auth(READ_1)
    ).json()
    conversation = started["conversation_id"]
    turns = seeded_service.history(conversation)
    for key in (READ_2, ADMIN):
        for path in ("/v1/ask", "/v1/ask/stream"):
            response = scoped.post(
                path,
                json={"question": FOLLOW_UP, "conversation_id": conversation},
                headers=auth(key),
            )
            assert response.status_code == 404, response.text
            assert response.json()["error"]["type"] == "not_found"
            # The same words for someone else's id and an unknown one: nothing to probe.
            assert "started with another key" in response.json()["error"]["message"]
    assert seeded_service.history(conversation) == turns  # nothing was added to A's


def test_a_client_cannot_choose_its_own_conversation_id(
    scoped: TestClient, seeded_service: QAService
) -> None:
    for body in (
        {"question": FIRST, "conversation_id": "my-own-id"},
        {"question": FIRST, "conversation_id": "my-own-id", "conversation": True},
        {"question": FIRST, "conversation_id": "slack:T1:C1:1625574480.000200"},
    ):
        response = scoped.post("/v1/ask", json=body, headers=auth(READ_1))
        assert response.status_code == 404, response.text
    assert not seeded_service.conversation_exists("my-own-id")


def test_without_keys_conversations_still_work_for_the_one_anonymous_caller(
    client: TestClient,
) -> None:
    started = client.post("/v1/ask", json={"question": FIRST, "conversation": True}).json()
    follow = client.post(
        "/v1/ask", json={"question": FOLLOW_UP, "conversation_id": started["conversation_id"]}
    )
    assert follow.status_code == 200
    assert follow.json()["conversation_id"] == started["conversation_id"]


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "OPENAI_"))}
    env["QA_DATA_DIR"] = str(tmp_path)
    env["QA_LANGUAGE_CHECK"] = "false"
    return env


def test_serve_no_auth_on_a_public_address_warns(tmp_path: Path) -> None:
    # A real `qa serve` process: it must start (not refuse) and say loudly that it is open.
    root = Path(__file__).resolve().parents[2]
    port = free_port()
    serve = ["serve", "--no-auth", "--host", "0.0.0.0", "--port", str(port)]
    process = subprocess.Popen(
        [sys.executable, "-m", "qa.cli", *serve],
        cwd=root,
        env=_clean_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + 60
        seen = ""
        while "--no-auth" not in seen and time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line and process.poll() is not None:
                break
            seen += line
        assert "no API keys and listening on 0.0.0.0 (--no-auth)" in seen, seen
        assert "WARNING" in seen
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
