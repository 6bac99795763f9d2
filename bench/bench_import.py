"""Benchmark ``kpitree import`` of a large lead or activity CSV against DuckDB's own ``read_csv``.

Usage::

    .venv/bin/python bench/bench_import.py                       # 1,000,000 leads
    .venv/bin/python bench/bench_import.py --rows 200000 --repeat 3
    .venv/bin/python bench/bench_import.py --export activities   # 4,000,000 activities

Writes a lead export the way an MA tool would (UTF-8 CSV, Japanese channel and
company names, ``2026/01/07 9:05`` timestamps, a stage date column per stage, some
blank cells), or with ``--export activities`` an SFA activity export (one row per
call, e-mail or meeting: Japanese activity types mapped to canonical ones,
timestamps with seconds, durations, blank cells), then measures, each in a fresh
child process so that peak memory (``ru_maxrss``) is its own:

- ``duckdb_read_csv``: ``CREATE TABLE leads AS SELECT * FROM read_csv(file)`` into
  a new DuckDB file: the baseline;
- ``kpitree_import``: the whole ``kpitree import`` path into the embedded
  warehouse (load the mapping, read and map the file inside the warehouse's
  connection, write it in one transaction), with the read+map and apply phases
  timed separately, and which path read the file (typed, or as text and why);
- ``kpitree_reimport``: the same file again into that warehouse (every row
  compared, nothing changed).

Then, end to end as users run it, commands in fresh processes, interleaved
(``--rounds`` rounds), each timed from outside with its own CPU time and peak
memory (``os.wait4``):

- ``duckdb_cli``: a Python process that imports DuckDB and runs the same
  ``CREATE TABLE … AS SELECT * FROM read_csv(file)``;
- ``duckdb_hand_cli``: the same import written by hand in DuckDB SQL for this
  file only (read every cell as text, parse with the known formats, write the
  canonical tables; no validation, rejects, repeat check, hash or log), checked
  once to write as many rows as kpitree inserts: the floor;
- ``kpitree_cli``: ``kpitree import <file> --mapping <yaml> --project <new folder>
  --json`` (interpreter start, imports, reading, mapping and writing included);
- ``kpitree_cli_again``: the same command again on that project (nothing changed).

Prints a table and the ratios (goal: ``kpitree_cli`` within 1.5x ``duckdb_cli``;
medians of the rounds, CPU beside wall), and writes JSON to
``bench/results/import-<export>-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"

MAPPING = """\
mapping: 1
name: bench-leads
tables:
  leads:
    lead_id: Record ID
    created_at: Create Date
    channel: Original Source
    campaign: Campaign
    owner_id: Owner
    region: Region
    industry: Industry
  lead_stage_history:
    lead_id: Record ID
    stages:
      lead: Create Date
      mql: MQL Date
      sql: SQL Date
"""


ACTIVITY_MAPPING = """\
mapping: 1
name: bench-activities
values:
  activity_type:
    電話: call
    メール: email
    商談: meeting
    ウェブ訪問: web_visit
tables:
  activities:
    activity_id: Activity ID
    occurred_at: Date
    type: {column: Type, map: activity_type, else: other}
    owner_id: Owner
    lead_id: Lead ID
    account_id: Account ID
    outcome: Outcome
    duration_seconds: Duration (sec)
