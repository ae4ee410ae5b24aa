"""The recency prior for questions asked with ``as_of``: a grid of half-lives and floors.

Usage: python bench/recency.py [--data DIR] [--half-lives 1,3,7,...] [--floors 0,0.5]

Each set is ingested once into DIR/<set> (reused when it is there). Retrieval runs once per
question and as_of (the fused candidates do not depend on the prior); every configuration
then re-ranks those candidates exactly as ``HybridRetriever.search`` does, and the answerer
answers from the same top 5 that ``qa eval`` uses (answers cached by their passages). Rows
are scored as ``qa eval`` scores them, hit@3 from the top 3.

- realtimeqa-dev (every question has an as_of): the whole grid, for the prior applied to
  every question ("always") or only to those asking for the current state ("cue"); then the
  grid chosen on 2022's questions and scored on 2023's (and the reverse), and asked later
  than the quiz (as_of + 7 and + 30 days), where the gold passage is no longer the newest.
- seeds and wikiqa-dev (no dates but seed 001's): asked as of 2030-01-01, to show that the
  prior leaves undated (and lone dated) documents as they were.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import common

RTQA = common.SHARED / "eval" / "realtimeqa-dev"


@dataclass(frozen=True)
class Config:
    label: str
    as_of: bool = True  # False: the question asked without its as_of (the code before)
    half_life: float = 0.0
    floor: float = 0.0
    scope: str = "always"


def grid(half_lives: Sequence[float], floors: Sequence[float]) -> list[Config]:
    configs = [Config("no as_of", as_of=False), Config("as_of, no prior")]
    for scope in ("always", "cue"):
        for floor in floors:
            for half_life in half_lives:
                label = f"{scope} h={half_life:g} floor={floor:g}"
                configs.append(Config(label, True, half_life, floor, scope))
    return configs


def prepared(data: Path, name: str, paths: list[Path]) -> Any:
    path = data / name
    if not (path / ".done").exists():
        started = time.perf_counter()
        report = common.service(path).ingest_paths(paths)
        print(f"ingested {name}: {report.summary()} ({time.perf_counter() - started:.0f} s)")
        (path / ".done").touch()
    return common.service(path)


class Runner:
    """One set's questions against one service: candidates once, answers cached."""

    def __init__(self, svc: Any, questions: list[Any]) -> None:
        from qa.retrieval import HybridRetriever

        self.svc = svc
        inner = svc._retriever
        self.retriever: HybridRetriever = getattr(inner, "_inner", inner)
        self.questions = questions
        self._candidates: dict[tuple[str, date | None], list[Any]] = {}
        self._answers: dict[tuple[str, tuple[str, ...]], Any] = {}
        self.answer_seconds = 0.0

    def candidates(self, question: str, as_of: date | None) -> list[Any]:
        from qa.timeframe import restrict

        key = (question, as_of)
        if key not in self._candidates:
            filters = restrict(None, as_of)
            self._candidates[key] = self.retriever.candidates(question, 5, filters, every=True)
        return self._candidates[key]

    def answer(self, question: str, hits: list[Any]) -> Any:
        key = (question, tuple(h.chunk_id for h in hits))
        if key not in self._answers:
            started = time.perf_counter()
            self._answers[key] = self.svc._answerer.answer(question, hits, [])
            self.answer_seconds += time.perf_counter() - started
        return self._answers[key]

    def score(
        self,
        config: Config,
        questions: Sequence[Any] | None = None,
        as_of: Callable[[Any], date | None] | None = None,
    ) -> Any:
        from qa.eval.scoring import score_question, totals
        from qa.retrieval import asks_for_latest, diversify

        hybrid = self.retriever
        rows = []
        for q in self.questions if questions is None else questions:
            day = (as_of or (lambda item: item.as_of))(q) if config.as_of else None
            ranked = self.candidates(q.question, day)
            applies = day is not None and config.half_life > 0
            applies = applies and (config.scope == "always" or asks_for_latest(q.question))
            if applies:
                assert day is not None
                hybrid.recency_half_life_days = config.half_life
                hybrid.recency_floor = config.floor
                ranked = hybrid.prefer_recent(ranked, day)
            hits3, hits5 = diversify(ranked[:9], 3), diversify(ranked[:15], 5)
            rows.append(score_question(q, hits3, self.answer(q.question, hits5)))
        return totals(rows)


HEADERS = ["configuration", "hit@3", "match", "precision", "recall", "1st exact"]
HEADERS += ["abstention", "false abst."]


def row(label: str, t: Any) -> list[object]:
    values = [
        t.hit_at_k,
        t.answer_match,
        t.citation_precision,
        t.citation_recall,
        t.first_citation_exact,
        t.abstention,
        t.false_abstention,
    ]
    return [label, *(f"{v * 100:.1f}%" if v is not None else "n/a" for v in values)]


