"""The ``qa ingest`` progress bar: embedder tokens, the total known before the first embed.

Documents are a poor unit (one may hold fifty times the text of another, and unchanged ones
cost nothing), so the bar counts the tokens of the chunks and sentences to embed; it moves
after every embedder call and its rate (tokens/s) is what ``IngestReport.summary`` prints.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO


def token_progress(total: int, *, stream: TextIO | None = None) -> Callable[[int], None]:
    """A tqdm bar over ``total`` tokens on a terminal (stderr), or a no-op elsewhere."""
    out = stream or sys.stderr
    if total <= 0 or not out.isatty():
        return lambda n: None
    from tqdm import tqdm

    bar = tqdm(
        total=total,
        unit="tok",
        unit_scale=True,
        desc="embedding",
        file=out,
        leave=False,
        smoothing=0.1,
        dynamic_ncols=True,
    )

    def advance(n: int) -> None:
        bar.update(n)
        if bar.n >= total:
            bar.close()

    return advance