"""

EXPORTS = {"leads": (1_000_000, MAPPING), "activities": (4_000_000, ACTIVITY_MAPPING)}


def write_activities_csv(path: Path, rows: int) -> None:
    """An activity export of ``rows`` rows, written by DuckDB."""
    import duckdb

    con = duckdb.connect()
    con.execute(
        f"""
        COPY (
          SELECT
            'A' || lpad(i::VARCHAR, 10, '0') AS "Activity ID",
            strftime(TIMESTAMP '2025-04-01 08:00:00' + to_seconds(i * 7 % 31536000),
              '%Y/%m/%d %H:%M:%S') AS "Date",
            ['電話', 'メール', '商談', 'ウェブ訪問', 'セミナー'][1 + i % 5] AS "Type",
            'U' || (i % 120)::VARCHAR AS "Owner",
            'C' || lpad((i % 1000000)::VARCHAR, 9, '0') AS "Lead ID",
            CASE WHEN i % 3 = 0 THEN 'ACC' || (i % 8000)::VARCHAR END AS "Account ID",
            ['connected', 'no_answer', 'held', NULL][1 + i % 4] AS "Outcome",
            CASE WHEN i % 5 IN (0, 2) THEN (30 + i % 3600)::VARCHAR END AS "Duration (sec)"
          FROM range({rows}) t(i)
        ) TO '{path}' (HEADER, DELIMITER ',')
        """
    )
    con.close()


def write_csv(path: Path, rows: int) -> None:
    """A lead export of ``rows`` rows, written by DuckDB (fast, deterministic)."""
    import duckdb

    con = duckdb.connect()
    con.execute(
        f"""
        COPY (
          SELECT
            'C' || lpad(i::VARCHAR, 9, '0') AS "Record ID",
            strftime(TIMESTAMP '2025-04-01 09:00' + to_minutes(i % 500000), '%Y/%m/%d %-H:%M')
              AS "Create Date",
            ['ウェブ', '展示会', '広告', 'ウェビナー', '紹介'][1 + i % 5] AS "Original Source",
            'CMP-' || (i % 40)::VARCHAR AS "Campaign",
            'U' || (i % 120)::VARCHAR AS "Owner",
            ['関東', '関西', '中部', '九州'][1 + i % 4] AS "Region",
            ['製造業', 'IT', '小売', '金融', NULL][1 + i % 5] AS "Industry",
            CASE WHEN i % 4 = 0 THEN strftime(TIMESTAMP '2025-04-03 10:00'
              + to_minutes(i % 500000), '%Y/%m/%d %-H:%M') END AS "MQL Date",
            CASE WHEN i % 12 = 0 THEN strftime(TIMESTAMP '2025-04-10 15:30'
              + to_minutes(i % 500000), '%Y/%m/%d %-H:%M') END AS "SQL Date"
          FROM range({rows}) t(i)
        ) TO '{path}' (HEADER, DELIMITER ',')
        """
    )
    con.close()


def _peak_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # KiB on Linux


def child_duckdb(csv: Path, work: Path) -> dict[str, Any]:
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect(str(work / "baseline.duckdb"))
    con.execute(f"CREATE TABLE leads AS SELECT * FROM read_csv('{csv}')")
    rows = con.execute("SELECT count(*) FROM leads").fetchall()[0][0]
    con.close()
    return {"seconds": time.perf_counter() - started, "peak_rss_mb": _peak_mb(), "rows": rows}


def child_kpitree(csv: Path, work: Path, mapping: Path) -> dict[str, Any]:
    # DuckDB is loaded before the clock starts, as in the baseline; kpitree's own
    # libraries (pyarrow, ...) are loaded on the clock, as `kpitree import` does.
    import duckdb  # noqa: F401

    from kpitree.data.mapping import load_mapping
    from kpitree.data.warehouse import Warehouse, default_warehouse_path

    # As `kpitree import` into the embedded warehouse: read, mapped and written
    # inside the warehouse's connection; "read+map" ends when the file is read.
    warehouse = Warehouse(default_warehouse_path(work))
    marks: list[float] = []
    # Which path read the file: the typed fast path says so at DEBUG level.
    import logging

    paths: list[str] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: paths.append(record.getMessage().split(": ", 1)[-1])  # type: ignore[method-assign]
    typed_log = logging.getLogger("kpitree.data.typed")
    typed_log.addHandler(handler)
    typed_log.setLevel(logging.DEBUG)
    started = time.perf_counter()
    _, results = warehouse.import_files(
        [str(csv)], load_mapping(str(mapping)), read=lambda _: marks.append(time.perf_counter())
    )
    result = results[0]
    done = time.perf_counter()
    return {
        "seconds": done - started,
        "read_map_seconds": marks[0] - started,
        "apply_seconds": done - marks[0],
        "peak_rss_mb": _peak_mb(),
        "rows": result.rows_read,
        "rejected": result.rejected,
        "inserted": result.inserted,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "read": paths[0] if paths else "read as text (not tried)",
    }


BASELINE_CLI = """
import sys, duckdb
con = duckdb.connect(sys.argv[2])
con.execute("CREATE TABLE leads AS SELECT * FROM read_csv(?)", [sys.argv[1]])
con.close()
"""


# What the import does, written by hand in DuckDB SQL for the bench's own files
# and nothing else: read every cell as text, parse it with the formats the file
# is known to use (no detection, no validation, no rejects, no repeat check, no
# hash, no import log), write the canonical tables into a new DuckDB file. The
# floor an import with kpitree's guarantees can approach. ``{csv}`` is the file.
_AT = "make_timestamptz(epoch_us(try_strptime({col}, '{fmt}')) - 32400000000)"  # Asia/Tokyo
HAND_SQL = {
    "leads": [
        f"""CREATE TEMP TABLE p AS SELECT "Record ID" AS lead_id,
        {_AT.format(col='"Create Date"', fmt="%Y/%m/%d %H:%M")} AS created_at,
        "Original Source" AS channel, "Campaign" AS campaign, "Owner" AS owner_id,
        "Region" AS region, "Industry" AS industry,
        {_AT.format(col='"MQL Date"', fmt="%Y/%m/%d %H:%M")} AS mql,
        {_AT.format(col='"SQL Date"', fmt="%Y/%m/%d %H:%M")} AS sql
        FROM read_csv({{csv}}, all_varchar = true)""",
        "CREATE TABLE leads AS SELECT lead_id, created_at, channel, campaign, owner_id, "
        "region, industry, 1 AS _import_id FROM p",
        "CREATE TABLE lead_stage_history AS SELECT lead_id, 'lead' AS stage, created_at "
        "AS entered_at, 1 AS _import_id FROM p UNION ALL SELECT lead_id, 'mql', mql, 1 "
        "FROM p WHERE mql IS NOT NULL UNION ALL SELECT lead_id, 'sql', sql, 1 FROM p "
        "WHERE sql IS NOT NULL",
    ],
    "activities": [
        f"""CREATE TABLE activities AS SELECT "Activity ID" AS activity_id,
        CASE "Type" WHEN '電話' THEN 'call' WHEN 'メール' THEN 'email'
          WHEN '商談' THEN 'meeting' WHEN 'ウェブ訪問' THEN 'web_visit' ELSE 'other' END AS type,
        {_AT.format(col='"Date"', fmt="%Y/%m/%d %H:%M:%S")} AS occurred_at,
        "Owner" AS owner_id, "Lead ID" AS lead_id, "Account ID" AS account_id,
        "Outcome" AS outcome, TRY_CAST("Duration (sec)" AS DOUBLE) AS duration_seconds,
        1 AS _import_id
        FROM read_csv({{csv}}, all_varchar = true)""",
    ],
}

HAND_CLI = """
import json, sys, duckdb
csv = "'" + sys.argv[1].replace("'", "''") + "'"
con = duckdb.connect(sys.argv[2])
for statement in json.loads(sys.argv[3]):
    con.execute(statement.replace("{csv}", csv))
tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE NOT temporary")
          .fetchall()]
print(json.dumps({t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in tables}))
con.close()
"""


def check_hand_counts(csv: Path, tmp: Path, export: str, first: dict[str, Any]) -> dict[str, int]:
    """Run the hand-written SQL once and check that it writes as many rows as
    kpitree inserted (``first``: the in-process import), so both do the same work."""
    out = subprocess.run(
        [sys.executable, "-c", HAND_CLI, str(csv), str(tmp / "hand-check.duckdb"),
         json.dumps(HAND_SQL[export])],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    (tmp / "hand-check.duckdb").unlink()
    counts: dict[str, int] = json.loads(out.stdout.strip().splitlines()[-1])
    if sum(counts.values()) != first["inserted"] or first["rejected"]:
        raise SystemExit(f"hand SQL wrote {counts}, kpitree inserted {first['inserted']:,}")
    return counts


def run_timed(command: list[str], cwd: Path) -> dict[str, Any]:
    """``command`` in a fresh process: wall seconds, and the CPU seconds (user +
    system) and peak RSS of that process alone (``os.wait4``)."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    assert proc.stderr is not None
    if code != 0:
        sys.stderr.write(proc.stderr.read().decode("utf-8", "replace"))
        raise SystemExit(f"{command[0]} failed with exit status {code}")
    proc.stderr.close()
    return {
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
    }


