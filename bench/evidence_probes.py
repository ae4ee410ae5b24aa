"""Probes for a stronger evidence ranker, on the candidates `bench/evidence.py collect` cached.

Each probe adds candidate features to the shipped model's general features, refits the
logistic regression on wikiqa-dev (5-fold CV there) and tests it on the other sets, as
`bench/evidence.py report` does. None of them is shipped; bench/README.md says why.

    python bench/evidence_probes.py tokens     # token alignment (BERTScore recall) from MiniLM
    python bench/evidence_probes.py title      # the sentence embedded as "title: sentence"
    python bench/evidence_probes.py adapter --selqa DIR   # a question-side linear map fitted
                                                          # on SelQA (bench/selqa.py)
    python bench/evidence_probes.py late       # a late-interaction head trained on SelQA dev
                                               # ($BENCH_SELQA; needs PyTorch)
    python bench/evidence_probes.py cost       # time to get token states for K sentences
    python bench/evidence_probes.py projection --selqa DIR   # writes the shipped projection
    python bench/evidence_probes.py contrast   # more readings of the stored token states
    python bench/evidence_probes.py confidence # a question-level confidence model
    python bench/evidence_probes.py listwise   # the ranker fitted per question (softmax)

`tokens`: every question and candidate sentence is run through the int8 MiniLM once more to
get its contextual token states (the shipped embedder pools them away); for each question
token, the best cosine with any token of the sentence, averaged with the question's BM25 IDF
over the candidates ("recall") or plainly, and the sentence-side average ("precision").
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import evidence as ev
from common import ROOT, quiet_logs

SETS = (
    "wikiqa",
    "realtimeqa",
    "seeds",
    "seeds-heldout",
    *(("selqa",) if "selqa" in ev.SETS else ()),
)
Extra = Callable[[Any], Any]  # Question -> (candidates x k) matrix


def embedder() -> Any:
    from qa.embeddings.local import LocalMiniLMEmbedder

    return LocalMiniLMEmbedder(threads=1)


def token_states(model: Any, texts: Sequence[str]) -> dict[str, tuple[Any, Any]]:
    """Per text: WordPiece ids and unit contextual states, [CLS]/[SEP] left out."""
    out: dict[str, tuple[Any, Any]] = {}
    encodings = model._encoder.encode_batch(list(texts))
    order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
    for start in range(0, len(order), 32):
        rows = order[start : start + 32]
        batch = [encodings[i] for i in rows]
        hidden, _ = model.token_states(batch)
        for r, i in enumerate(rows):
            n = len(batch[r].ids)
            v = hidden[r, 1 : n - 1].copy()
            v /= np.clip(np.linalg.norm(v, axis=1, keepdims=True), 1e-9, None)
            out[texts[i]] = (np.asarray(batch[r].ids[1 : n - 1]), v)
    return out


def cached_sets_states(model: Any) -> dict[str, tuple[Any, Any]]:
    """``token_states`` of every question and candidate sentence of the cached sets."""
    texts: set[str] = set()
    for n in SETS:
        for q in ev.load(n):
            texts.add(q.question)
            texts.update(c.sentence.text for c in q.candidates)
    started = time.perf_counter()
    states = token_states(model, sorted(texts))
    print(f"token states of {len(texts)} texts in {time.perf_counter() - started:.0f} s")
    return states


def alignment(states: dict[str, tuple[Any, Any]]) -> Extra:
    def extra(q: Any) -> Any:
        qi, qv = states[q.question]
        bags = [set(states[c.sentence.text][0].tolist()) for c in q.candidates]
        n = len(bags)
        df = [sum(t in b for b in bags) for t in qi.tolist()]
        idf = np.array([math.log(1 + (n - d + 0.5) / (d + 0.5)) for d in df])
        rows = []
        for c in q.candidates:
            sv = states[c.sentence.text][1]
            if not len(sv) or not len(qv):
                rows.append([0.0, 0.0, 0.0])
                continue
            sim = qv @ sv.T
            best = sim.max(axis=1)
            rows.append(
                [
                    float((best * idf).sum() / max(idf.sum(), 1e-9)),
                    float(best.mean()),
                    float(sim.max(axis=0).mean()),
                ]
            )
        a = np.asarray(rows, dtype=float).reshape(-1, 3)
        return np.hstack([a, a[:, :1] - (a[:, :1].max() if len(a) else 0)])

    return extra


def title_cosine(vectors: dict[tuple[str, int], Any]) -> Extra:
    def extra(q: Any) -> Any:
        ct = np.array(
            [
                float(np.dot(vectors[(c.sentence.doc_id, c.sentence.char_start)], q.qvec))
                for c in q.candidates
            ]
        )
        return np.stack([ct, ct - (ct.max() if len(ct) else 0)], axis=1)

    return extra


def adapted_cosine(matrix: Any) -> Extra:
    def extra(q: Any) -> Any:
        aq = matrix @ np.asarray(q.qvec, dtype=np.float64)
        aq /= np.linalg.norm(aq)
        s = np.stack([c.vector for c in q.candidates]).astype(np.float64)
        cos = s @ aq
        return np.stack([cos, cos - cos.max()], axis=1)

    return extra


def evaluate(
    names: Sequence[str],
    extra: Extra,
    variants: dict[str, list[str]],
    keep: Callable[[Any], bool] = lambda q: True,
) -> None:
    """Refit with the probe's features (named ``names``) appended, print every set (only the
    questions ``keep`` keeps: a probe trained on some of them leaves those out)."""
    from qa.answering import evidence as qe

    data = {n: [q for q in ev.load(n) if keep(q)] for n in SETS}
    mats = {}
    for n, qs in data.items():
        base = ev.matrices(qs)
        mats[n] = [
            np.hstack([m, extra(q)]) if len(m) else np.zeros((0, m.shape[1] + len(names)))
            for q, m in zip(qs, base, strict=True)
        ]
    qe.FEATURES = (*qe.FEATURES, *names)  # ev.Logistic looks columns up by name
    general = ev.GENERAL
    for label, chosen in {"shipped features": general, **variants}.items():
        make = lambda chosen=chosen: ev.Logistic(chosen, 10.0)  # noqa: E731
        oof = ev.cross_validate(data["wikiqa"], mats["wikiqa"], make)
        model = make().fit(data["wikiqa"], mats["wikiqa"])
        cells = []
        for n in SETS:
            scores = oof if n == "wikiqa" else [model.score(m) for m in mats[n]]
            f = ev.figures(data[n], scores)
            cells.append(
                f"{n} P@1 {ev.fmt(f.p1)} AUC ans. {ev.fmt(f.auc_answerable)} "
                f"AUC 1st {ev.fmt(f.auc_correct)}"
            )
        print(f"{label:28s} | " + " | ".join(cells), flush=True)


def probe_tokens() -> None:
    model = embedder()
    states = cached_sets_states(model)
    names = ["tok_recall_idf", "tok_recall", "tok_precision", "tok_recall_gap"]
    evaluate(
        names,
        alignment(states),
        {
            "+ recall (IDF)": [*ev.GENERAL, "tok_recall_idf"],
            "+ all four": [*ev.GENERAL, *names],
            "recall (IDF) alone": ["tok_recall_idf"],
            "recall alone": ["tok_recall"],
            "cosine alone": ["cos"],
        },
    )


def probe_title() -> None:
    model = embedder()
    keys: dict[tuple[str, int], str] = {}
    for n in SETS:
        for q in ev.load(n):
            for c in q.candidates:
                s = c.sentence
                keys[(s.doc_id, s.char_start)] = f"{s.title}: {s.text}" if s.title else s.text
    order = list(keys)
    vectors = dict(zip(order, model.embed([keys[k] for k in order]), strict=True))
    evaluate(
        ["cos_title", "cos_title_gap"],
        title_cosine(vectors),
        {
            "+ cos(q, title: s)": [*ev.GENERAL, "cos_title"],
            "+ both": [*ev.GENERAL, "cos_title", "cos_title_gap"],
            "cos(q, title: s) alone": ["cos_title"],
        },
    )


def fit_adapter(selqa: Path, epochs: int, tau: float = 0.05, lr: float = 3e-4) -> Any:
    """A 384x384 map of the question vector, from the identity, fitted with a softmax over
    each question's section sentences (SelQA dev+test; 1/8 of the articles held out)."""
    questions = [json.loads(x) for x in (selqa / "questions.jsonl").open(encoding="utf-8")]
    corpus = {}
    for line in (selqa / "corpus.jsonl").open(encoding="utf-8"):
        doc = json.loads(line)
        corpus[doc["id"]] = doc["body"].split("\n")
    model = embedder()
    texts = sorted({q["question"] for q in questions} | {s for b in corpus.values() for s in b})
    vec = dict(zip(texts, model.embed(texts).astype(np.float64), strict=True))
    rng = np.random.default_rng(0)
    docs = sorted(corpus)
    rng.shuffle(docs)
    held = set(docs[: len(docs) // 8])
    train, val = [], []
    for q in questions:
        doc = q["evidence"][0]["source"]
        sents = np.stack([vec[s] for s in corpus[doc]])
        gold = np.array([n - 1 for n in q["evidence"][0]["lines"]])
        (val if doc in held else train).append((vec[q["question"]], sents, gold))

    def p1(a: Any, items: Sequence[Any]) -> float:
        return float(np.mean([int(np.argmax(s @ (a @ qv))) in set(g) for qv, s, g in items]))

    d = len(next(iter(vec.values())))
    a = np.eye(d)
    m, v = np.zeros_like(a), np.zeros_like(a)
    step = 0
    print(
        f"adapter: {len(train)} train, {len(val)} held-out questions; identity P@1 {p1(a, val):.3f}"
    )
    for epoch in range(epochs):
        order = rng.permutation(len(train))
        for b in range(0, len(order), 32):
            grad = np.zeros_like(a)
            for i in order[b : b + 32]:
                qv, s, g = train[i]
                z = s @ (a @ qv) / tau
                p = np.exp(z - z.max())
                p /= p.sum()
                target = np.zeros_like(p)
                target[g] = p[g] / p[g].sum()
                grad += np.outer(s.T @ ((p - target) / tau), qv)
            grad /= 32
            step += 1
            m = 0.9 * m + 0.1 * grad
            v = 0.999 * v + 0.001 * grad * grad
            a -= lr * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
        print(f"  epoch {epoch + 1}: train P@1 {p1(a, train):.3f}, held out {p1(a, val):.3f}")
    return a


def probe_adapter(selqa: Path, epochs: int) -> None:
    matrix = fit_adapter(selqa, epochs)
    evaluate(
        ["cos_adapted", "cos_adapted_gap"],
        adapted_cosine(matrix),
        {
            "+ adapted cosine": [*ev.GENERAL, "cos_adapted", "cos_adapted_gap"],
            "adapted cosine alone": ["cos_adapted"],
            "cosine alone": ["cos"],
        },
    )


def probe_late(epochs: int) -> None:
    """A late-interaction head over the frozen token states, trained on SelQA's dev questions
    (as the service retrieved them) and tested everywhere else. For each question token the
    best cosine with any token of the sentence, after a learned 384x384 map of both sides
    (from the identity, pulled back to it), averaged with learned token weights (from the
    token's state and its IDF over the candidates). Needs PyTorch (not a qa dependency)."""
    try:
        import torch
    except ImportError:
        sys.exit("late needs PyTorch: pip install torch")
    if "selqa" not in SETS:
        sys.exit("late trains on SelQA: set BENCH_SELQA (bench/selqa.py convert)")
    torch.manual_seed(0)
    model = embedder()
    states = cached_sets_states(model)
    f = torch.nn.functional

    class Head(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = torch.nn.Parameter(torch.eye(384))
            self.weight = torch.nn.Linear(384, 1)
            torch.nn.init.zeros_(self.weight.weight)
            torch.nn.init.zeros_(self.weight.bias)
            self.idf = torch.nn.Parameter(torch.tensor(1.0))
            self.scale = torch.nn.Parameter(torch.tensor(10.0))

        def forward(self, q: Any, idf: Any, sentences: list[Any]) -> Any:
            qp = f.normalize(q @ self.proj.T, dim=-1)
            w = f.softplus(self.weight(q).squeeze(-1) + self.idf * idf) + 1e-4
            out = []
            for s in sentences:
                if not len(s):
                    out.append(torch.tensor(0.0))
                    continue
                best = (qp @ f.normalize(s @ self.proj.T, dim=-1).T).max(dim=1).values
                out.append((w * best).sum() / w.sum())
            return torch.stack(out)

    def inputs(q: Any) -> tuple[Any, Any, list[Any]]:
        qi, qv = states[q.question]
        bags = [set(states[c.sentence.text][0].tolist()) for c in q.candidates]
        n = len(bags)
        df = [sum(t in b for b in bags) for t in qi.tolist()]
        idf = [math.log(1 + (n - d + 0.5) / (d + 0.5)) for d in df]
        return (
            torch.from_numpy(qv.astype(np.float32)),
            torch.tensor(idf, dtype=torch.float32),
            [torch.from_numpy(states[c.sentence.text][1].astype(np.float32)) for c in q.candidates],
        )

    def trains(q: Any) -> bool:
        return bool(q.set == "selqa" and q.id.startswith("dev-"))

    pool = [
        q
        for q in ev.load("selqa")
        if trains(q) and len(q.candidates) and q.gold.any() and len(states[q.question][1])
    ]
    rng = np.random.default_rng(0)
    rng.shuffle(pool)
    val, train = pool[: len(pool) // 6], pool[len(pool) // 6 :]
    head = Head()
    optimiser = torch.optim.Adam(head.parameters(), lr=1e-3)

    def p1(items: Sequence[Any]) -> float:
        with torch.no_grad():
            return float(np.mean([q.gold[int(torch.argmax(head(*inputs(q))))] for q in items]))

    best = (p1(val), {k: v.clone() for k, v in head.state_dict().items()})
    print(f"late: {len(train)} train, {len(val)} validation questions; start P@1 {best[0]:.3f}")
    for epoch in range(epochs):
        order = rng.permutation(len(train))
        for b in range(0, len(order), 16):
            optimiser.zero_grad()
            loss = torch.tensor(0.0)
            for i in order[b : b + 16]:
                q = train[i]
                gold = torch.from_numpy(q.gold.astype(np.float32))
                logp = torch.log_softmax(head(*inputs(q)) * head.scale, 0)
                loss = loss - (gold / gold.sum() * logp).sum()
            drift = ((head.proj - torch.eye(384)) ** 2).sum()
            (loss / 16 + drift * 16 / len(train)).backward()
            optimiser.step()
        score = p1(val)
        print(f"  epoch {epoch + 1}: validation P@1 {score:.3f}", flush=True)
        if score > best[0]:
            best = (score, {k: v.clone() for k, v in head.state_dict().items()})
    head.load_state_dict(best[1])

    def extra(q: Any) -> Any:
        with torch.no_grad():
            li = head(*inputs(q)).numpy().astype(float) if len(states[q.question][1]) else None
        li = np.zeros(len(q.candidates)) if li is None else li
        return np.stack([li, li - (li.max() if len(li) else 0)], axis=1)

    evaluate(
        ["late", "late_gap"],
        extra,
        {
            "+ late": [*ev.GENERAL, "late"],
            "+ late, gap": [*ev.GENERAL, "late", "late_gap"],
            "late alone": ["late"],
            "cosine alone": ["cos"],
        },
        keep=lambda q: not trains(q),
    )


def fit_projection(selqa: Path, out: Path, dims: int = 64, sample: int = 3000) -> None:
    """The token projection the service ships (qa/embeddings/token_projection.npy): the top
    ``dims`` principal axes of MiniLM's token states over ``sample`` sentences of SelQA's
    sections (Apache-2.0; none of the dev sets). Token states projected on them, renormalised
    and stored as int8 rows keep the token alignment's gains (bench/README.md)."""
    lines = sorted(
        {
            s
            for line in (selqa / "corpus.jsonl").open(encoding="utf-8")
            for s in json.loads(line)["body"].split("\n")
            if s.strip()
        }
    )
    rng = np.random.default_rng(0)
    chosen = [
        lines[i] for i in sorted(rng.choice(len(lines), min(sample, len(lines)), replace=False))
    ]
    states = token_states(embedder(), chosen)
    x = np.vstack([states[t][1] for t in chosen if len(states[t][1])]).astype(np.float64)
    _, singular, axes = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    kept = float((singular[:dims] ** 2).sum() / (singular**2).sum())
    np.save(out, axes[:dims].T.astype(np.float32))
    print(
        f"wrote {out}: {len(x)} token states of {len(chosen)} sentences, "
        f"{dims} axes keep {kept:.3f} of their variance"
    )


def probe_cost(repeats: int = 60) -> None:
    model = embedder()
    texts = sorted({c.sentence.text for q in ev.load("wikiqa") for c in q.candidates})
    rng = np.random.default_rng(0)
    for k in (4, 8):
        times = []
        for _ in range(repeats):
            batch = [texts[i] for i in rng.choice(len(texts), k + 1, replace=False)]
            started = time.perf_counter()
            token_states(model, batch)
            times.append((time.perf_counter() - started) * 1000)
        print(
            f"question + {k} sentences, 1 thread: p50 {np.percentile(times, 50):.1f} ms, "
            f"p95 {np.percentile(times, 95):.1f} ms"
        )


def _stored_alignment(q: Any) -> tuple[Any, Any]:
    """(candidates x question tokens) best cosines from the stored token states (a missing
    row filled with the column mean), and the question tokens' IDF over the candidates."""
    from qa.answering.evidence import _unit_rows

    q_ids, q_rows = q.qtokens
    qv = _unit_rows(q_rows)
    tokens = [c.tokens for c in q.candidates]
    bags = [frozenset(t[0].tolist()) if t is not None else frozenset() for t in tokens]
    df = np.array([sum(t in b for b in bags) for t in q_ids.tolist()], dtype=float)
    idf = np.log1p((len(bags) - df + 0.5) / (df + 0.5))
    best = np.full((len(tokens), len(qv)), np.nan)
    for i, t in enumerate(tokens):
        if t is not None and len(t[0]):
            best[i] = (qv @ _unit_rows(t[1]).T).max(axis=1)
    if np.isnan(best).all():
        return None, idf
    return np.where(np.isnan(best), np.nanmean(best, axis=0, keepdims=True), best), idf


def contrast_features(q: Any) -> Any:
    """tok_contrast: alignment weighted by how much each question token's best cosine
    varies over the candidates (the topic's tokens match every sentence alike); tok_z: the
    same standardised per token; tok_window / tok_prev: each question token's best cosine
    in the sentence or its neighbours / its previous sentence (when they are candidates)."""
    out = np.full((len(q.candidates), 4), np.nan)
    best, idf = _stored_alignment(q) if q.qtokens is not None else (None, None)
    if best is None:
        return out
    spread = best.std(axis=0)
    weight = spread * idf
    out[:, 0] = (best * weight).sum(axis=1) / max(float(weight.sum()), 1e-9)
    z = (best - best.mean(axis=0)) / np.clip(spread, 1e-6, None)
    out[:, 1] = (z * idf).sum(axis=1) / max(float(idf.sum()), 1e-9)
    at = {(c.sentence.doc_id, c.position): i for i, c in enumerate(q.candidates)}
    for i, c in enumerate(q.candidates):
        near = [at.get((c.sentence.doc_id, c.position + d)) for d in (-1, 1)]
        window = np.max([best[i], *(best[j] for j in near if j is not None)], axis=0)
        before = best[near[0]] if near[0] is not None else best[i]
        out[i, 2] = (window * idf).sum() / max(float(idf.sum()), 1e-9)
        out[i, 3] = (np.maximum(best[i], before) * idf).sum() / max(float(idf.sum()), 1e-9)
    return out


def probe_contrast() -> None:
    names = ["tok_contrast", "tok_z", "tok_window", "tok_prev"]
    variants = {f"+ {n}": [*ev.GENERAL, n] for n in names}
    variants["+ all four"] = [*ev.GENERAL, *names]
    evaluate(names, contrast_features, variants)


def _question_level(q: Any, scores: Any, m: Any) -> Any:
    """best logit, its margin over the second, its softmax share, and the best sentence's
    token alignment (the shipped feature) and cosine."""
    from qa.answering.evidence import FEATURES

    if not len(scores):
        return np.array([-20.0, 0.0, 0.0, 0.0, 0.0])
    order = np.argsort(-scores)
    top = order[0]
    second = scores[order[1]] if len(scores) > 1 else scores[top] - 5
    share = 1 / np.exp(scores - scores[top]).sum()
    aligned = m[top, FEATURES.index("tok_recall")]
    return np.array(
        [
            scores[top],
            scores[top] - second,
            share,
            0.0 if np.isnan(aligned) else aligned,
            m[top, FEATURES.index("cos")],
        ]
    )


def probe_confidence() -> None:
    """The confidence read from several signals of the question's best sentence instead of
    its logit alone: fitted on wikiqa-dev (out-of-fold logits, 5-fold CV) to predict "first
    sentence gold", Platt-calibrated on realtimeqa-dev, the bar set as the service's is."""
    data = {n: ev.load(n) for n in SETS}
    mats = {n: ev.matrices(qs) for n, qs in data.items()}
    make = lambda: ev.Logistic(ev.SHIPPED_FEATURES, ev.SHIPPED_L2)  # noqa: E731
    ranker = make().fit(data["wikiqa"], mats["wikiqa"])
    scores = {n: [ranker.score(m) for m in mats[n]] for n in SETS}
    scores["wikiqa"] = ev.cross_validate(data["wikiqa"], mats["wikiqa"], make)
    x, right, answerable = {}, {}, {}
    for n in SETS:
        rows = zip(data[n], scores[n], mats[n], strict=True)
        x[n] = np.array([_question_level(q, s, m) for q, s, m in rows])
        right[n] = ev.best_logits(data[n], scores[n])[1]
        answerable[n] = np.array([q.answerable for q in data[n]])
    variants = {
        "best logit (shipped)": [0],
        "+ margin": [0, 1],
        "+ margin, softmax share": [0, 1, 2],
        "+ alignment of the best": [0, 3],
        "+ margin, alignment": [0, 1, 3],
        "all five": [0, 1, 2, 3, 4],
    }
    for label, cols in variants.items():
        conf = {}
        for n in SETS:
            conf[n] = _confidence_scores(x, right, cols, n)
        a, b = ev.platt(conf["realtimeqa"], right["realtimeqa"])
        calibrated = {n: ev.sigmoid(a * c + b) for n, c in conf.items()}
        bar = 0.0
        for t in np.round(np.arange(0.0, 1.0, 0.005), 3):
            if all(
                np.mean(calibrated[n][answerable[n]] < t) <= ev.MAX_FALSE_ABSTENTION
                for n in ("wikiqa", "realtimeqa")
            ):
                bar = float(t)
        cells = []
        for n in SETS:
            c, ans = calibrated[n], answerable[n]
            abstains = f"{np.mean(c[~ans] < bar):.3f}" if (~ans).any() else "n/a"
            cells.append(
                f"{n} AUC ans. {ev.fmt(ev.auc(c, ans))} AUC 1st {ev.fmt(ev.auc(c, right[n]))} "
                f"abst. {abstains} false {np.mean(c[ans] < bar):.3f}"
            )
        print(f"{label:26s} bar {bar:.3f} | " + " | ".join(cells), flush=True)


def _confidence_scores(x: Any, right: Any, cols: list[int], name: str) -> Any:
    """Scores of the confidence model over ``cols``: out-of-fold on wikiqa, else fitted on it."""

    def fit(rows: Any, labels: Any) -> Callable[[Any], Any]:
        mean, scale = rows.mean(axis=0), rows.std(axis=0)
        scale[scale < 1e-9] = 1.0
        coef, intercept = ev.fit_logistic(
            (rows - mean) / scale, labels.astype(float), np.ones(len(labels)), 1.0
        )
        return lambda z: ((z - mean) / scale) @ coef + intercept

    train, labels = x["wikiqa"][:, cols], right["wikiqa"]
    if name != "wikiqa":
        return fit(train, labels)(x[name][:, cols])
    out = np.zeros(len(labels))
    order = np.random.default_rng(0).permutation(len(labels))
    for k in range(5):
        test = order[k::5]
        rest = np.setdiff1d(np.arange(len(labels)), test)
        out[test] = fit(train[rest], labels[rest])(train[test])
    return out


class Listwise(ev.Logistic):
    """The shipped features fitted per question: softmax cross-entropy over each question's
    candidates (the gold ones as the target) plus ``pointwise`` times the usual logistic
    loss, so the logits keep a level a confidence can read. Adam from the pointwise fit."""

    def __init__(self, pointwise: float, steps: int = 600) -> None:
        super().__init__(ev.SHIPPED_FEATURES, ev.SHIPPED_L2)
        self.pointwise, self.steps = pointwise, steps

    def fit(self, qs: Sequence[Any], mats: Sequence[Any]) -> Listwise:
        start = ev.Logistic(self.names, self.l2).fit(qs, mats)
        self.mean, self.scale = start.mean, start.scale
        xs = [
            np.hstack(
                [np.nan_to_num((m[:, self.cols] - self.mean) / self.scale), np.ones((len(m), 1))]
            )
            for m in mats
        ]
        ys = [q.gold.astype(float) for q in qs]
        beta = np.append(start.coef, start.intercept)
        moment, square = np.zeros_like(beta), np.zeros_like(beta)
        for step in range(1, self.steps + 1):
            grad = np.zeros_like(beta)
            for x, y in zip(xs, ys, strict=True):
                if not len(x):
                    continue
                logit = x @ beta
                p = 1 / (1 + np.exp(-np.clip(logit, -40, 40)))
                grad += self.pointwise * x.T @ (p - y) / len(x)
                if y.any():
                    share = np.exp(logit - logit.max())
                    share /= share.sum()
                    target = share * y / (share * y).sum()
                    grad += x.T @ (share - target)
            grad /= len(xs)
            grad[:-1] += self.l2 * beta[:-1] / 1000
            moment = 0.9 * moment + 0.1 * grad
            square = 0.999 * square + 0.001 * grad * grad
            beta -= 0.05 * (moment / (1 - 0.9**step)) / (np.sqrt(square / (1 - 0.999**step)) + 1e-8)
        self.coef, self.intercept = beta[:-1], float(beta[-1])
        return self


def probe_listwise() -> None:
    data = {n: ev.load(n) for n in SETS}
    mats = {n: ev.matrices(qs) for n, qs in data.items()}
    makers: dict[str, Callable[[], Any]] = {
        "pointwise (shipped)": lambda: ev.Logistic(ev.SHIPPED_FEATURES, ev.SHIPPED_L2),
        **{f"listwise + {w} x pointwise": (lambda w=w: Listwise(w)) for w in (0.3, 1.0, 3.0)},
    }
    for label, make in makers.items():
        model = make().fit(data["wikiqa"], mats["wikiqa"])
        oof = ev.cross_validate(data["wikiqa"], mats["wikiqa"], make)
        cells = []
        for n in SETS:
            f = ev.figures(data[n], oof if n == "wikiqa" else [model.score(m) for m in mats[n]])
            cells.append(
                f"{n} P@1 {ev.fmt(f.p1)} AUC ans. {ev.fmt(f.auc_answerable)} "
                f"AUC 1st {ev.fmt(f.auc_correct)}"
            )
        print(f"{label:28s} | " + " | ".join(cells), flush=True)


def main() -> None:
    quiet_logs()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "probe",
        choices=[
            "tokens",
            "title",
            "adapter",
            "late",
            "cost",
            "projection",
            "contrast",
            "confidence",
            "listwise",
        ],
    )
    parser.add_argument("--selqa", type=Path, help="folder written by bench/selqa.py convert")
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    if args.probe == "tokens":
        probe_tokens()
    elif args.probe in ("contrast", "confidence", "listwise"):
        {"contrast": probe_contrast, "confidence": probe_confidence, "listwise": probe_listwise}[
            args.probe
        ]()
    elif args.probe == "title":
        probe_title()
    elif args.probe == "projection":
        if not args.selqa:
            parser.error("projection needs --selqa")
        fit_projection(args.selqa, ROOT / "qa" / "embeddings" / "token_projection.npy")
    elif args.probe == "late":
        probe_late(args.epochs)
    elif args.probe == "adapter":
        if not args.selqa:
            parser.error("adapter needs --selqa")
        probe_adapter(args.selqa, args.epochs)
    else:
        probe_cost()


if __name__ == "__main__":
    main()
