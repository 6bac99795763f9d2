"""The floor of ``bench_web.py --floor``: the least any server on kpitree's
stack can do per request, and where the machine's CPU goes during a load.

``python bench/web_floor.py BODIES.json`` serves the bodies kpitree answered
(recorded by ``bench_web.py``: path with query -> status, content type and
bytes) from a dict, with the same stack as ``kpitree serve``: FastAPI on
uvicorn, the socket bound by :func:`kpitree.web.server.bind` (TCP_NODELAY),
the same uvicorn options; one ``async def`` route, no middleware, no
dependency, no thread pool. It prints its URL and serves until SIGINT.

:class:`CpuMeter` reads per-process CPU time from ``/proc`` (the bench's own
clients, the server) and the whole machine's busy time from ``/proc/stat``,
so that the load's CPU can be split into the server, the clients, the
imports (timed by ``os.wait4`` in the bench) and everyone else's jobs.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int | str = "self") -> float:
    """CPU seconds (user + system, all threads) the process has used so far."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    # Fields 14 and 15 of proc(5) (utime, stime), counted after "pid (comm) ".
    return (int(fields[11]) + int(fields[12])) / TICKS


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, over all cores."""
    first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in first[:8]]  # user nice system idle iowait irq softirq steal
    idle = values[3] + values[4]
    return (sum(values) - idle) / TICKS, sum(values) / TICKS


class CpuMeter:
    """CPU seconds used between :meth:`start` and :meth:`stop` by the bench
    process (its client threads), the server process and the machine."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self._start: tuple[float, float, float, float, float] | None = None
        self.result: dict[str, float] = {}

    def _read(self) -> tuple[float, float, float, float, float]:
        busy, total = machine_busy()
        return (time.perf_counter(), process_cpu(), process_cpu(self.server_pid), busy, total)

    def start(self) -> None:
        self._start = self._read()

    def stop(self, imports_cpu: float = 0.0) -> dict[str, float]:
        """Seconds of CPU per part and, ``*_cores``, the cores each kept busy
        on average; ``others``: the machine's busy time nobody here used."""
        assert self._start is not None
        end = self._read()
        wall = end[0] - self._start[0]
        clients = end[1] - self._start[1]
        server = end[2] - self._start[2]
        busy = end[3] - self._start[3]
        cores = (end[4] - self._start[4]) / wall if wall else 0.0
        others = max(0.0, busy - clients - server - imports_cpu)
        parts = {"server": server, "clients": clients, "imports": imports_cpu, "others": others}
        out: dict[str, float] = {"wall_seconds": round(wall, 2), "machine_cores": round(cores, 1)}
        for name, seconds in parts.items():
            out[f"{name}_cpu_seconds"] = round(seconds, 1)
            out[f"{name}_cores"] = round(seconds / wall, 2) if wall else 0.0
        out["machine_busy_cores"] = round(busy / wall, 2) if wall else 0.0
        self.result = out
        return out


def describe(cpu: dict[str, float]) -> str:
    """One line: the cores each part kept busy during the load."""
    return (
        f"CPU during the load ({cpu['wall_seconds']:.0f} s, cores busy on average): "
        f"server {cpu['server_cores']:.2f}, the bench's clients {cpu['clients_cores']:.2f}, "
        f"imports {cpu['imports_cores']:.2f}, other jobs {cpu['others_cores']:.2f}; "
        f"machine {cpu['machine_busy_cores']:.2f} of {cpu['machine_cores']:.0f}"
    )


def app(bodies: dict[str, tuple[int, str, bytes]]) -> Any:
    """A FastAPI app answering each recorded path (with its query) with its bytes."""
    floor = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @floor.get("/{path:path}")
    async def recorded(request: Request, path: str) -> Response:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        status, media_type, body = bodies.get(target, (404, "text/plain", b"not recorded"))
        return Response(body, status_code=status, media_type=media_type)

    return floor


def save_bodies(path: Path, bodies: dict[str, tuple[int, str, bytes]]) -> None:
    data = {
        target: [status, media, base64.b64encode(body).decode("ascii")]
        for target, (status, media, body) in bodies.items()
    }
    path.write_text(json.dumps(data), encoding="utf-8")


def load_bodies(path: Path) -> dict[str, tuple[int, str, bytes]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {t: (int(s), str(m), base64.b64decode(b)) for t, (s, m, b) in data.items()}


def serve(bodies_file: Path) -> None:
    """Serve the recorded bodies as ``kpitree serve`` serves its pages."""
    import uvicorn

    from kpitree.web.server import bind, url_of

    sock = bind("127.0.0.1", 0)
    config = uvicorn.Config(
        app(load_bodies(bodies_file)),
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=2,
        proxy_headers=False,
        server_header=False,
    )
    print(f"floor server at {url_of(sock)}", flush=True)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
