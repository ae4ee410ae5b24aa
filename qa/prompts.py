"""Prompt templates from prompts/, checked at load for exactly their placeholders."""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

from qa.errors import ConfigError

# Each template and the {placeholders} it must hold; literal braces are written {{ }}.
REQUIRED = {
    "answer.md": frozenset({"sources", "question", "history"}),
    "condense.md": frozenset({"history", "question"}),
}


def _placeholders(path: Path, template: str) -> set[str]:
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigError(
            f"{path}: malformed template ({exc}); write literal braces as {{{{ }}}}"
        ) from exc
    found = set()
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ConfigError(f"{path}: placeholder {{{name}}} must be a plain name")
        found.add(name)
    return found


def _load(folder: Path, name: str) -> str:
    path = folder / name
    try:
        template = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read prompt ({exc.strerror})") from exc
    found, required = _placeholders(path, template), REQUIRED[name]
    if found != required:
        missing, unknown = sorted(required - found), sorted(found - required)
        raise ConfigError(f"{path}: placeholders missing {missing}, unknown {unknown}")
    return template


@dataclass(frozen=True)
class Prompts:
    """The loaded templates. Values are substituted once and never parsed as templates."""

    answer: str
    condense: str

    def render_answer(self, *, sources: str, question: str, history: str) -> str:
        return self.answer.format(sources=sources, question=question, history=history)

    def render_condense(self, *, history: str, question: str) -> str:
        return self.condense.format(history=history, question=question)


def load_prompts(folder: Path) -> Prompts:
    """Read answer.md and condense.md from ``folder``; ConfigError names a bad file."""
    return Prompts(answer=_load(folder, "answer.md"), condense=_load(folder, "condense.md"))
