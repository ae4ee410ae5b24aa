"""Which language a question is written in (lingua, whose models ship in its wheel): the
embedder and the sentence ranker read English only, so a question in another language gets
a plain message instead of a silent abstention."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

#: The languages told apart from English: the most asked-in languages, in several scripts.
#: Each costs memory (lingua's models load on first use), so the list is not every language.
CANDIDATES = (
    "ARABIC",
    "CHINESE",
    "DUTCH",
    "FRENCH",
    "GERMAN",
    "HINDI",
    "INDONESIAN",
    "ITALIAN",
    "JAPANESE",
    "KOREAN",
    "PERSIAN",
    "POLISH",
    "PORTUGUESE",
    "RUSSIAN",
    "SPANISH",
    "SWEDISH",
    "TURKISH",
    "UKRAINIAN",
    "VIETNAMESE",
)
SUPPORTED = ("ENGLISH",)
#: How sure lingua must be that a question is in another language. Short English questions
#: can look foreign ("what is chicken chow mein" scores 0.41 German), so the bar is high; a
#: question below it is answered as usual (see bench/README.md, language check).
MIN_CONFIDENCE = 0.6


class LinguaLanguageCheck:
    """``unsupported_language(text)``: the language a text is confidently written in when
    it is not a supported one, else None. Thread-safe; the detector is built on first use."""

    def __init__(
        self,
        supported: Sequence[str] = SUPPORTED,
        candidates: Sequence[str] = CANDIDATES,
        min_confidence: float = MIN_CONFIDENCE,
    ) -> None:
        self._supported = frozenset(name.upper() for name in supported)
        self._names = sorted(self._supported | {name.upper() for name in candidates})
        self._min_confidence = min_confidence
        self._detector: Any = None
        self._lock = threading.Lock()

    @property
    def supported(self) -> list[str]:
        """The supported languages' names, for messages ("English")."""
        return sorted(name.title() for name in self._supported)

    def _build(self) -> Any:
        with self._lock:
            if self._detector is None:
                from lingua import Language, LanguageDetectorBuilder

                languages = [getattr(Language, name) for name in self._names]
                self._detector = LanguageDetectorBuilder.from_languages(*languages).build()
            return self._detector

    def unsupported_language(self, text: str) -> str | None:
        if not any(ch.isalpha() for ch in text):
            return None
        values = self._build().compute_language_confidence_values(text)
        if not values:
            return None
        best = values[0]
        name = str(best.language.name)
        if name in self._supported or float(best.value) < self._min_confidence:
            return None
        return name.title()
