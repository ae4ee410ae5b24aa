"""The Slack bot on an empty store says so (and how to fix it) instead of "the articles
don't say"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakes.slack_api import SlackAPIStub
from fastapi.testclient import TestClient

from qa.api.app import create_app
from qa.api.slack_routes import mount_slack
from qa.config import Settings
from qa.errors import EmptyStoreError
from qa.slack.app import build_slack_app
from qa.wiring import build_service
from slack.test_bolt_app import (
    block_texts,
    mention,
    new_channel,
    post_event,
    slack_settings,
    wait_answers,
)


@pytest.fixture(scope="module")
def stub() -> Iterator[SlackAPIStub]:
    with SlackAPIStub() as server:
        yield server


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory, stub: SlackAPIStub) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("slack-empty"), language_check=False, _env_file=None
    )
    service = build_service(settings)
    app = create_app(service)
    mount_slack(app, build_slack_app(slack_settings(stub), service))
    with TestClient(app) as client:
        yield client


def test_a_question_to_an_empty_store_is_told_to_ingest_first(
    http: TestClient, stub: SlackAPIStub
) -> None:
    channel = new_channel()
    event = mention(channel, "Who won the election?")
    assert post_event(http, event) == 200
    [reply] = wait_answers(stub, channel, event["ts"])
    assert EmptyStoreError.MESSAGE in block_texts(reply)
