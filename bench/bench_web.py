"""Benchmark the dashboard: latency of every page and its JSON twin under 10
concurrent clients, against a real ``kpitree serve`` (uvicorn) process on the
demo company.

Usage::

    .venv/bin/python bench/bench_web.py                   # size bench: 1.5M leads
    .venv/bin/python bench/bench_web.py --size medium --requests 20
    .venv/bin/python bench/bench_web.py --size tiny --requests 3 --no-write   # smoke test
    .venv/bin/python bench/bench_web.py --clients 50 --duration 60 --imports-during

The demo project (``kpitree demo FOLDER --size SIZE --no-serve``: the demo
company's data in the project's warehouse, this fiscal year planned from the
last one) is built once per size, day and code version and cached under
``--cache-dir``. The ``bench`` size has 1.5M leads (issue 5 names 2M; the demo
generator's largest size is what is measured).

Steps:

1. start ``kpitree serve`` on the project (a real uvicorn process, port 0) and
   wait until it answers;
2. ``warm``: the first request of each URL, timed (it waits for the
   background warm-up when that has not computed it yet); then wait until the
   warm-up has ended (``/api/pages/cache``), so that load is measured in the
   steady state;
3. ``load``: ``--clients`` concurrent clients (threads with their own
   connection) each request every URL ``--requests`` times in their own
   shuffled order; every answer must be 200. With ``--duration S`` each
   client goes on (the same shuffled order, round after round) for ``S``
   seconds instead. With ``--imports-during``, another process runs
   ``kpitree import`` of small files (7 won deals, then 7 new leads, new ids
   each time) one after the other for the whole load, as users import while
   others read the pages: every import changes the data, so pages are
   computed again on the new data while the clients ask for them;
4. ``live``: six pages are open (Tree, Node, Node drill-down, Funnel,
   Departments, a department), each subscribed to ``/api/events`` and
   fetching its page again on ``data-changed``, as the browser does; then
   ``kpitree import`` of 7 deals won today (a Salesforce opportunity export)
   runs in another process, and after it one of 7 leads created today (a
   lead export: leads feed most of the tree). The time from the end of each
   import until each page shows the new data (goal: 2 s), and the Tree must
   count exactly the new rows. The server runs on a copy of the cached
   project, so the imports do not change the cache.

Prints, per URL and over all, p50 / p95 / p99 / max in milliseconds and the
first (cold or warming) answer, the imports run during the load (how many,
their times) and the load average, and writes JSON to ``bench/results/web-<timestamp>.json``.
Goals (issue 5): p95 under 300 ms for every page on a 2-core machine, and
open pages showing new data within 2 s. Exit status 1 when an answer was not
200; ``--check-goal`` also fails on a missed goal.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

RESULTS = Path(__file__).parent / "results"
SIZES = ("tiny", "small", "medium", "bench", "large")
GOAL_MS = 300.0
LIVE_GOAL_SECONDS = 2.0
# Every page and its JSON twin; the period, filter and drill-down variants a
# shared link carries most often.
PAGES = (
    ("tree", "/", "/api/tree"),
    ("tree (this FY)", "/?period=this-year", "/api/tree?period=this-year"),
    ("node", "/nodes/won_deals", "/api/nodes/won_deals"),
    ("node drill-down", "/nodes/won_deals?drill=field_sales",
     "/api/nodes/won_deals?drill=field_sales"),
    ("funnel", "/funnel", "/api/funnel"),
    ("departments", "/departments", "/api/departments"),
    ("department", "/departments/field_sales", "/api/departments/field_sales"),
    ("plan", "/plan", "/api/plan"),
    ("plan edited", "/plan?set=win_rate=0.3", "/api/plan?set=win_rate=0.3"),
    ("data", "/data", "/api/imports"),
    ("settings", "/settings", "/api/settings"),
    ("alerts", "/alerts", "/api/alerts"),
    ("sla", "/sla", "/api/sla"),
)  # fmt: skip


def urls() -> list[tuple[str, str]]:
    """(name, path) of every page and its ``/api`` twin."""
    out = []
    for name, page, api in PAGES:
        out.append((name, page))
        out.append((f"{name} (api)", api))
    return out


def code_hash() -> str:
    """Hash of the code that decides what the demo project holds."""
    import kpitree

    root = Path(kpitree.__file__).parent
    files = sorted((root / "data" / "demo").glob("*.py"))
    files += sorted((root / "data" / "migrations").glob("*.sql"))
    files += [root / "data" / "schema.py", root / "templates" / "the-model" / "kpitree.yaml"]
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.read_bytes())
    return digest.hexdigest()[:10]


def ensure_project(size: str, cache: Path, fresh: bool) -> Path:
    """The cached demo project for ``size`` (built today, by this code)."""
    day = datetime.now(UTC).date().isoformat()
    folder = cache / f"web-{size}-{day}-{code_hash()}"
    if fresh and folder.exists():
        shutil.rmtree(folder)
    if (folder / "ready.json").exists():
        print(f"reusing the demo project {folder} (--fresh rebuilds it)")
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=cache))
    print(f"building the {size} demo project in {folder} (cached for next time)")
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "kpitree", "demo", str(staging), "--size", size, "--no-serve"],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "KPITREE_LANG": "en"},
    )
    took = round(time.perf_counter() - started, 1)
    (staging / "ready.json").write_text(json.dumps({"size": size, "seconds": took}) + "\n")
    try:
        staging.rename(folder)
    except OSError:  # another run got there first
        shutil.rmtree(staging, ignore_errors=True)
    print(f"  built in {took} s")
    return folder


# What the live step imports: the mapping, the CSV header, the row of item
# ``i`` on day ``day``, the Tree node that counts them, and the open pages
# (name, JSON twin) whose numbers they change.
LIVE_IMPORTS: dict[str, tuple[str, str, str, str, tuple[tuple[str, str], ...]]] = {
    "deals": (
        "salesforce-opportunities",
        "Opportunity ID,Opportunity Name,Created Date,Close Date,Amount,Stage,Opportunity Owner",
        "BW-{i:04d},bench {i},{day},{day},1000000,Closed Won,rep-web",
        "won_deals",
        (
            ("tree", "/api/tree"),
            ("node", "/api/nodes/won_deals"),
            ("node drill-down", "/api/nodes/won_deals?drill=field_sales"),
            ("funnel", "/api/funnel"),
            ("departments", "/api/departments"),
            ("department", "/api/departments/field_sales"),
        ),
    ),
    "leads": (
        "salesforce-leads",
        "Lead ID,Create Date,Lead Source,Lead Status",
        "BWL-{i:04d},{day},web,Open - Not Contacted",
        "leads",
        (
            ("tree", "/api/tree"),
            ("node", "/api/nodes/leads"),
            ("node drill-down", "/api/nodes/leads?drill=marketing"),
            ("funnel", "/api/funnel"),
            ("departments", "/api/departments"),
            ("department", "/api/departments/marketing"),
        ),
    ),
}


def live_update(
    url: str, project: Path, workdir: Path, kind: str, count: int = 7
) -> dict[str, Any]:
    """Import ``count`` deals won today (or leads created today) in another
    process while six pages it changes are open, each as a browser has it:
    subscribed to ``/api/events`` and, on ``data-changed``, fetching its page
    again (its JSON twin, which is the same view model). Seconds from the end
    of the import until each shows the new data, and whether the Tree counts
    exactly the new rows."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    import httpx

    mapping, header, row, node, pages = LIVE_IMPORTS[kind]
    twins = dict(pages)
    with httpx.Client(base_url=url, timeout=600) as client:
        before = {name: client.get(api).text for name, api in twins.items()}
        counted_before = json.loads(before["tree"])["nodes"][node]["actual"] or 0
    day = dt.datetime.now(ZoneInfo("Asia/Tokyo")).date().strftime("%m/%d/%Y")
    lines = [header] + [row.format(i=i, day=day) for i in range(count)]
    csv = workdir / f"{kind}-today.csv"
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")

    listening = threading.Barrier(len(twins) + 1, timeout=120)
    seen: dict[str, float] = {}
    latest: dict[str, str] = {}
    ended = [0.0]

    def page(name: str, api: str) -> None:
        with (
            httpx.Client(base_url=url, timeout=600) as client,
            client.stream("GET", "/api/events") as events,
        ):
            lines = events.iter_lines()
            for line in lines:  # the hello event: subscribed
                if line.startswith("event: hello"):
                    break
            listening.wait()
            for line in lines:
                if not line.startswith("event: data-changed"):
                    continue
                text = client.get(api).text
                if text != before[name]:
                    # The server may announce the change before the import's
                    # process has exited: then the page was current at once.
                    seen[name] = time.perf_counter()
                    latest[name] = text
                    return

    threads = [threading.Thread(target=page, args=item, daemon=True) for item in twins.items()]
    for thread in threads:
        thread.start()
    listening.wait()
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "kpitree", "import", str(csv), "--mapping", mapping,
         "--project", str(project)],
        check=True, capture_output=True, text=True, env={**os.environ, "KPITREE_LANG": "en"},
    )  # fmt: skip
    ended[0] = time.perf_counter()
    for thread in threads:
        thread.join(max(0.0, ended[0] + 300 - time.perf_counter()))
    shown = {name: max(0.0, at - ended[0]) for name, at in seen.items()}
    missing = sorted(set(twins) - set(shown))
    if missing:
        raise SystemExit(f"these open pages never showed the new {kind}: {', '.join(missing)}")
    counted = json.loads(latest["tree"])["nodes"][node]["actual"]
    if counted != counted_before + count:
        raise SystemExit(f"the tree shows {counted} {node}, not {counted_before} + {count}")
    return {
        "kind": kind,
        "rows": count,
        "import_seconds": round(ended[0] - started, 2),
        "pages": {name: round(seconds, 2) for name, seconds in sorted(shown.items())},
        "update_seconds": round(max(shown.values()), 2),
    }


