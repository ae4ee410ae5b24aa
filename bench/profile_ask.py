"""Where one /v1/ask spends its time, in process: QAService.ask on the bench store.

Usage: python bench/profile_ask.py [--size 10000] [--asks 150] [--profile] [--top 30]
Asks distinct wikiqa-dev questions (a counter appended, as bench/latency.py does, so the
question vector cache never answers) and prints the mean, p50 and p95 of one ask and of its
answer step (``timings_ms["answer"]``); ``--profile`` adds cProfile's top functions by
cumulative time. The HTTP figure is bench/latency.py's; py-spy on the server process shows
the rest (bench/README.md, "HTTP latency").
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import time

import common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=10000, help="store size in chunks")
    parser.add_argument("--asks", type=int, default=150)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    common.require_shared()
    common.quiet_logs()
    from qa.eval.scoring import load_questions

    qs = [q.question for q in load_questions(common.WIKIQA / "questions.jsonl")]
    svc = common.service(common.scaled_data_dir(args.size))
    svc.warm_up(background=False)
    for i in range(20):  # warm: caches, ONNX, Chroma's index
        svc.ask(f"{qs[i % len(qs)]} (warm {i})", top_k=5, remember=False)
    totals, answers = [], []
    profiler = cProfile.Profile() if args.profile else None
    for i in range(args.asks):
        question = f"{qs[(i + 20) % len(qs)]} ({i})"
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        answer = svc.ask(question, top_k=5, remember=False)
        if profiler is not None:
            profiler.disable()
        totals.append((time.perf_counter() - started) * 1000)
        answers.append(answer.timings_ms.get("answer", 0.0))
    for name, values in (("ask", totals), ("answer step", answers)):
        print(
            f"{name}: mean {statistics.mean(values):.1f} ms, p50 {common.pct(values, 50):.1f}, "
            f"p95 {common.pct(values, 95):.1f} ({len(values)} asks, {args.size:,} chunks)"
        )
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.top)
        print(out.getvalue())


if __name__ == "__main__":
    main()
