"""Live updates against a real server: a ``kpitree import`` in another process
while the server runs is not locked out, server reads keep answering, and the
open event streams hear ``data-changed`` within 2 seconds."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from kpitree.project import Project
from kpitree.web.live import Broadcaster, data_version

from .conftest import run_kpitree


def won_deals_csv(path: Path, count: int, *, prefix: str = "WEB", amount: int = 1_000_000) -> Path:
    """A Salesforce opportunity export of ``count`` deals won today (Asia/Tokyo)."""
    from zoneinfo import ZoneInfo

    day = dt.datetime.now(ZoneInfo("Asia/Tokyo")).date().strftime("%m/%d/%Y")
    lines = [
        "Opportunity ID,Opportunity Name,Created Date,Close Date,Amount,Stage,Opportunity Owner"
    ]
    lines += [
        f"{prefix}-{i:06d},商談{i},{day},{day},{amount},Closed Won,rep-web" for i in range(count)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class EventListener:
    """Reads ``/api/events`` in a thread and records (time, event, data)."""

    def __init__(self, url: str) -> None:
        self.events: list[tuple[float, str, dict[str, Any]]] = []
        self._thread = threading.Thread(target=self._run, args=(url,), daemon=True)
        self._thread.start()

    def _run(self, url: str) -> None:
        # The stream ends when the server stops at the end of the test.
        with (
            contextlib.suppress(httpx.HTTPError),
            httpx.stream("GET", url + "/api/events", timeout=None) as response,
        ):
            event = "message"
            for line in response.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    self.events.append((time.monotonic(), event, json.loads(line[5:])))

    def wait(self, test: Callable[[str, dict[str, Any]], bool], timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, event, data in list(self.events):
                if test(event, data):
                    return at
            time.sleep(0.02)
        return None


def test_data_version_changes_on_writes_only(demo_copy: Path, tmp_path: Path) -> None:
    project = Project.load(demo_copy)
    before = data_version(project)
    project.status(explain=False)  # reading does not change it
    assert data_version(project) == before
    csv = won_deals_csv(tmp_path / "deals.csv", 3)
    run_kpitree("import", csv, "--mapping", "salesforce-opportunities", "--project", demo_copy)
    assert data_version(project) != before


def test_broadcaster_keeps_the_newest_version_for_slow_clients() -> None:
    hub = Broadcaster()
    queue = hub.subscribe()
    for n in range(40):
        hub.publish(f"v{n}")
    hub.publish("v39")  # unchanged: not sent again
    seen = [queue.get_nowait() for _ in range(queue.qsize())]
    assert seen[-1] == ("data-changed", "v39") and len(seen) <= 16
    hub.pages_ready()  # a page of the newest data is computed
    assert queue.get_nowait() == ("pages-ready", "v39")
    hub.unsubscribe(queue)
    assert hub.listeners == 0


@pytest.mark.slow
def test_cli_import_while_serving_is_not_locked_out_and_updates_live(
    demo_copy: Path, start_server: Callable[..., str], tmp_path: Path
) -> None:
    url = start_server(demo_copy)
    listener = EventListener(url)
    assert listener.wait(lambda event, _: event == "hello", 10) is not None

    # Server reads run the whole time; none may fail while the import writes.
    failures: list[str] = []
    answered = 0
    stop = threading.Event()

    def read() -> None:
        nonlocal answered
        with httpx.Client(base_url=url, timeout=60) as client:
            while not stop.is_set():
                response = client.get("/api/imports")
                answered += 1
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:300]}")

    readers = [threading.Thread(target=read, daemon=True) for _ in range(2)]
    for reader in readers:
        reader.start()
    csv = won_deals_csv(tmp_path / "deals.csv", 20_000)
    result = run_kpitree(
        "import", csv, "--mapping", "salesforce-opportunities", "--project", demo_copy, "--json"
    )
    finished = time.monotonic()
    stop.set()
    for reader in readers:
        reader.join(60)
    imported = json.loads(result.stdout)["imports"][0]
    assert imported["rows_read"] == 20_000 and imported["rejected"] == 0
    assert failures == [] and answered > 0

    final = data_version(Project.load(demo_copy))
    heard = listener.wait(
        lambda event, data: event == "data-changed" and data["version"] == final, 5
    )
    assert heard is not None, listener.events
    assert heard - finished < 2.0
    print(f"data-changed {heard - finished:.2f} s after the import ended; {answered} reads")

    listed = httpx.get(url + "/api/imports").json()["imports"]
    assert [i["import_id"] for i in listed][:2] == [imported["import_id"], 1]


def test_data_version_holds_while_another_process_writes(demo_copy: Path) -> None:
    """During an import the file changes several times (its log, then the
    checkpoint); pages wait for the finished data instead of computing each."""
    project = Project.load(demo_copy)
    before = data_version(project)
    target = Path(project.warehouse_target)
    other = os.getppid()  # a live process that is not this one
    marker = target.with_name(f"{target.name}.writer-{other}")
    marker.write_text(f"{other}\n")
    try:
        later = time.time() + 5
        os.utime(target, (later, later))
        assert data_version(project) == before
    finally:
        marker.unlink()
    assert data_version(project) != before