class Importer:
    """``kpitree import`` of small files, one process after the other, until
    stopped: 7 won deals, then 7 new leads (new ids every time), as users
    import while others read the pages. Each import's seconds are kept."""

    def __init__(self, project: Path, workdir: Path, rows: int = 7) -> None:
        self.project = project
        self.workdir = workdir
        self.rows = rows
        self.seconds: dict[str, list[float]] = {kind: [] for kind in LIVE_IMPORTS}
        self.failures: list[str] = []
        self.cpu_seconds = 0.0  # of the finished imports
        self._running = 0  # the pid of the import running now
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-importer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import datetime as dt
        from zoneinfo import ZoneInfo

        day = dt.datetime.now(ZoneInfo("Asia/Tokyo")).date().strftime("%m/%d/%Y")
        for round_ in itertools.count(1):
            for kind, (mapping, header, row, _, _) in LIVE_IMPORTS.items():
                if self._stop.is_set():
                    return
                # Ids far from the live step's (0..6), new every round.
                first = 100_000 * round_
                lines = [header] + [row.format(i=first + i, day=day) for i in range(self.rows)]
                csv = self.workdir / f"during-{kind}.csv"
                csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
                started = time.perf_counter()
                with tempfile.TemporaryFile() as output:
                    process = subprocess.Popen(
                        [sys.executable, "-m", "kpitree", "import", str(csv), "--mapping",
                         mapping, "--project", str(self.project)],
                        stdout=output, stderr=subprocess.STDOUT,
                        env={**os.environ, "KPITREE_LANG": "en"},
                    )  # fmt: skip
                    self._running = process.pid
                    # wait4: the import's own CPU time (user + system), exactly.
                    _, status, usage = os.wait4(process.pid, 0)
                    self._running = 0
                    process.returncode = os.waitstatus_to_exitcode(status)
                    self.cpu_seconds += usage.ru_utime + usage.ru_stime
                    if process.returncode != 0:
                        output.seek(0)
                        self.failures.append(f"{kind}: {output.read()[-600:].decode()}")
                        continue
                self.seconds[kind].append(time.perf_counter() - started)

    def cpu_now(self) -> float:
        """CPU seconds of the finished imports and of the running one so far."""
        from web_floor import process_cpu

        running = self._running
        try:
            return self.cpu_seconds + (process_cpu(running) if running else 0.0)
        except (OSError, ValueError):  # it ended meanwhile (and was counted)
            return self.cpu_seconds

    def summary(self) -> dict[str, Any]:
        every = [v for values in self.seconds.values() for v in values]
        out: dict[str, Any] = {
            "imports": len(every),
            "failures": self.failures[:5],
            "cpu_seconds": round(self.cpu_seconds, 1),
        }
        for kind, values in self.seconds.items():
            if values:
                out[kind] = {
                    "imports": len(values),
                    "p50_seconds": round(statistics.median(values), 2),
                    "max_seconds": round(max(values), 2),
                }
        return out


