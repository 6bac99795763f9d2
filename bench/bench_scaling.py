"""How ``kpitree status`` grows with the company: the fiscal year by department,
team and rep as a user runs it (a fresh ``kpitree status --json`` process, the
compiled SQL cached by a first run), beside one hand-written DuckDB query in a
fresh Python process, at several sizes.

Usage::

    .venv/bin/python bench/bench_scaling.py              # 500k, 2m, 8m, 20m
    .venv/bin/python bench/bench_scaling.py --size 20k --repeat 3
    .venv/bin/python bench/bench_scaling.py --generator demo --size 1m

Each size's company is generated inside DuckDB by ``sql_company.py`` (never
held in Python memory; ``--generator demo`` takes ``bench_status.py``'s demo
companies instead) and cached under ``--cache-dir``; the two processes are
those of ``bench_status.py``'s end-to-end steps (``duckdb_cli`` and
``kpitree_cli``), interleaved, best of ``--repeat``, each
with its wall time, CPU time and peak memory (``os.wait4``), and their values
are compared (the run exits with status 1 when they differ). The load average
is printed before and after each size: on a shared machine compare CPU times.
JSON goes to ``bench/results/scaling-*.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bench_status as bs
import sql_company

_MEASURED = (
    "import json, sys\n"
    "from kpitree.project import Project\n"
    "tree = Project.load(sys.argv[1]).tree\n"
    "print(json.dumps({n.id: n.metric for n in tree.nodes.values() if n.metric}))\n"
)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# The curve's companies, generated in DuckDB (sql_company.py) by number of leads.
SQL_SIZES = {"20k": 20_000, "500k": 500_000, "2m": 2_000_000, "8m": 8_000_000, "20m": 20_000_000}


def run_size(size: str, args: argparse.Namespace) -> dict[str, Any]:
    """Both processes at one size, compared."""
    load_before = _load()
    if args.generator == "sql":
        folder = sql_company.ensure(
            SQL_SIZES[size], args.seed, args.fiscal_year, args.cache_dir, args.fresh
        )
    else:
        folder = bs.ensure_warehouse(size, args.seed, args.fiscal_year, args.cache_dir, args.fresh)
    rows = json.loads((folder / "ready.json").read_text(encoding="utf-8"))["rows"]
    warehouse = folder / "warehouse.duckdb"
    tmp = Path(tempfile.mkdtemp(prefix="kpitree-bench-scaling-"))
    try:
        project = bs.make_project(tmp / "project", warehouse)
        found = subprocess.run(
            [sys.executable, "-c", _MEASURED, str(project)],
            check=True,
            capture_output=True,
            text=True,
        )
        node_metric: dict[str, str] = json.loads(found.stdout)
        steps = bs.run_end_to_end(warehouse, project, args.fiscal_year, args.repeat, tmp)
        equality = bs.compare_end_to_end(steps, node_metric, args.fiscal_year)
        steps["kpitree_cli_kept"].pop("out")
        steps["kpitree_cli_kept"].pop("values")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    kp, hd = steps["kpitree_cli"], steps["duckdb_cli"]
    kp_year, hd_year = steps["kpitree_cli_year"], steps["duckdb_cli_year"]
    compared = equality["kpitree_cli"]["values"]
    return {
        "size": size,
        "rows": rows,
        "values_compared": compared,
        "equal": compared > 0 and all(e["equal"] for e in equality.values()),
        "first_differences": [d for e in equality.values() for d in e["first"]][:20],
        "ratio": round(kp["seconds"] / hd["seconds"], 3),
        "cpu_ratio": round(kp["cpu_seconds"] / hd["cpu_seconds"], 3),
        "year_ratio": round(kp_year["seconds"] / hd_year["seconds"], 3),
        "year_cpu_ratio": round(kp_year["cpu_seconds"] / hd_year["cpu_seconds"], 3),
        "load_average_before": load_before,
        "load_average_after": _load(),
        "results": steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--size", choices=sorted({*bs.SIZES, *SQL_SIZES}), action="append", help="repeatable"
    )
    parser.add_argument(
        "--generator",
        choices=("sql", "demo"),
        default="sql",
        help="sql: sql_company.py (any size in DuckDB, the default); demo: bench_status.py's",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--fiscal-year", type=int, default=2025)
    parser.add_argument("--repeat", type=int, default=1, help="runs per process; best kept")
    parser.add_argument(
        "--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "kpitree-bench"
    )
    parser.add_argument("--fresh", action="store_true", help="rebuild the cached warehouses")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/results/")
    args = parser.parse_args()
    sizes = args.size or ["500k", "2m", "8m", "20m"]
    known = SQL_SIZES if args.generator == "sql" else bs.SIZES
    unknown = [size for size in sizes if size not in known]
    if unknown:
        parser.error(f"--generator {args.generator} has no size {', '.join(unknown)}")
    done = []
    for size in sizes:
        print(f"\n== {size} (load average {_load()})")
        done.append(run_size(size, args))
    print(
        "\nratio: kpitree status (with FY2024, the comparison it prints) / the hand query of"
        " both years;\nyear: kpitree status --no-compare / the hand query of FY2025 alone"
    )
    print(
        f"\n{'size':<7}{'leads':>11}{'activities':>12}"
        f"{'kpitree s':>11}{'CPU':>7}{'MB':>6}{'hand SQL s':>12}{'CPU':>7}{'MB':>6}"
        f"{'ratio':>8}{'CPU ratio':>10}{'year':>7}{'CPU':>7}  load average before / after"
    )
    for r in done:
        kp, hd = r["results"]["kpitree_cli"], r["results"]["duckdb_cli"]
        print(
            f"{r['size']:<7}{r['rows']['leads']:>11,}{r['rows']['activities']:>12,}"
            f"{kp['seconds']:>11.2f}{kp['cpu_seconds']:>7.2f}{kp['peak_rss_mb']:>6}"
            f"{hd['seconds']:>12.2f}{hd['cpu_seconds']:>7.2f}{hd['peak_rss_mb']:>6}"
            f"{r['ratio']:>7.2f}x{r['cpu_ratio']:>9.2f}x"
            f"{r['year_ratio']:>6.2f}x{r['year_cpu_ratio']:>6.2f}x  "
            f"{r['load_average_before']} / {r['load_average_after']}"
        )
    ok = all(r["equal"] for r in done)
    for r in done:
        if r["equal"]:
            print(f"{r['size']}: same numbers ({r['values_compared']:,} non-zero values)")
        else:
            print(f"{r['size']}: DIFFERENCES, first ones:")
            for line in r["first_differences"]:
                print(f"  {line}")
    if not args.no_write:
        bs.RESULTS.mkdir(parents=True, exist_ok=True)
        path = bs.RESULTS / f"scaling-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
        report = {"benchmark": "status_scaling", "git": bs.git_state(), "sizes": done}
        path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8")
        print(f"written {path}")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
