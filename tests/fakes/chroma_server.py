"""A real `chroma run` server on loopback that tests can stop and start (same port, same data)."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Self

from fakes.net import Loopback, free_port

# free_port stays importable from here: other tests import it from this module.
__all__ = ["CHROMA_EXE", "ChromaServer", "free_port"]

CHROMA_EXE = Path(sys.executable).parent / "chroma"


class ChromaServer(Loopback):
    """``chroma run --path PATH --host 127.0.0.1 --port PORT`` with start()/stop()."""

    def __init__(self, path: Path, port: int | None = None) -> None:
        self.path = path
        self.port = port or free_port()
        self.log_path = path.parent / f"{path.name}-chroma.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 30.0) -> Self:
        if self.running:
            return self
        self.path.mkdir(parents=True, exist_ok=True)
        command: list[str | Path] = [CHROMA_EXE, "run", "--path", self.path, "--host", "127.0.0.1"]
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [*command, "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"chroma run exited early; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=1):
                    return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"chroma run not ready after {timeout} s; see {self.log_path}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
