"""Previewing an upload in a child process, within a time and a memory budget.

Reading and mapping a file is the same work as ``kpitree import`` and runs under
the same limits (``docs/data.md``), but a file can still take long or need much
memory before a limit is met. So the server never parses an upload itself: a
child process does (forked from a small server process that has the readers
imported, so it starts in milliseconds), and the server only waits for its
answer. A child that runs out of its time (``KPITREE_PREVIEW_SECONDS``, default
60) or memory (``KPITREE_PREVIEW_MEMORY_MB``, resident size, default 2048) is
killed, and the preview is refused with KT391 or KT392. Other requests are
answered all along.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

from kpitree.errors import DataError, Diagnostic, Severity, UserError

__all__ = ["budget", "run_preview"]

PREVIEW_ROWS = 25
"""Rows of each table (and rejected cells) on one page of the preview."""
GROUP_ROWS = 1000
"""Rows per Parquet row group of a kept preview: a page reads one or two groups."""
_POLL_SECONDS = 0.05
_context: Any = None


def budget() -> tuple[float, int]:
    """The time (seconds) and memory (MiB) a preview may use."""
    seconds = float(os.environ.get("KPITREE_PREVIEW_SECONDS", "60"))
    memory = int(os.environ.get("KPITREE_PREVIEW_MEMORY_MB", "2048"))
    return seconds, memory


def _ctx() -> Any:
    global _context
    if _context is None:
        # Not fork: the server has threads (and DuckDB's) that a fork would copy
        # in whatever state they are.
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(["kpitree.data.readers", "kpitree.data.transform"])
    return _context


def _cell(value: Any) -> Any:
    import datetime as dt

    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, float | int | str | bool) or value is None:
        return value
    return str(value)


def _work(
    conn: Any,
    path: str,
    mapping: str,
    sheet: str | None,
    tz: str,
    lang: str | None,
    draft_path: str | None = None,
    store: str | None = None,
) -> None:
    """In the child: read and map, and send back what the page shows (the first
    page of each table). With ``draft_path``, ``mapping`` is ignored: the
    best-fitting preset is used, or a drafted mapping written there
    (``kpitree.data.drafting.choose_mapping``). With ``store``, every mapped
    row and rejected cell is kept there for the later pages
    (:mod:`kpitree.web.preview_pages`)."""
    try:
        from kpitree.data.mapping import load_mapping
        from kpitree.data.readers import read_and_map
        from kpitree.i18n import set_lang

        set_lang(lang)
        chosen: dict[str, Any] | None = None
        if draft_path is not None:
            from kpitree.data.drafting import choose_mapping

            mapping, chosen = choose_mapping(Path(path), sheet, tz, Path(draft_path))
        batch = read_and_map(Path(path), load_mapping(mapping), sheet=sheet, tz=tz)
        tables = []
        if store is not None:
            _keep(Path(store), batch)
        for name, table in batch.tables.items():
            head = table.slice(0, PREVIEW_ROWS).to_pylist()
            tables.append(
                {
                    "table": name,
                    "rows": table.num_rows,
                    "columns": list(table.column_names),
                    "preview": [[_cell(row[c]) for c in table.column_names] for row in head],
                }
            )
        errors = _errors(batch, lang)
        warnings = [{"code": w.code, "message": w.message(lang)} for w in batch.warnings]
        rejected_rows = len({r.row for r in batch.rejects})
        conn.send(
            (
                "ok",
                {
                    "rows_read": batch.rows_read,
                    "valid_rows": batch.rows_read - rejected_rows,
                    "rejected_rows": rejected_rows,
                    "tables": tables,
                    "errors": errors,
                    "warnings": warnings,
                    "detected": chosen,
                },
            )
        )
    except UserError as exc:
        conn.send(("user", list(exc.diagnostics)))
    except BaseException as exc:  # reported by the server as an internal error
        conn.send(("internal", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _errors(batch: Any, lang: str | None) -> list[dict[str, Any]]:
    return [
        {"row": r.row, "column": r.column, "value": _cell(r.value), "message": r.text(lang)}
        for r in batch.rejects
    ]


def _keep(store: Path, batch: Any) -> None:
    """Write every mapped table (Parquet) and rejected cell (JSON) to ``store``,
    replacing an earlier preview of the same upload."""
    import json
    import shutil

    import pyarrow.parquet as pq

    shutil.rmtree(store, ignore_errors=True)
    store.mkdir(parents=True)
    for name, table in batch.tables.items():
        pq.write_table(table, store / f"{name}.parquet", row_group_size=GROUP_ROWS)
    # Later pages may be asked for in either language.
    errors = [
        {**ja, "messages": {"ja": ja["message"], "en": en["message"]}}
        for ja, en in zip(_errors(batch, "ja"), _errors(batch, "en"), strict=True)
    ]
    text = json.dumps(errors, ensure_ascii=False, default=str)
    (store / "errors.json").write_text(text, encoding="utf-8")


def _rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MiB (0 where /proc is missing)."""
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_preview(
    path: Path,
    mapping: str,
    sheet: str | None,
    tz: str,
    lang: str | None,
    shown: str,
    draft_path: Path | None = None,
    store: Path | None = None,
) -> dict[str, Any]:
    """The preview of one upload (see :func:`_work`), computed in a child
    process within :func:`budget`; the child's DataError is raised here."""
    seconds, memory = budget()
    ctx = _ctx()
    receive, send = ctx.Pipe(duplex=False)
    draft = str(draft_path) if draft_path is not None else None
    kept = str(store) if store is not None else None
    child = ctx.Process(
        target=_work, args=(send, str(path), mapping, sheet, tz, lang, draft, kept), daemon=True
    )
    child.start()
    send.close()
    deadline = time.monotonic() + seconds
    try:
        while True:
            # Whether the child lives is asked before the pipe: a child that
            # answered and ended in between has its answer waiting there.
            alive = child.is_alive()
            if receive.poll(_POLL_SECONDS if alive else 0):
                try:
                    kind, payload = receive.recv()
                except EOFError:  # died without a word: killed by the system
                    raise _over("KT392", "web.data.preview_memory", shown, memory=memory) from None
                break
            if not alive:
                raise _over("KT392", "web.data.preview_memory", shown, memory=memory)
            if _rss_mb(child.pid) > memory:
                raise _over("KT392", "web.data.preview_memory", shown, memory=memory)
            if time.monotonic() > deadline:
                raise _over("KT391", "web.data.preview_time", shown, seconds=int(seconds))
    finally:
        if child.is_alive():
            child.kill()
        child.join(5)
        receive.close()
    if kind == "ok":
        return dict(payload)
    if kind == "user":
        raise DataError(payload)
    raise DataError(
        Diagnostic(Severity.ERROR, "KT600", "web.error.internal", {"error": str(payload)[-2000:]})
    )


def _over(code: str, key: str, shown: str, **params: Any) -> UserError:
    return DataError.of(code, key, None, file=shown, **params)
