"""Run the `qa` command line in a subprocess with a clean environment (no QA_/OPENAI_ vars)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_qa(
    data_dir: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """`python -m qa.cli ARGS` against ``data_dir``; ``env`` adds QA_ settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "OPENAI_"))}
    clean["QA_DATA_DIR"] = str(data_dir)
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "qa.cli", *args],
        capture_output=True,
        text=True,
        env=clean,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )
