"""Benchmark ``kpitree sync`` of a Salesforce org against the fake org's own serving time.

Usage::

    .venv/bin/python bench/bench_sync_salesforce.py                 # 100,000 leads
    .venv/bin/python bench/bench_sync_salesforce.py --leads 20000

Generates a company in the fake Salesforce of ``tests/fakes`` (leads with status
history and conversions, opportunities with stage history, accounts, users),
serves it on loopback from this process, then measures, each sync in a fresh
``kpitree sync --json`` child process (its peak memory is its own ``ru_maxrss``):

- ``full``: the first sync (every record, every history row);
- ``incremental``: a sync after a day of changes (new leads, status moves,
  conversions, stage moves, deletions);
- ``serve_full`` / ``serve_incremental``: the baseline, the same requests (the
  recorded URLs) replayed by a bare httpx client in a child process that only
  reads the answers: what the fake server itself needs to serve those pages.

The goal: a sync bounded by the vendor, not by kpitree. Salesforce pages hold up
to 2,000 records and a REST query has no documented per-second limit (the daily
allowance is the limit), so the ratio sync / serve shows kpitree's own cost.
:func:`run_salesforce` is importable (``bench/bench_sync.py`` calls it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
sys.path[:0] = [str(ROOT / "tests")]

REPLAY = """\
import json, sys, httpx
base, token, urls = sys.argv[1], sys.argv[2], sys.stdin.read().splitlines()
headers = {"Authorization": "Bearer " + token, "Sforce-Query-Options": "batchSize=2000"}
jobs = {}
with httpx.Client(base_url=base, timeout=120) as client:
    for url in urls:
        if url.startswith("POST "):
            _, path, old, body = url.split(" ", 3)
            response = client.post(path, json=json.loads(body), headers=headers)
            response.raise_for_status()
            jobs[old] = response.json()["id"]
            continue
        for old, new in jobs.items():
            url = url.replace(old, new)
        response = client.get(url, headers=headers)
        response.raise_for_status()
        response.read()
"""


def _child(args: list[str], env: dict[str, str], stdin: str | None = None) -> dict[str, Any]:
    """Run a child process; its wall time and peak resident memory."""
    started = time.perf_counter()
    process = subprocess.Popen(
        args, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    out, err = process.communicate(stdin)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{args[:4]} failed: {err[-2000:]}")
    return {"seconds": seconds, "stdout": out}


def _peak_rss_children_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _day_of_changes(org: Any, rng: random.Random, leads: int) -> None:
    org.tick(3600)
    for _ in range(max(leads // 100, 5)):
        org.create_lead()
    live = org.live("Lead")
    for lead in rng.sample(live, max(leads // 200, 3)):
        if lead["Status"] == "Open - Not Contacted":
            org.set_lead_status(lead["Id"], "Working - Contacted")
        elif lead["Status"] == "Working - Contacted":
            org.convert_lead(lead["Id"])
    opps = [o for o in org.live("Opportunity") if not o["IsClosed"]]
    for opp in rng.sample(opps, min(len(opps), max(leads // 400, 3))):
        org.move_opportunity(opp["Id"], rng.choice(("Negotiation/Review", "Closed Won")))
    for lead in rng.sample([x for x in org.live("Lead") if not x["IsConverted"]], 3):
        org.delete("Lead", lead["Id"])


def run_salesforce(leads: int = 100_000, seed: int = 11) -> dict[str, Any]:
    """Full and incremental sync of a generated org; numbers for the report."""
    import httpx

    from fakes.salesforce import FakeSalesforce, serve
    from fakes.salesforce_org import Org

    started = time.perf_counter()
    org = Org(leads=leads, seed=seed)
    generated = time.perf_counter() - started
    counts = {name: len(org.records[name]) for name in org.records}
    results: dict[str, Any] = {"leads": leads, "records": counts, "generate_seconds": generated}
    with serve(FakeSalesforce(org)) as fake, tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        project.mkdir()
        (project / "kpitree.yaml").write_text(
            "timezone: Asia/Tokyo\nsources:\n  sfdc:\n    type: salesforce\n"
            f"    instance_url: {fake.base_url}\n"
            "    auth: {flow: client_credentials, client_id_env: SF_ID,\n"
            "           client_secret_env: SF_SECRET}\n",
            encoding="utf-8",
        )
        env = {**os.environ, "SF_ID": fake.client_id, "SF_SECRET": fake.client_secret}
        sync = [sys.executable, "-m", "kpitree", "sync", str(project), "--json"]
        for phase in ("full", "incremental"):
            if phase == "incremental":
                with fake.changing() as changing:
                    _day_of_changes(changing, random.Random(seed), leads)
            first = len(fake.urls)
            run = _child(sync, env)
            if phase == "full":
                # The largest child so far is this sync (the replays come after).
                results["peak_rss_mb_full_sync"] = round(_peak_rss_children_mb())
            urls = fake.urls[first:]
            read = sum(
                o["read"] + o["deleted_in_source"]
                for s in json.loads(run["stdout"])["sources"]
                for o in s["objects"]
            )
            token = httpx.post(
                f"{fake.base_url}/services/oauth2/token",
                data={"grant_type": "client_credentials", "client_id": fake.client_id,
                      "client_secret": fake.client_secret},
            ).json()["access_token"]  # fmt: skip
            serve_run = _child(
                [sys.executable, "-c", REPLAY, fake.base_url, token], env, "\n".join(urls)
            )
            results[phase] = {
                "seconds": round(run["seconds"], 3),
                "records_read": read,
                "records_per_second": round(read / run["seconds"]),
                "requests": len(urls),
                "serve_seconds": round(serve_run["seconds"], 3),
                "ratio_to_serve": round(run["seconds"] / serve_run["seconds"], 2),
            }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=100_000)
    args = parser.parse_args()
    results = run_salesforce(args.leads)
    results["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count()}
    for phase in ("full", "incremental"):
        r = results[phase]
        print(
            f"{phase:12} {r['records_read']:>9,} records  {r['seconds']:8.2f} s  "
            f"{r['records_per_second']:>8,}/s  {r['requests']:>5} requests  "
            f"fake serves them in {r['serve_seconds']:.2f} s (x{r['ratio_to_serve']})"
        )
    print(f"peak RSS of the full sync: {results['peak_rss_mb_full_sync']} MB")
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"sync-salesforce-{stamp}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
