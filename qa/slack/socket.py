"""run_socket_mode: serve the Slack bot over Socket Mode (no public URL needed)."""

from __future__ import annotations

import logging
import threading

from slack_bolt.adapter.socket_mode import SocketModeHandler

from qa.config import SlackSettings
from qa.errors import ConfigError
from qa.service import QAService
from qa.slack.app import build_slack_app

log = logging.getLogger(__name__)


def run_socket_mode(
    slack: SlackSettings, service: QAService, *, stop: threading.Event | None = None
) -> None:
    """Connect with QA_SLACK_APP_TOKEN and answer until ``stop`` is set (or Ctrl-C).

    Uses bolt's built-in WebSocket client, which needs no extra package.
    """
    if slack.app_token is None:
        raise ConfigError("QA_SLACK_APP_TOKEN (xapp-...) is required for Socket Mode")
    app = build_slack_app(slack, service, socket_mode=True)
    handler = SocketModeHandler(app, app_token=slack.app_token.get_secret_value())
    stop = stop or threading.Event()
    handler.connect()  # type: ignore[no-untyped-call]  # bolt leaves it unannotated
    log.info("slack: connected in Socket Mode")
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        log.info("slack: interrupted")
    finally:
        handler.close()  # type: ignore[no-untyped-call]
