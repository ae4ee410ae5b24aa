"""Logging set-up: chatty libraries are held to warnings even if they lower their level."""

from __future__ import annotations

import logging

import pytest

from qa.config import LoggingSettings
from qa.observability.logs import configure_logging


def test_library_debug_is_dropped_but_our_info_and_their_warnings_pass(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(LoggingSettings(level="DEBUG"))
    try:
        library = logging.getLogger("bm25s")
        library.setLevel(logging.DEBUG)  # what bm25s does when it is imported
        library.debug("building index")
        library.warning("index is empty")
        logging.getLogger("qa.service").info("ingested 2 documents")
        err = capsys.readouterr().err
        assert "building index" not in err
        assert "index is empty" in err
        assert "ingested 2 documents" in err
    finally:
        logging.getLogger().handlers.clear()
