"""Calibrate the extractive answerer on labelled sets (a benchmark script, not a test).

Usage: python bench/tune_extractive.py DATA_DIR:QUESTIONS.jsonl [...] [--grid]
Each DATA_DIR must already hold the ingested corpus (`QA_DATA_DIR=DIR qa ingest ...`).
Retrieval runs once per question; answers are recomputed for every parameter setting.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

from qa.answering import extractive
from qa.answering.extractive import ExtractiveAnswerer
from qa.config import Settings
from qa.embeddings.cache import VectorCache
from qa.embeddings.factory import build_embedder
from qa.eval.scoring import load_questions, score_question, totals
from qa.store.chroma import ChromaStore
from qa.wiring import build_service


def load(spec: str, k: int) -> tuple[str, object, list[tuple[object, list[object]]]]:
    """The set's name, an extractive answerer over its store, and each question's hits."""
    data_dir, questions = spec.split(":", 1)
    settings = Settings(data_dir=Path(data_dir), _env_file=None)
    service = build_service(settings)
    store = ChromaStore.from_settings(settings.store)
    answerer = ExtractiveAnswerer(
        VectorCache(build_embedder(settings.embedding, settings.llm)),
        store.get_document,
        sentences=store,
    )
    qs = load_questions(Path(questions))
    return Path(questions).stem, answerer, [(q, service.search(q.question, k)) for q in qs]


def run(
    name: str, answerer: ExtractiveAnswerer, cases: list[tuple[object, list[object]]], k: int
) -> dict[str, float | None]:
    rows = [score_question(q, hits[:k], answerer.answer(q.question, hits, [])) for q, hits in cases]  # type: ignore[arg-type]
    t = totals(rows)
    return {
        "hit": t.hit_at_k,
        "match": t.answer_match,
        "prec": t.citation_precision,
        "rec": t.citation_recall,
        "first": t.first_citation_exact,
        "abst": t.abstention,
        "false_abst": t.false_abstention,
    }


def fmt(v: float | None) -> str:
    return "  n/a" if v is None else f"{v * 100:5.1f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sets", nargs="+")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--thresholds", default="0.38,0.40,0.43,0.46,0.50,0.55")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        help="NAME=v1,v2: also vary this constant of qa.answering.extractive",
    )
    args = parser.parse_args()
    sets = [load(spec, args.k) for spec in args.sets]
    grid = {"threshold": [float(x) for x in args.thresholds.split(",")]}
    for item in args.set:
        name, values = item.split("=", 1)
        grid[name] = [float(x) for x in values.split(",")]
    names = list(grid)
    print(
        f"{'set':<16} "
        + " ".join(f"{n[:10]:>10}" for n in names)
        + " "
        + " ".join(f"{h:>6}" for h in ("hit", "match", "prec", "rec", "first", "abst", "f_abst"))
    )
    for values in itertools.product(*grid.values()):
        setting = dict(zip(names, values, strict=True))
        for name, value in setting.items():
            if name != "threshold":
                setattr(extractive, name, value)
        for set_name, answerer, cases in sets:
            answerer.threshold = setting["threshold"]
            m = run(set_name, answerer, cases, 3)
            print(
                f"{set_name[:16]:<16} "
                + " ".join(f"{v:>10.2f}" for v in values)
                + " "
                + " ".join(f"{fmt(v):>6}" for v in m.values())
            )


if __name__ == "__main__":
    main()
