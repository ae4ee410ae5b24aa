"""SelQA (answer sentence selection, Wikipedia sections) as one more held-out check set.

SelQA (Jurczyk, Zhai and Choi, ICTAI 2016; Apache-2.0; https://github.com/emorynlp/selqa)
labels, for crowd-written questions, the sentences of a Wikipedia section that answer them.
Only its dev and test files are in that repository in full (785 + 1,590 questions, 1,482
sections); the training file is absent. Nothing here downloads it: fetch the repository
yourself and point this script at its `ass/` folder.

    python bench/selqa.py convert PATH/TO/selqa/ass /tmp/selqa-eval

writes `corpus.jsonl` (one document per section, one sentence per line, title "article:
section") and `questions.jsonl` (evidence: the answer sentences' lines) in the format of
`../shared/eval` (see its README), so that `qa eval /tmp/selqa-eval/questions.jsonl
--corpus /tmp/selqa-eval/corpus.jsonl` and `bench/evidence.py` (BENCH_EVIDENCE_SETS) read it
like the other sets. Every SelQA question has an answer, so it measures the first citation
and false abstention, not abstention.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path


def convert(source: Path, out: Path) -> tuple[int, int]:
    items = []
    for split in ("dev", "test"):
        path = source / f"selqa-ass-{split}.json"
        items += [dict(x, split=split) for x in json.loads(path.read_text(encoding="utf-8"))]
    sections: dict[tuple[str, str], str] = {}
    out.mkdir(parents=True, exist_ok=True)
    with (out / "corpus.jsonl").open("w", encoding="utf-8") as corpus:
        for x in items:
            key = (x["article"], x["section"])
            if key in sections:
                continue
            doc_id = "S" + hashlib.sha1("\x00".join(key).encode()).hexdigest()[:10]
            sections[key] = doc_id
            body = "\n".join(" ".join(c.split()) for c in x["candidates"])
            record = {
                "id": doc_id,
                "source": doc_id,
                "title": f"{x['article']}: {x['section']}",
                "body": body,
            }
            corpus.write(json.dumps(record, ensure_ascii=False) + "\n")
    with (out / "questions.jsonl").open("w", encoding="utf-8") as questions:
        for i, x in enumerate(items):
            doc_id = sections[(x["article"], x["section"])]
            record = {
                "id": f"{x['split']}-{i}",
                "question": x["question"],
                "answerable": bool(x["answers"]),
                "must_include": [],
                "evidence": [{"source": doc_id, "lines": [a + 1 for a in x["answers"]]}],
                "evidence_mode": "any",
            }
            questions.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(sections), len(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    conv = sub.add_parser("convert", help="SelQA ass/ folder -> shared-eval format")
    conv.add_argument("source", type=Path)
    conv.add_argument("out", type=Path)
    args = parser.parse_args()
    docs, qs = convert(args.source, args.out)
    print(f"{docs} sections, {qs} questions -> {args.out}")


if __name__ == "__main__":
    main()
