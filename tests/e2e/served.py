"""`qa serve` in a subprocess on a free loopback port, for tests that need a real server
process beside another `qa` process on the same data dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
from fakes.net import free_port

from e2e.cli import ROOT


def article_file(path: Path, doc_id: str, source: str, body: str) -> Path:
    """A one-record JSONL file (explicit id and source, so filters can name them)."""
    record = {"id": doc_id, "source": source, "title": body.split(".", maxsplit=1)[0], "body": body}
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    return path


class Served:
    """``with Served(data_dir) as server:`` a running `qa serve`; ``server.url``."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "OPENAI_"))}
        clean.update({"QA_DATA_DIR": str(data_dir), "QA_LANGUAGE_CHECK": "false"})
        clean.update(env or {})
        self._env = clean
        self._log = data_dir / f"serve-{self.port}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def __enter__(self) -> Self:
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "qa.cli", "serve", "--port", str(self.port)],
                cwd=ROOT,
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"qa serve exited: {self.log()[-4000:]}")
            try:
                if self.http.get("/readyz").json().get("status") == "ready":
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.__exit__(None, None, None)
        raise TimeoutError(f"qa serve not ready in 180 s: {self.log()[-4000:]}")

    def log(self) -> str:
        return self._log.read_text(encoding="utf-8", errors="replace")

    def search(self, query: str, **fields: Any) -> httpx.Response:
        return self.http.post("/v1/search", json={"query": query, **fields})

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.http.close()
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
