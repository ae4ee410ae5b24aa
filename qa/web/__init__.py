"""The browser frontend: plain HTML, CSS and JavaScript served by qa/api/web.py (no build step)."""

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