def best(results: dict[Config, Any]) -> Config:
    """Highest hit@3, then first-citation-exact, then the longest half-life (the mildest)."""
    return max(
        (c for c in results if c.half_life > 0),
        key=lambda c: (
            round(results[c].hit_at_k, 4),
            round(results[c].first_citation_exact, 4),
            c.half_life,
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("/tmp/qa-bench-recency"))
    parser.add_argument("--half-lives", default="1,3,7,14,30,90,365")
    parser.add_argument("--floors", default="0,0.5")
    parser.add_argument(
        "--chosen", default="always:30:0", help="scope:half-life:floor (the shipped default)"
    )
    args = parser.parse_args()
    common.require_shared()
    if not (RTQA / "questions.jsonl").is_file():
        raise SystemExit(f"bench: {RTQA} is missing (realtimeqa-dev questions and corpus)")
    common.quiet_logs()
    from qa.eval.scoring import load_questions

    configs = grid(
        [float(h) for h in args.half_lives.split(",")], [float(f) for f in args.floors.split(",")]
    )
    out: list[str] = []

    svc = prepared(args.data, "realtimeqa", [RTQA / "corpus.jsonl"])
    questions = load_questions(RTQA / "questions.jsonl")
    runner = Runner(svc, questions)
    started = time.perf_counter()
    results = {c: runner.score(c) for c in configs}
    print(f"grid: {time.perf_counter() - started:.0f} s ({runner.answer_seconds:.0f} s answering)")
    from qa.retrieval import asks_for_latest

    cue = sum(1 for q in questions if asks_for_latest(q.question))
    out.append(
        f"realtimeqa-dev, {len(questions)} questions ({cue} with a current-state cue), "
        "each asked as of its quiz day\n\n"
        + common.table(HEADERS, [row(c.label, t) for c, t in results.items()])
    )

    # Chosen on one year, scored on the other.
    halves = {
        "2022": [q for q in questions if q.as_of and q.as_of.year == 2022],
        "2023": [q for q in questions if q.as_of and q.as_of.year == 2023],
    }
    split_rows = []
    for tune, test in (("2022", "2023"), ("2023", "2022")):
        tuned = {c: runner.score(c, halves[tune]) for c in configs}
        chosen = best(tuned)
        for label, config in (("no as_of", configs[0]), ("as_of, no prior", configs[1])):
            split_rows.append(row(f"{test}: {label}", runner.score(config, halves[test])))
        split_rows.append(
            row(f"{test}: best on {tune} = {chosen.label}", runner.score(chosen, halves[test]))
        )
        own = best({c: runner.score(c, halves[test]) for c in configs})
        scored = runner.score(own, halves[test])
        split_rows.append(row(f"{test}: best on {test} = {own.label}", scored))
    out.append(
        f"Chosen on one year, scored on the other ({len(halves['2022'])} questions of 2022, "
        f"{len(halves['2023'])} of 2023)\n\n" + common.table(HEADERS, split_rows)
    )

    scope, half_life, floor = args.chosen.split(":")
    chosen = Config(
        f"{scope} h={half_life} floor={floor}", True, float(half_life), float(floor), scope
    )
    chosen = next((c for c in configs if c == chosen), chosen)
    probes = [configs[0], configs[1], chosen]
    probes += [c for c in configs if c.half_life in (1.0, 7.0, 30.0, 90.0) and c.floor == 0.0]
    probes = list(dict.fromkeys(probes))
    shift_rows = []
    for days in (7, 30):
        for config in probes:
            later = runner.score(config, as_of=lambda q, d=days: q.as_of + timedelta(days=d))
            shift_rows.append(row(f"+{days} d: {config.label}", later))
    out.append(
        "Asked later than the quiz (as_of + 7 and + 30 days): the gold passage is no longer "
        "the newest\n\n" + common.table(HEADERS, shift_rows)
    )

    for name, paths, qfile in (
        ("seeds", [common.SEEDS], common.SEED_QUESTIONS),
        ("wikiqa", [common.WIKIQA / "corpus.jsonl"], common.WIKIQA / "questions.jsonl"),
    ):
        other = Runner(prepared(args.data, name, paths), load_questions(qfile))
        far = date(2030, 1, 1)
        rows_ = [row("no as_of", other.score(configs[0]))]
        for config in (configs[1], chosen, *[c for c in configs if c.half_life == 1.0]):
            scored = other.score(config, as_of=lambda q, day=far: day)
            rows_.append(row(f"as of {far}: {config.label}", scored))
        out.append(f"{name} asked as of {far}\n\n" + common.table(HEADERS, rows_))
    common.write_report("recency", "\n\n".join(out))


if __name__ == "__main__":
    main()