def end_to_end(
    csv: Path, mapping: Path, tmp: Path, rounds: int, export: str
) -> dict[str, dict[str, Any]]:
    """Median wall and CPU seconds of the commands as users run them, interleaved."""
    kpitree = str(Path(sys.executable).parent / "kpitree")
    runs: dict[str, list[dict[str, Any]]] = {
        "duckdb_cli": [], "duckdb_hand_cli": [], "kpitree_cli": [], "kpitree_cli_again": []
    }  # fmt: skip
    hand = json.dumps(HAND_SQL[export])
    for i in range(rounds):
        base = tmp / f"cli-baseline-{i}.duckdb"
        runs["duckdb_cli"].append(
            run_timed([sys.executable, "-c", BASELINE_CLI, str(csv), str(base)], tmp)
        )
        base.unlink()
        runs["duckdb_hand_cli"].append(
            run_timed([sys.executable, "-c", HAND_CLI, str(csv), str(base), hand], tmp)
        )
        base.unlink()
        project = tmp / f"cli-project-{i}"
        project.mkdir()
        command = [kpitree, "import", str(csv), "--mapping", str(mapping), "--project",
                   str(project), "--json"]  # fmt: skip
        runs["kpitree_cli"].append(run_timed(command, tmp))
        runs["kpitree_cli_again"].append(run_timed(command, tmp))
        shutil.rmtree(project)
    out = {}
    for name, measured in runs.items():
        out[name] = {
            "seconds": statistics.median(m["seconds"] for m in measured),
            "cpu_seconds": statistics.median(m["cpu_seconds"] for m in measured),
            "peak_rss_mb": max(m["peak_rss_mb"] for m in measured),
            "all_seconds": [round(m["seconds"], 3) for m in measured],
            "all_cpu_seconds": [round(m["cpu_seconds"], 3) for m in measured],
        }
    return out


