"""The language check on every dev-set question (all English): how many it would turn away,
the closest call, time per question and the memory its models take."""

from __future__ import annotations

import json
import resource
import time

import common


def main() -> None:
    common.require_shared()
    from qa.language import MIN_CONFIDENCE, LinguaLanguageCheck

    check = LinguaLanguageCheck()
    sets = {
        "seeds": common.SEED_QUESTIONS,
        "wikiqa-dev": common.WIKIQA / "questions.jsonl",
        "realtimeqa-dev": common.SHARED / "eval" / "realtimeqa-dev" / "questions.jsonl",
    }
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = []
    for name, path in sets.items():
        questions = [json.loads(line)["question"] for line in path.open()]
        started = time.perf_counter()
        turned = [q for q in questions if check.unsupported_language(q)]
        ms = (time.perf_counter() - started) * 1000 / len(questions)
        rows.append([name, len(questions), len(turned), f"{ms:.1f}"])
        for q in turned:
            print(f"  turned away ({name}): {q!r}")
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(common.table(["set", "questions", "turned away", "ms/question"], rows))
    print(f"min confidence {MIN_CONFIDENCE}; peak RSS grew {after - before:.0f} MiB")


if __name__ == "__main__":
    main()
