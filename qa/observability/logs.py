"""Logging configured once at the entrypoints: plain text or JSON lines."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from typing import Any

from qa.config import LoggingSettings

#: The id of the HTTP request being served (set by the API middleware; None elsewhere).
request_id_var: ContextVar[str | None] = ContextVar("qa_request_id", default=None)


class RequestIdFilter(logging.Filter):
    """Stamps every record with the current request id ("-" outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id_var.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line with time, level, logger, message and extra ids."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id and request_id != "-":
            data["request_id"] = request_id
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def configure_logging(config: LoggingSettings, *, verbose: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    # On the handler, not a logger: logger filters skip records propagated from children.
    handler.addFilter(RequestIdFilter())
    if config.json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else config.level.upper())
    if not verbose:
        # A handler filter, not logger levels: some libraries (bm25s) set their logger to
        # DEBUG when they are first imported, which happens after this runs.
        handler.addFilter(_quiet_libraries)


_NOISY = (
    *("httpx", "httpx2", "httpcore", "chromadb", "urllib3", "onnxruntime", "bm25s"),
    *("trafilatura", "htmldate", "courlan", "justext", "charset_normalizer", "pypdf"),
)


def _quiet_libraries(record: logging.LogRecord) -> bool:
    """Only warnings and errors from chatty third-party loggers."""
    return record.levelno >= logging.WARNING or record.name.split(".")[0] not in _NOISY
