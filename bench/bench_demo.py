"""Benchmark the demo company generator: wall time and peak memory per size.

Usage::

    .venv/bin/python bench/bench_demo.py                 # every size
    .venv/bin/python bench/bench_demo.py --size bench    # one size
    .venv/bin/python bench/bench_demo.py --size small --repeat 5

Each size runs in a fresh child process so that its peak resident memory
(``ru_maxrss``) is its own. Results are printed as a table and written as JSON
to ``bench/results/demo-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
SIZES = ("tiny", "small", "medium", "bench")


def measure(size: str, seed: int) -> dict[str, Any]:
    """Generate one company in this process and report time, memory and rows."""
    import psutil

    from kpitree.data.demo import generate

    generate("tiny", seed=seed)  # imports, holiday tables and first-call costs
    baseline = psutil.Process().memory_info().rss
    started = time.perf_counter()
    demo = generate(size, seed=seed)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    rows = demo.row_counts()
    return {
        "size": size,
        "seed": seed,
        "seconds": round(seconds, 3),
        "peak_rss_mb": round(peak / 2**20),
        "baseline_rss_mb": round(baseline / 2**20),
        "rows": rows,
        "total_rows": sum(rows.values()),
        "arrow_mb": round(sum(t.nbytes for t in demo.tables.values()) / 2**20),
    }


def run_child(size: str, seed: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", size, "--seed", str(seed)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", action="append", choices=SIZES, help="repeatable")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=1, help="runs per size; best time kept")
    parser.add_argument("--child", choices=SIZES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.seed)))
        return

    results = []
    header = f"{'size':<7}{'leads':>11}{'deals':>10}{'activities':>12}{'rows':>12}"
    header += f"{'seconds':>9}{'peak MB':>9}{'arrow MB':>9}"
    print(header)
    for size in args.size or SIZES:
        runs = [run_child(size, args.seed) for _ in range(args.repeat)]
        best = min(runs, key=lambda r: r["seconds"])
        best["all_seconds"] = [r["seconds"] for r in runs]
        results.append(best)
        rows = best["rows"]
        print(
            f"{size:<7}{rows['leads']:>11,}{rows['deals']:>10,}{rows['activities']:>12,}"
            f"{best['total_rows']:>12,}{best['seconds']:>9.2f}{best['peak_rss_mb']:>9,}"
            f"{best['arrow_mb']:>9,}"
        )

    import numpy
    import pyarrow

    report = {
        "benchmark": "demo_generate",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "numpy": numpy.__version__,
            "pyarrow": pyarrow.__version__,
        },
        "results": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"demo-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwritten {path}")


if __name__ == "__main__":
    main()