class Server:
    """``kpitree serve`` in its own process."""

    def __init__(self, project: Path, command: list[str] | None = None) -> None:
        command = command or [
            sys.executable, "-m", "kpitree", "serve", str(project), "--port", "0", "--no-open"
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "KPITREE_LANG": "en", "PYTHONUNBUFFERED": "1"},
        )
        self.started = time.perf_counter()
        self.output: list[str] = []
        found = threading.Event()
        self.url = ""

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line)
                match = re.search(r"http://127\.0\.0\.1:\d+", line)
                if match and not self.url:
                    self.url = match.group(0)
                    found.set()
            found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(120) or not self.url:
            self.stop()
            raise SystemExit("kpitree serve did not start:\n" + "".join(self.output))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by linear interpolation."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def warm(url: str, targets: list[tuple[str, str]]) -> dict[str, float]:
    """First answer of every URL (ms), one after the other."""
    import httpx

    first: dict[str, float] = {}
    with httpx.Client(base_url=url, timeout=600) as client:
        deadline = time.monotonic() + 120
        while True:
            try:
                client.get("/api/session")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        for name, path in targets:
            started = time.perf_counter()
            response = client.get(path, headers={"accept-language": "ja"})
            first[name] = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise SystemExit(f"{path}: {response.status_code} {response.text[:500]}")
    return first


