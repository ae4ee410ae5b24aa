"""Logging configured once at the entrypoints: plain text or JSON lines."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from qa.config import Settings


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
        if request_id:
            data["request_id"] = request_id
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def configure_logging(settings: Settings, *, verbose: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else settings.log_level.upper())
    for noisy in ("httpx", "httpcore", "chromadb", "urllib3", "onnxruntime"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
