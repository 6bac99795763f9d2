"""The same status on DuckDB, ClickHouse (chDB) and Apache Spark (local[2]).

Usage::

    .venv/bin/python bench/bench_engines.py                         # tiny, all three
    .venv/bin/python bench/bench_engines.py --size small --engines duckdb,chdb

The demo company (``kpitree.data.demo.generate``) is loaded into a warehouse and a
project from the default template is planned from its first fiscal year. Then, in
this one process, for each engine: the canonical tables are copied into it
(``copy_warehouse``; DuckDB reads the warehouse itself), and
``Project.status(<12 months>, by=["department", "team", "rep"])`` runs twice
(first: with the engine's start-up and Ibis compiling; second: again). Every value
of every row (actuals, targets, pace, statuses, flags, ...) is compared with
DuckDB's: the run fails with exit status 1 when any differs beyond the last bits
of a float (relative 1e-12: engines add floating-point values in their own order).

Recorded, not a goal: a two-core machine says little about a cluster. Prints a
table and writes JSON to ``bench/results/engines-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ENGINES = ("duckdb", "chdb", "spark")


# The demo company's data runs to March 2026: FY2025 (April 2025 to March 2026)
# is measured, planned from FY2024.
MONTHS = [f"2025-{m:02d}" for m in range(4, 13)] + [f"2026-{m:02d}" for m in (1, 2, 3)]
AS_OF = dt.date(2026, 3, 20)


def _company(folder: Path, size: str) -> Any:
    import yaml

    from kpitree.data.demo import generate
    from kpitree.data.warehouse import Warehouse
    from kpitree.project import Project

    Warehouse(folder / "warehouse.duckdb").bulk_load(generate(size, seed=11).tables, label="demo")
    definition = Project.init(folder / "project")
    doc = yaml.safe_load(definition.read_text(encoding="utf-8"))
    doc["data"] = {"warehouse": str(folder / "warehouse.duckdb")}
    definition.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    Project.load(folder / "project").plan_from_history("FY2024", fiscal_year=2025)
    return Project.load(folder / "project")


def _open(kind: str, folder: Path, timezone: str) -> Any:
    from kpitree.engines import copy_warehouse, open_engine

    if kind == "duckdb":
        return open_engine(folder / "warehouse.duckdb", timezone=timezone)
    url = (
        "chdb://" if kind == "chdb" else f"pyspark://local[2]?spark.sql.warehouse.dir={folder}/lake"
    )
    engine = open_engine(url, timezone=timezone, read_only=False)
    copy_warehouse(folder / "warehouse.duckdb", engine)
    return engine


def _differences(expected: Any, got: Any) -> list[tuple[Any, ...]]:
    out = []
    if len(expected) != len(got):
        return [("rows", len(expected), len(got))]
    for (_, a), (_, b) in zip(expected.iterrows(), got.iterrows(), strict=True):
        for column in expected.columns:
            x, y = a[column], b[column]
            if isinstance(x, float) and isinstance(y, float):
                if (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=1e-12):
                    continue
            elif x == y:
                continue
            out.append((a["node"], a["period"], a["segment"], column, x, y))
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="tiny", choices=("tiny", "small", "medium"))
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--no-write", action="store_true", help="do not write JSON")
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.engines.split(",") if k.strip()]
    unknown = set(kinds) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engines: {', '.join(sorted(unknown))}")
    if "duckdb" not in kinds:
        kinds.insert(0, "duckdb")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    results: list[dict[str, Any]] = []
    failed = False
    with tempfile.TemporaryDirectory(prefix="kpitree-bench-engines-") as tmp:
        folder = Path(tmp)
        project = _company(folder, args.size)
        months, as_of = MONTHS, AS_OF
        by = ["department", "team", "rep"]
        expected = None
        for kind in kinds:
            start = time.perf_counter()
            engine = _open(kind, folder, project.tree.timezone)
            opened = time.perf_counter() - start
            try:
                engine.roster = project.roster()
                times = []
                for _ in range(2):
                    start = time.perf_counter()
                    frame = project.status(months, by=by, as_of=as_of, engine=engine).frame
                    times.append(time.perf_counter() - start)
            finally:
                engine.close()
            if expected is None:
                expected = frame
            differences = _differences(expected, frame)
            failed |= bool(differences)
            results.append(
                {
                    "engine": kind,
                    "open_and_load_s": round(opened, 2),
                    "status_first_s": round(times[0], 2),
                    "status_again_s": round(times[1], 2),
                    "rows": len(frame),
                    "values": int(frame.size),
                    "differences": len(differences),
                }
            )
            verdict = "same numbers as duckdb" if not differences else "DIFFERENT"
            print(f"{kind}: {verdict} ({len(frame):,} rows)", flush=True)
            for difference in differences[:10]:
                print("  ", difference)
    print(f"\nsize {args.size}, {len(months)} months, by department/team/rep, as of {as_of}")
    print(f"{'engine':<8} {'open+load s':>12} {'status s':>10} {'again s':>9} {'rows':>8}")
    for r in results:
        print(
            f"{r['engine']:<8} {r['open_and_load_s']:>12.2f} {r['status_first_s']:>10.2f} "
            f"{r['status_again_s']:>9.2f} {r['rows']:>8,}"
        )
    if not args.no_write:
        out = ROOT / "bench" / "results"
        out.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        path = out / f"engines-{stamp}.json"
        machine = {"python": platform.python_version(), "cpus": os.cpu_count()}
        path.write_text(
            json.dumps({"size": args.size, "machine": machine, "results": results}, indent=2),
            encoding="utf-8",
        )
        print(f"wrote {path.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
