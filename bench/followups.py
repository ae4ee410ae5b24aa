"""Follow-up questions in conversations (eval/conversations/seeds.jsonl over seeds/, and
bench/data/wikiqa-conversations.jsonl over the wikiqa-dev corpus), asked through QAService
with conversation ids and scored as `qa eval` scores them.

Usage: python bench/followups.py [--fit seeds|wikiqa] [--seeds-dir DIR] [--wikiqa-dir DIR]

The thresholds of qa/answering/followups.py are chosen on one file (``--fit``, default the
seeds) and checked on the other. Every follow-up is also asked alone in its hand-written
stand-alone form, which is the figure to reach. Without an LLM (extractive answers).
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import common

CONVERSATIONS = {
    "seeds": common.ROOT / "eval" / "conversations" / "seeds.jsonl",
    "wikiqa": common.ROOT / "bench" / "data" / "wikiqa-conversations.jsonl",
}
CORPUS = {"seeds": common.SEEDS, "wikiqa": common.WIKIQA / "corpus.jsonl"}


@contextmanager
def constants(**values: Any) -> Iterator[None]:
    """Set constants of qa.answering.followups for a run (restored after)."""
    from qa.answering import followups

    saved = {name: getattr(followups, name) for name in values}
    for name, value in values.items():
        setattr(followups, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(followups, name, value)


@contextmanager
def previous_behaviour() -> Iterator[None]:
    """The service before this change: every follow-up searched and answered with the
    previous standalone question glued in front of it."""
    from qa.answering.condense import naive_condense
    from qa.answering.followups import FollowUps, Resolved

    def resolve(
        self: Any, question: str, history: Any, k: int, filters: Any = None, *, as_of: Any = None
    ) -> Any:
        standalone = naive_condense(question, history) if history else question
        hits = self._retriever.search(standalone, k, filters, as_of=as_of)
        return Resolved(standalone, standalone, hits)

    saved = FollowUps.resolve
    FollowUps.resolve = resolve  # type: ignore[method-assign]
    try:
        yield
    finally:
        FollowUps.resolve = saved  # type: ignore[method-assign]


@contextmanager
def plain_rrf(**values: Any) -> Iterator[None]:
    """Dependent follow-ups answered from the plain reciprocal rank fusion of both searches
    (the follow-up's own passages as likely as those found with the context)."""
    from qa.retrieval import rrf

    def fuse(alone: Any, with_context: Any, k: int) -> Any:
        by_id = {hit.chunk_id: hit for hit in [*alone, *with_context]}
        ranked = rrf([[h.chunk_id for h in alone], [h.chunk_id for h in with_context]])
        return [by_id[r.chunk_id] for r in ranked[:k]]

    with constants(fuse=fuse, **values):
        yield


def run(service: Any, conversations: Sequence[Any], k: int) -> dict[str, Any]:
    from qa.eval.conversations import evaluate_conversations, follow_up_totals

    rows = evaluate_conversations(service, conversations, k)
    total = follow_up_totals(rows)
    follow = [r for r in rows if r.kind != "first"]
    # The service searched with the question alone exactly when it judged it self-contained.
    judged = [(r.searched == r.question) == (r.kind == "self-contained") for r in follow]
    return {
        "conv": total.in_conversation,
        "alone": total.alone,
        "self": total.self_contained_in_conversation,
        "dep": total.dependent_in_conversation,
        "same": total.same_as_alone,
        "judged": sum(judged) / len(judged),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fit", choices=sorted(CONVERSATIONS), default="seeds")
    parser.add_argument("--seeds-dir", type=Path, help="a data dir already holding seeds/")
    parser.add_argument("--wikiqa-dir", type=Path, help="a data dir already holding wikiqa-dev")
    parser.add_argument("--k", type=int, default=3)
    args = parser.parse_args()
    common.require_shared()
    common.quiet_logs()
    from qa.eval.conversations import load_conversations

    given = {"seeds": args.seeds_dir, "wikiqa": args.wikiqa_dir}
    services = {}
    with common.temp_dir("followups") as tmp:
        for name, path in CONVERSATIONS.items():
            data_dir = given[name] or tmp / name
            service = common.service(data_dir, llm="off", language_check=False)
            if given[name] is None:
                print(f"ingesting {name} ...", flush=True)
                service.ingest_paths([CORPUS[name]])
            services[name] = (service, load_conversations(path))

        def score(name: str, context: Callable[[], Any]) -> dict[str, Any]:
            service, conversations = services[name]
            with context():
                return run(service, conversations, args.k)

        check = next(n for n in CONVERSATIONS if n != args.fit)
        # Fit: how often the service judged right whether a follow-up stands alone (what the
        # thresholds decide), then the accuracy of follow-ups in conversation.
        grid = list(itertools.product([True, False], [0.5, 0.6, 0.7, 0.8, 0.9]))
        fitted: dict[bool, tuple[dict[str, Any], dict[str, Any]]] = {}
        for anaphora, threshold in grid:
            values = {"USE_ANAPHORA": anaphora, "MIN_OWN_STRENGTH": threshold}
            result = score(args.fit, lambda v=values: constants(**v))
            print(f"fit {args.fit}: {values} {result}", flush=True)
            best = fitted.get(anaphora)
            key = (result["judged"], result["conv"])
            if best is None or key > (best[1]["judged"], best[1]["conv"]):
                fitted[anaphora] = (values, result)

        shipped = fitted[True][0]
        configs: list[tuple[str, Callable[[], Any]]] = [
            ("before: previous question glued", previous_behaviour)
        ]
        for anaphora in (True, False):
            values = fitted[anaphora][0]
            label = (
                f"{'pronouns + ' if anaphora else ''}own strength >= {values['MIN_OWN_STRENGTH']}"
            )
            configs.append((label, lambda v=values: constants(**v)))
        configs += [
            ("every follow-up with context", lambda: constants(MIN_OWN_STRENGTH=99.0)),
            (
                f"pronouns + own strength >= {shipped['MIN_OWN_STRENGTH']}, plain RRF",
                lambda: plain_rrf(**shipped),
            ),
        ]
        rows = []
        for label, context in configs:
            for name in (args.fit, check):
                r = score(name, context)
                print(f"{label} / {name}: {r}", flush=True)
                role = "fit" if name == args.fit else "check"
                keys = ("conv", "alone", "self", "dep", "same", "judged")
                rows.append([label, f"{name} ({role})", *(_pct(r[key]) for key in keys)])
    headers = [
        "follow-ups",
        "set",
        "in conversation",
        "rewritten, alone",
        "self-contained",
        "dependent",
        "same as alone",
        "judged right",
    ]
    common.write_report("followups", common.table(headers, rows))


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


if __name__ == "__main__":
    main()
