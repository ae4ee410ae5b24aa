"""Run the benchmarks (`make bench`): quick by default, the big runs behind flags.

Usage: python bench/run_all.py [--full] [--scale N] [--only NAME ...]
Default (about 10 minutes on 2 cores): ingest, latency at 1k/10k chunks, quality.
--full adds latency at 100k chunks, scale.py at 100k chunks, embedders.py and throughput.py;
--scale N runs scale.py at N chunks (1000000 takes tens of minutes).
Tables go to stdout and bench/out/*.md, plots to bench/out/*.png (copied to docs/img/).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="also the 100k-chunk runs")
    parser.add_argument("--scale", type=int, default=0, help="run scale.py at this size")
    parser.add_argument("--only", action="append", help="run only these scripts (by name)")
    args = parser.parse_args()
    common.require_shared()
    sizes = "1000,10000,100000" if args.full else "1000,10000"
    runs: list[tuple[str, list[str]]] = [
        ("ingest", ["--repeat", "2" if args.full else "1"]),
        ("latency", ["--sizes", sizes]),
        ("quality", []),
    ]
    if args.full:
        runs += [
            ("scale", ["--chunks", "100000"]),
            ("embedders", []),
            ("throughput", ["--rounds", "2"]),
        ]
    if args.scale:
        runs.append(("scale", ["--chunks", str(args.scale)]))
    failed = []
    for name, extra in runs:
        if args.only and name not in args.only:
            continue
        print(f"\n=== bench/{name}.py {' '.join(extra)}", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, str(common.ROOT / "bench" / f"{name}.py"), *extra])
        print(f"=== {name}: exit {code} after {time.perf_counter() - started:.0f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        sys.exit(f"bench: failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