def wait_warm(url: str, timeout: float = 900) -> float | None:
    """Wait until the server's background warm-up has finished (load is
    measured in the steady state, not while the warmer computes)."""
    import httpx

    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=url, timeout=60) as client:
        while time.monotonic() < deadline:
            state = client.get("/api/pages/cache").json()
            if not state["warming"] and state["warm_rounds"] >= 1:
                return state["last_warm_seconds"]  # type: ignore[no-any-return]
            time.sleep(0.2)
    raise SystemExit("the server's warm-up did not end")


def load(
    url: str,
    targets: list[tuple[str, str]],
    clients: int,
    requests: int,
    seed: int,
    duration: float | None = None,
    max_stale: bool = False,
) -> tuple[dict[str, list[float]], list[str], float, dict[str, int]]:
    """Every client requests every URL ``requests`` times (or, with
    ``duration``, round after round for that many seconds); latencies (ms)
    per URL, and per URL how many answers showed the previous data version
    (marked ``X-Kpitree-Data-Updating``). ``max_stale``: the JSON twins ask
    ``Cache-Control: max-stale`` (the previous data at once while new data's
    pages compute) instead of waiting for the new figures."""
    import httpx

    latencies: dict[str, list[float]] = {name: [] for name, _ in targets}
    previous: dict[str, int] = dict.fromkeys(latencies, 0)
    twin_headers = {"accept-language": "ja"}
    if max_stale:
        twin_headers["cache-control"] = "max-stale"
    failures: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def client_run(index: int) -> None:
        order = [t for t in targets for _ in range(requests)]
        random.Random(seed + index).shuffle(order)
        with httpx.Client(base_url=url, timeout=600) as client:
            client.get("/api/session")
            barrier.wait()
            # With a duration: the same shuffled order, round after round, until then.
            until = None if duration is None else time.perf_counter() + duration
            steps = order if until is None else itertools.cycle(order)
            for name, path in steps:
                if until is not None and time.perf_counter() >= until:
                    break
                started = time.perf_counter()
                headers = twin_headers if path.startswith("/api/") else {"accept-language": "ja"}
                response = client.get(path, headers=headers)
                took = (time.perf_counter() - started) * 1000
                with lock:
                    latencies[name].append(took)
                    if "x-kpitree-data-updating" in response.headers:
                        previous[name] += 1
                    if response.status_code != 200:
                        failures.append(f"{path}: {response.status_code} {response.text[:200]}")

    threads = [threading.Thread(target=client_run, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, failures, time.perf_counter() - started, previous


def record_bodies(
    url: str, targets: list[tuple[str, str]], max_stale: bool
) -> dict[str, tuple[int, str, bytes]]:
    """What kpitree answers for every URL (and ``/api/session``), asked as the
    load's clients ask: status, content type and body, for the floor server."""
    import httpx

    bodies: dict[str, tuple[int, str, bytes]] = {}
    with httpx.Client(base_url=url, timeout=600) as client:
        for path in ["/api/session", *(path for _, path in targets)]:
            headers = {"accept-language": "ja"}
            if max_stale and path.startswith("/api/"):
                headers["cache-control"] = "max-stale"
            response = client.get(path, headers=headers)
            media = response.headers.get("content-type", "application/octet-stream")
            bodies[path] = (response.status_code, media, response.content)
    return bodies


def measured_load(
    server: Server,
    project: Path,
    workdir: Path,
    targets: list[tuple[str, str]],
    args: argparse.Namespace,
    profile: Path | None = None,
) -> dict[str, Any]:
    """The load on ``server`` (with imports during it when asked, and py-spy
    on the server when ``profile``): latencies, failures, wall seconds,
    previous-data answers, the imports, load averages and CPU per process."""
    from web_floor import CpuMeter

    importer = Importer(project, workdir) if args.imports_during else None
    spy = None
    if profile is not None:
        form = "raw" if profile.suffix == ".txt" else "speedscope"
        spy = subprocess.Popen(
            [str(Path(sys.executable).parent / "py-spy"), "record", "--pid",
             str(server.process.pid), "--format", form,
             "--output", str(profile), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    meter = CpuMeter(server.process.pid)
    load_before = [round(v, 2) for v in os.getloadavg()]
    meter.start()
    if importer is not None:
        importer.start()
    try:
        latencies, failures, wall, previous = load(
            server.url,
            targets,
            args.clients,
            args.requests,
            args.seed,
            args.duration,
            args.max_stale,
        )
        cpu = meter.stop(importer.cpu_now() if importer is not None else 0.0)
    finally:
        if importer is not None:
            importer.stop()
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=120)
    return {
        "latencies": latencies,
        "failures": failures,
        "wall": wall,
        "previous": previous,
        "during": importer.summary() if importer is not None else None,
        "load_before": load_before,
        "load_after": [round(v, 2) for v in os.getloadavg()],
        "cpu": cpu,
    }


def floor_load(
    bodies: dict[str, tuple[int, str, bytes]],
    project: Path,
    workdir: Path,
    targets: list[tuple[str, str]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """The same load (clients, URLs, imports) on the floor server: kpitree's
    recorded answers served from a dict on the same stack (``web_floor.py``)."""
    from web_floor import save_bodies

    recorded = workdir / "floor-bodies.json"
    save_bodies(recorded, bodies)
    script = Path(__file__).parent / "web_floor.py"
    floor = Server(project, [sys.executable, str(script), str(recorded)])
    try:
        print(f"floor server at {floor.url} (pid {floor.process.pid})")
        warm(floor.url, targets)
        run = measured_load(floor, project, workdir, targets, args)
    finally:
        floor.stop()
    return {
        "overall": summarize(targets, run["latencies"], run["wall"], run["previous"]),
        "pages": page_rows(targets, run["latencies"], None),
        "wall_seconds": round(run["wall"], 2),
        "imports_during": run["during"],
        "load_average": {"before": run["load_before"], "after": run["load_after"]},
        "cpu": run["cpu"],
        "failures": run["failures"],
    }


def page_rows(
    targets: list[tuple[str, str]],
    latencies: dict[str, list[float]],
    first: dict[str, float] | None,
) -> list[dict[str, Any]]:
    rows = []
    for name, path in targets:
        values = latencies[name]
        rows.append(
            {
                "name": name,
                "path": path,
                "requests": len(values),
                "first_ms": round(first[name], 1) if first else None,
                "p50_ms": round(statistics.median(values), 1),
                "p95_ms": round(percentile(values, 0.95), 1),
                "p99_ms": round(percentile(values, 0.99), 1),
                "max_ms": round(max(values), 1),
                "goal_met": percentile(values, 0.95) < GOAL_MS,
            }
        )
    return rows


def summarize(
    targets: list[tuple[str, str]],
    latencies: dict[str, list[float]],
    wall: float,
    previous: dict[str, int],
) -> dict[str, Any]:
    """Over all URLs, and over the HTML pages and the JSON twins apart."""
    every = [v for values in latencies.values() for v in values]
    overall: dict[str, Any] = {
        "requests": len(every),
        "per_second": round(len(every) / wall, 1),
        "p50_ms": round(statistics.median(every), 1),
        "p95_ms": round(percentile(every, 0.95), 1),
        "p99_ms": round(percentile(every, 0.99), 1),
        "max_ms": round(max(every), 1),
        "previous_data_answers": sum(previous.values()),
    }
    # The HTML pages apart from their JSON twins (which wait for new data's
    # figures unless --max-stale).
    for part, is_twin in (("html_pages", False), ("json_twins", True)):
        chosen = [v for (name, path) in targets if path.startswith("/api/") == is_twin
                  for v in latencies[name]]  # fmt: skip
        if chosen:
            overall[part] = {
                "requests": len(chosen),
                "p50_ms": round(statistics.median(chosen), 1),
                "p95_ms": round(percentile(chosen, 0.95), 1),
                "p99_ms": round(percentile(chosen, 0.99), 1),
                "max_ms": round(max(chosen), 1),
            }
    return overall


def print_parts(overall: dict[str, Any]) -> None:
    for part, label in (("html_pages", "HTML pages"), ("json_twins", "JSON twins")):
        if part in overall:
            o = overall[part]
            print(
                f"{label}: {o['requests']} requests, p50 {o['p50_ms']:.1f} ms, "
                f"p95 {o['p95_ms']:.1f} ms, p99 {o['p99_ms']:.1f} ms, max {o['max_ms']:.1f} ms"
            )


def print_imports(during: dict[str, Any]) -> None:
    kinds = "; ".join(
        f"{kind}: {during[kind]['imports']} imports, p50 {during[kind]['p50_seconds']:.2f} s, "
        f"max {during[kind]['max_seconds']:.2f} s"
        for kind in LIVE_IMPORTS
        if kind in during
    )
    print(f"imports during the load: {during['imports']} ({kinds})")
    if during["failures"]:
        print(f"{len(during['failures'])} imports failed, e.g. {during['failures'][0]}")


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], capture_output=True, text=True, cwd=RESULTS.parent)
        return out.stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=SIZES, default="bench")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--requests", type=int, default=20, help="per client and URL")
    parser.add_argument(
        "--duration",
        type=float,
        help="seconds of load (each client goes round its URLs until then) instead of "
        "--requests rounds",
    )
    parser.add_argument(
        "--imports-during",
        action="store_true",
        help="run kpitree import of small files, one after the other, for the whole load",
    )
    parser.add_argument(
        "--no-live", action="store_true", help="skip the live step (imports with open pages)"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="record the server with py-spy during the load into this file (speedscope "
        "JSON, or collapsed stacks for a .txt; py-spy must be installed in the environment)",
    )
    parser.add_argument(
        "--max-stale",
        action="store_true",
        help="the JSON twins ask Cache-Control: max-stale (the HTML pages always take "
        "the previous data, marked, while new data's pages compute)",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="after kpitree's load, the same load (clients, URLs, imports) on a minimal server "
        "of the same stack answering kpitree's recorded bodies from a dict (bench/web_floor.py)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "kpitree-bench",
        help="where demo projects are kept between runs (default: %(default)s)",
    )
    parser.add_argument("--fresh", action="store_true", help="rebuild the demo project")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/results")
    parser.add_argument(
        "--check-goal",
        action="store_true",
        help="exit 1 when a p95 is over 300 ms or live updates take over 2 s",
    )
    args = parser.parse_args()

    cached = ensure_project(args.size, args.cache_dir, args.fresh)
    workdir = Path(tempfile.mkdtemp(prefix="kpitree-bench-web-"))
    project = workdir / "project"
    shutil.copytree(cached, project)
    targets = urls()
    server = Server(project)
    floor: dict[str, Any] | None = None
    try:
        print(f"kpitree serve at {server.url} (pid {server.process.pid})")
        first = warm(server.url, targets)
        ready = time.perf_counter() - server.started
        print(f"every URL answered once {ready:.1f} s after the server started")
        warmed = wait_warm(server.url)
        print(f"the background warm-up ended {time.perf_counter() - server.started:.1f} s after "
              f"the server started (it took {warmed} s)")  # fmt: skip
        bodies = record_bodies(server.url, targets, args.max_stale) if args.floor else None
        run = measured_load(server, project, workdir, targets, args, args.profile)
        live = (
            []
            if args.no_live
            else [live_update(server.url, project, workdir, kind) for kind in LIVE_IMPORTS]
        )
        if bodies is not None:
            server.stop()
            floor = floor_load(bodies, project, workdir, targets, args)
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    from web_floor import describe

    latencies, failures, wall = run["latencies"], run["failures"], run["wall"]
    previous = run["previous"]
    during = run["during"]
    load_before, load_after = run["load_before"], run["load_after"]
    rows = page_rows(targets, latencies, first)
    width = max(len(r["name"]) for r in rows)
    print(f"\n{'page':<{width}}  requests   first ms   p50 ms   p95 ms   p99 ms   max ms  goal")
    for r in rows:
        print(
            f"{r['name']:<{width}}  {r['requests']:>8}  {r['first_ms']:>9.1f}  "
            f"{r['p50_ms']:>7.1f}  {r['p95_ms']:>7.1f}  {r['p99_ms']:>7.1f}  "
            f"{r['max_ms']:>7.1f}  {'ok' if r['goal_met'] else 'MISSED'}"
        )
    overall = summarize(targets, latencies, wall, previous)
    print(
        f"\n{overall['requests']} requests from {args.clients} clients in {wall:.1f} s "
        f"({overall['per_second']:.0f}/s); all: p50 {overall['p50_ms']:.1f} ms, "
        f"p95 {overall['p95_ms']:.1f} ms, p99 {overall['p99_ms']:.1f} ms, "
        f"max {overall['max_ms']:.1f} ms; goal p95 < {GOAL_MS:.0f} ms: "
        f"{'met for every page' if all(r['goal_met'] for r in rows) else 'MISSED'}"
    )
    print_parts(overall)
    print(
        f"{overall['previous_data_answers']} answers showed the previous data version, "
        "marked as updating, while new data's pages computed"
    )
    print(f"load average (1, 5, 15 min) before the load {load_before}; after it {load_after}")
    print(describe(run["cpu"]))
    if during is not None:
        print_imports(during)
    for step in live:
        slowest = max(step["pages"], key=step["pages"].get)
        print(
            f"live: kpitree import of {step['rows']} {step['kind']} took "
            f"{step['import_seconds']:.1f} s; the {len(step['pages'])} open pages showed them "
            f"{min(step['pages'].values()):.2f}-{step['update_seconds']:.2f} s after it ended "
            f"(slowest: {slowest}; goal: {LIVE_GOAL_SECONDS:.0f} s)"
        )
    if floor is not None:
        f = floor["overall"]
        print(
            f"\nFLOOR (the same bodies from a dict, same stack, no kpitree code; same clients, "
            f"same imports): {f['requests']} requests in {floor['wall_seconds']:.1f} s "
            f"({f['per_second']:.0f}/s); p50 {f['p50_ms']:.1f} ms, p95 {f['p95_ms']:.1f} ms, "
            f"p99 {f['p99_ms']:.1f} ms, max {f['max_ms']:.1f} ms (kpitree: p95 "
            f"{overall['p95_ms']:.1f} ms at {overall['per_second']:.0f}/s)"
        )
        print_parts(f)
        print(f"load average before the floor's load {floor['load_average']['before']}; "
              f"after it {floor['load_average']['after']}")  # fmt: skip
        print(describe(floor["cpu"]))
        if floor["imports_during"] is not None:
            print_imports(floor["imports_during"])
        failures += floor["failures"]
    if failures:
        print(f"{len(failures)} answers were not 200, e.g. {failures[0]}")
    result = {
        "benchmark": "web",
        "size": args.size,
        "clients": args.clients,
        "requests_per_client_and_url": None if args.duration else args.requests,
        "duration_seconds": args.duration,
        "twins_max_stale": args.max_stale,
        "overall": overall,
        "imports_during": during,
        "load_average": {"before": list(load_before), "after": list(load_after)},
        "cpu": run["cpu"],
        "floor": floor,
        "ready_seconds": round(ready, 2),
        "wall_seconds": round(wall, 2),
        "goal_p95_ms": GOAL_MS,
        "pages": rows,
        "live": live,
        "live_goal_seconds": LIVE_GOAL_SECONDS,
        "failures": failures[:20],
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "git": git_state(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        out = RESULTS / f"web-{args.size}-{stamp}.json"
        out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {out}")
    live_met = all(step["update_seconds"] <= LIVE_GOAL_SECONDS for step in live)
    goals_met = live_met and all(r["goal_met"] for r in rows)
    if failures or (during and during["failures"]) or (args.check_goal and not goals_met):
        sys.exit(1)


if __name__ == "__main__":
    main()
