"""Would onnxruntime's weight-only int8 kernel (``MatMulNBits``) embed faster?

Usage: python bench/matmulnbits.py [--rounds 5] [--out DIR]

The shipped MiniLM stores its weights as int8 with one scale per output column, and
onnxruntime folds them to fp32 at load (``Cast`` + ``Mul`` before each ``MatMul``), so every
run streams fp32 weights. This rewrites each such ``MatMul`` as ``com.microsoft.MatMulNBits``
(8 bits, 128-wide blocks; the same integers, the column scale repeated over the blocks) at
two accuracy levels: 0 (fp32 compute, vectors unchanged) and 4 (int8 compute: activations
quantised per block of each row). It then times a 12-token question and a batch of 32
40-token sentences on both thread settings, and compares the vectors with the shipped
model's. Needs the ``onnx`` package (not a qa dependency). Results: bench/README.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np


def convert(source: Path, target: Path, accuracy_level: int, block: int = 128) -> int:
    """Write ``source`` with its int8 weight MatMuls as MatMulNBits; how many it rewrote."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    replaced: dict[str, Any] = {}
    dropped: set[str] = set()
    for node in graph.node:
        mul = producer.get(node.input[1]) if node.op_type == "MatMul" else None
        cast = producer.get(mul.input[0]) if mul is not None and mul.op_type == "Mul" else None
        if mul is None or cast is None or cast.op_type != "Cast":
            continue
        if cast.input[0] not in inits or mul.input[1] not in inits:
            continue
        weights = numpy_helper.to_array(inits[cast.input[0]])
        scale = numpy_helper.to_array(inits[mul.input[1]]).astype(np.float32)
        k, n = weights.shape
        blocks = k // block
        packed = (weights.astype(np.int16) + 128).astype(np.uint8).T.reshape(n, blocks, block)
        scales = np.repeat(scale.reshape(n, 1), blocks, axis=1).reshape(-1)
        b_name, s_name = f"{cast.input[0]}_nbits", f"{mul.input[1]}_nbits"
        graph.initializer.append(numpy_helper.from_array(packed, b_name))
        graph.initializer.append(numpy_helper.from_array(scales.astype(np.float32), s_name))
        replaced[node.name] = helper.make_node(
            "MatMulNBits",
            [node.input[0], b_name, s_name],
            list(node.output),
            domain="com.microsoft",
            K=k,
            N=n,
            bits=8,
            block_size=block,
            accuracy_level=accuracy_level,
            name=f"{node.name}_nbits",
        )
        dropped.update([mul.name, cast.name])
    nodes = [replaced.get(n.name, n) for n in graph.node if n.name not in dropped]
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for node in graph.node for name in node.input}
    kept = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, str(target))
    return len(replaced)


def main() -> None:
    import onnxruntime as ort

    from qa.embeddings.local import LocalMiniLMEmbedder, default_model_path

    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("/tmp/qa-matmulnbits"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    paths = {"shipped": default_model_path()}
    for level in (0, 4):
        paths[f"nbits acc{level}"] = args.out / f"acc{level}.onnx"
        count = convert(paths["shipped"], paths[f"nbits acc{level}"], level)
        print(f"accuracy level {level}: {count} MatMuls rewritten")
    for threads in (1, 2):
        sessions = {}
        for name, path in paths.items():
            options = ort.SessionOptions()
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
            sessions[name] = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        inputs = [i.name for i in sessions["shipped"].get_inputs()]
        rng = np.random.default_rng(0)
        for tokens, batch in ((12, 1), (40, 32)):
            ids = rng.integers(1000, 20000, (batch, tokens)).astype(np.int64)
            feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
            feed["token_type_ids"] = np.zeros_like(ids)
            feed = {k: v for k, v in feed.items() if k in inputs}
            times: dict[str, list[float]] = {name: [] for name in sessions}
            runs = 30 if batch == 1 else 3
            for _ in range(args.rounds):  # alternate, so a slower moment hits every model
                for name, session in sessions.items():
                    session.run(None, feed)
                    started = time.perf_counter()
                    for _ in range(runs):
                        session.run(None, feed)
                    times[name].append((time.perf_counter() - started) / runs * 1000)
            medians = ", ".join(f"{n} {statistics.median(t):.2f} ms" for n, t in times.items())
            print(f"{threads} thread(s), batch {batch} x {tokens} tokens: {medians}")
    texts = [
        "On July 5, Tajik border guards let 1,037 Afghan soldiers into the country.",
        "How many soldiers crossed the border?",
        "The common border between the two countries is now in the hands of the Taliban.",
    ]
    shipped = LocalMiniLMEmbedder().embed(texts)
    for name, path in paths.items():
        if name == "shipped":
            continue
        embedder = LocalMiniLMEmbedder(model_path=path)
        batch = embedder.embed(texts)
        alone = np.stack([embedder.embed([t])[0] for t in texts])
        cos = (shipped * batch).sum(axis=1)
        print(
            f"{name}: cosine with the shipped vectors min {cos.min():.5f}; "
            f"batch vs alone max difference {np.abs(batch - alone).max():.2e}"
        )


if __name__ == "__main__":
    main()
