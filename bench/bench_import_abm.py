"""Benchmark what the account scores add to a small ``kpitree import``.

Usage::

    .venv/bin/python bench/bench_import_abm.py                    # 200 rows, 3 rounds
    .venv/bin/python bench/bench_import_abm.py --rows 1000 --repeat 5

Creates the demo project once (``kpitree demo --size small``), then, each
round, imports a small lead file (the lead export of ``bench_import.py``) into
two fresh copies of it, each ``kpitree import`` a fresh process timed from
outside with its CPU time (``resource.getrusage(RUSAGE_CHILDREN)``):

- ``with_scores``: the demo project as created: after the import, the account
  scores the dashboard reads first are computed and kept
  (:mod:`kpitree.abm.refresh`);
- ``without_scores``: the same project with its ``abm:`` section taken out of
  ``kpitree.yaml`` (and the nodes that read it), so the import computes none.

Prints medians (wall and CPU) and the load average, and writes JSON to
``bench/results/import-abm-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_import import MAPPING, write_csv

RESULTS = Path(__file__).parent / "results"
KPITREE = str(Path(sys.executable).with_name("kpitree"))


def _without_abm(project: Path) -> None:
    """Take the ``abm:`` section out of the definition (the import then computes no scores)."""
    import yaml

    definition = project / "kpitree.yaml"
    data = yaml.safe_load(definition.read_text(encoding="utf-8"))
    data.pop("abm", None)
    definition.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def _timed(command: list[str]) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"seconds": wall, "cpu_seconds": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kpitree-bench-abm-") as tmp_name:
        tmp = Path(tmp_name)
        demo = tmp / "demo"
        subprocess.run([KPITREE, "demo", str(demo), "--no-serve"], check=True, capture_output=True)
        csv, mapping = tmp / "leads.csv", tmp / "mapping.yaml"
        write_csv(csv, args.rows)
        mapping.write_text(MAPPING, encoding="utf-8")
        runs: dict[str, list[dict[str, float]]] = {"with_scores": [], "without_scores": []}
        loads = []
        for r in range(args.repeat):
            for case in runs:
                project = tmp / f"{case}-{r}"
                shutil.copytree(demo, project)
                shutil.rmtree(project / ".kpitree" / "cache", ignore_errors=True)
                if case == "without_scores":
                    _without_abm(project)
                command = [KPITREE, "import", str(csv), "--mapping", str(mapping)]
                runs[case].append(_timed([*command, "--project", str(project), "--json"]))
                if case == "with_scores":
                    kept = list((project / ".kpitree" / "cache" / "abm").glob("daily-*"))
                    assert kept, "the import kept no account scores"
                loads.append(" ".join(f"{x:.2f}" for x in os.getloadavg()))
        summary = {
            case: {
                "seconds": statistics.median(x["seconds"] for x in rs),
                "cpu_seconds": statistics.median(x["cpu_seconds"] for x in rs),
            }
            for case, rs in runs.items()
        }
    print(f"kpitree import of {args.rows} leads into the demo project, median of {args.repeat}")
    for case, s in summary.items():
        print(f"  {case:15} {s['seconds']:6.2f} s wall  {s['cpu_seconds']:6.2f} s CPU")
    added = summary["with_scores"]["cpu_seconds"] - summary["without_scores"]["cpu_seconds"]
    print(f"  the scores add {added:.2f} s CPU; load averages after each run: {loads}")
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"import-abm-{stamp}.json"
    out.write_text(json.dumps({"rows": args.rows, "summary": summary, "runs": runs,
                               "load": loads}, indent=2))  # fmt: skip
    print(f"written {out}")


if __name__ == "__main__":
    main()