def _load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_child(kind: str, csv: Path, work: Path, mapping: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(csv), str(work), str(mapping)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--export", choices=sorted(EXPORTS), default="leads", help="which export to import"
    )
    parser.add_argument(
        "--rows", type=int, help="rows (default 1,000,000 leads, 4,000,000 activities)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per step; best time kept")
    parser.add_argument(
        "--rounds", type=int, default=5, help="interleaved end-to-end rounds (medians kept)"
    )
    parser.add_argument(
        "--no-write", action="store_true", help="do not write bench/results/ (smoke test)"
    )
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, csv, work, mapping = args.child
        if kind == "duckdb":
            measured = child_duckdb(Path(csv), Path(work))
        else:
            measured = child_kpitree(Path(csv), Path(work), Path(mapping))
        print(json.dumps(measured))
        return

    tmp = Path(tempfile.mkdtemp(prefix="kpitree-bench-"))
    try:
        default_rows, mapping_text = EXPORTS[args.export]
        args.rows = args.rows or default_rows
        csv = tmp / f"{args.export}.csv"
        mapping = tmp / f"{args.export}.yaml"
        mapping.write_text(mapping_text, encoding="utf-8")
        (write_activities_csv if args.export == "activities" else write_csv)(csv, args.rows)
        size_mb = csv.stat().st_size / 2**20
        print(f"{args.rows:,} {args.export}, {size_mb:,.0f} MB: {csv}")
        load_before = _load_average()

        def best(kind: str, fresh: bool) -> dict[str, Any]:
            runs = []
            for i in range(args.repeat):
                work = tmp / (f"{kind}-{i}" if fresh else "kpitree-0")
                if fresh:
                    shutil.rmtree(work, ignore_errors=True)
                    work.mkdir()
                runs.append(run_child(kind, csv, work, mapping))
            chosen = min(runs, key=lambda r: r["seconds"])
            chosen["all_seconds"] = [round(r["seconds"], 3) for r in runs]
            return chosen

        baseline = best("duckdb", fresh=True)
        first = best("kpitree", fresh=True)
        again = best("kpitree", fresh=False)  # into the warehouse of the first run
        hand_counts = check_hand_counts(csv, tmp, args.export, first)
        cli = end_to_end(csv, mapping, tmp, args.rounds, args.export)
        load_after = _load_average()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    steps = {"duckdb_read_csv": baseline, "kpitree_import": first, "kpitree_reimport": again}
    print(f"\n{'step':<18}{'seconds':>9}{'ratio':>7}{'peak MB':>9}  detail")
    for name, m in steps.items():
        detail = ""
        if "apply_seconds" in m:
            detail = (
                f"read+map {m['read_map_seconds']:.2f} s, apply {m['apply_seconds']:.2f} s; "
                f"+{m['inserted']:,} ~{m['updated']:,} ={m['unchanged']:,}; {m['read']}"
            )
        ratio = m["seconds"] / baseline["seconds"]
        print(f"{name:<18}{m['seconds']:>9.2f}{ratio:>6.1f}x{m['peak_rss_mb']:>9,}  {detail}")
    ratio = first["seconds"] / baseline["seconds"]
    verdict = "within" if ratio <= 3 else "OVER"
    print(f"\nkpitree import / duckdb read_csv = {ratio:.2f}x ({verdict} the 3x goal)")

    base = cli["duckdb_cli"]
    print(f"\nend to end, fresh processes, median of {args.rounds} interleaved rounds")
    print(f"{'step':<19}{'wall s':>8}{'ratio':>7}{'CPU s':>8}{'ratio':>7}{'peak MB':>9}")
    for name, m in cli.items():
        wall_ratio = m["seconds"] / base["seconds"]
        cpu_ratio = m["cpu_seconds"] / base["cpu_seconds"]
        print(
            f"{name:<19}{m['seconds']:>8.2f}{wall_ratio:>6.2f}x{m['cpu_seconds']:>8.2f}"
            f"{cpu_ratio:>6.2f}x{m['peak_rss_mb']:>9,}"
        )
        m["ratio"], m["cpu_ratio"] = round(wall_ratio, 3), round(cpu_ratio, 3)
    cli_ratio = cli["kpitree_cli"]["seconds"] / base["seconds"]
    cpu_ratio = cli["kpitree_cli"]["cpu_seconds"] / base["cpu_seconds"]
    peak_ratio = cli["kpitree_cli"]["peak_rss_mb"] / base["peak_rss_mb"]
    hand = cli["duckdb_hand_cli"]
    print(
        f"end to end: kpitree_cli / duckdb_cli = {cli_ratio:.2f}x wall, {cpu_ratio:.2f}x CPU, "
        f"{peak_ratio:.2f}x peak memory (goals 1.5x time, 2x memory); kpitree_cli / "
        f"duckdb_hand_cli = {cli['kpitree_cli']['cpu_seconds'] / hand['cpu_seconds']:.2f}x CPU "
        f"(hand SQL wrote {hand_counts}); load average before {load_before}, after {load_after}"
    )

    import duckdb
    import pyarrow

    report = {
        "benchmark": f"import_{args.export}_csv",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": args.rows,
        "csv_mb": round(size_mb, 1),
        "ratio": round(ratio, 3),
        "goal_ratio": 3.0,
        "end_to_end": cli,
        "end_to_end_goal_ratio": 1.5,
        "hand_sql_counts": hand_counts,
        "load_average": {"before": load_before, "after": load_after},
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "duckdb": duckdb.__version__,
            "pyarrow": pyarrow.__version__,
        },
        "results": steps,
    }
    if args.no_write:
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"import-{args.export}-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"written {path}")


if __name__ == "__main__":
    main()
