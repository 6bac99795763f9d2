"""Imports from the web: uploads, preview, import, history and undo.

Parsing and mapping use the data layer exactly as ``kpitree import`` does
(:func:`kpitree.data.readers.read_and_map` on an in-memory DuckDB). Writing
(import, undo) runs ``kpitree import`` / ``kpitree imports undo`` in a child
process: DuckDB lets a process open a file with one configuration only, and the
server keeps reading the warehouse read-only for every page while the write
happens, so the write must come from another process, just like an import from
a terminal. The import log is read through a read-only engine.

Uploads are kept in ``<project>/.kpitree/uploads/<id>/<file name>`` between
preview and import (a day at most).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpitree.errors import DataError, Diagnostic, Severity, UserError
from kpitree.web.errors import WebError

if TYPE_CHECKING:
    from kpitree.project import Project

__all__ = [
    "MAX_UPLOAD_BYTES",
    "Upload",
    "history",
    "mapping_choices",
    "preview",
    "received",
    "run_import",
    "save_upload",
    "undo",
]

UPLOADS = Path(".kpitree") / "uploads"
AUTO = "auto"
"""The mapping a preview is asked for when nobody chose one: the best-fitting
preset, else a draft (:mod:`kpitree.web.drafts`)."""
DRAFT = "draft"
"""The upload's own draft mapping, as drafted or as edited on the page."""
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
UPLOAD_TTL_SECONDS = 24 * 3600
SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm")
_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@dataclass(frozen=True)
class Upload:
    """A file received for import, kept until imported or expired."""

    upload_id: str
    path: Path

    @property
    def name(self) -> str:
        return self.path.name


def _safe_name(name: str) -> str:
    """The file's own name without folders or control characters (Japanese kept)."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip().lstrip(".")
    return base[:200] or "upload.csv"


def _uploads(project: Project) -> Path:
    return project.path / UPLOADS


def _sweep(folder: Path) -> None:
    """Remove uploads older than a day (previewed but never imported)."""
    if not folder.is_dir():
        return
    cutoff = time.time() - UPLOAD_TTL_SECONDS
    for entry in folder.iterdir():
        try:
            if entry.is_dir() and entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            continue


def _check_type(clean: str, suffixes: tuple[str, ...]) -> None:
    if not clean.lower().endswith(suffixes):
        raise WebError(
            400, "KT615", "web.data.bad_file_type", file=clean, types=", ".join(suffixes)
        )


def _copy_within_limit(source: Any, target: Path) -> None:
    """Copy ``source`` (``.read(n)``) to ``target``; KT614 (and nothing left
    behind but the empty folder) past :data:`MAX_UPLOAD_BYTES`."""
    written = 0
    with target.open("wb") as out:
        while chunk := source.read(1024 * 1024):
            written += len(chunk)
            if written > MAX_UPLOAD_BYTES:
                out.close()
                target.unlink(missing_ok=True)
                raise WebError(
                    413, "KT614", "web.error.too_large", limit=MAX_UPLOAD_BYTES // 1024 // 1024
                )
            out.write(chunk)


def save_upload(project: Project, name: str, source: Any) -> Upload:
    """Copy an uploaded file object (``.read(n)``) into the uploads folder;
    KT615 for a type that cannot be imported, KT614 when too large."""
    clean = _safe_name(name)
    _check_type(clean, SUFFIXES)
    folder = _uploads(project)
    _sweep(folder)
    upload_id = secrets.token_urlsafe(18)
    target = folder / upload_id / clean
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        _copy_within_limit(source, target)
    except WebError:
        shutil.rmtree(target.parent, ignore_errors=True)
        raise
    return Upload(upload_id, target)


@contextmanager
def received(name: str, source: Any, suffixes: tuple[str, ...]) -> Iterator[Path]:
    """An uploaded file read once (a review pack), in a temporary folder under
    its own clean name for as long as the ``with`` lasts, under the same rules
    as an import's upload: KT615 for another type, KT614 past the size limit."""
    import tempfile

    clean = _safe_name(name)
    _check_type(clean, suffixes)
    with tempfile.TemporaryDirectory(prefix="kpitree-upload-") as folder:
        target = Path(folder) / clean
        _copy_within_limit(source, target)
        yield target


def find_upload(project: Project, upload_id: str) -> Upload:
    """A saved upload by id; KT620 when unknown or expired."""
    folder = _uploads(project) / upload_id
    found = sorted(folder.iterdir()) if _ID.match(upload_id) and folder.is_dir() else []
    files = [f for f in found if f.is_file()]
    if not files:
        raise WebError(404, "KT620", "web.data.upload_gone")
    return Upload(upload_id, files[0])


def discard_upload(upload: Upload) -> None:
    shutil.rmtree(upload.path.parent, ignore_errors=True)


# -- mappings ---------------------------------------------------------------------------


def mapping_choices(project: Project) -> list[dict[str, str]]:
    """Mappings to choose from: the project's own (named by its data sources,
    or YAML files with ``mapping: 1`` in the project folder or ``mappings/``),
    then the built-in presets."""
    from kpitree.data.mapping import preset_names

    found: dict[str, dict[str, str]] = {}
    for _file, mapping, _sheet in project.tree.data_sources:
        if mapping not in preset_names():
            found[mapping] = {"id": mapping, "kind": "project"}
    for folder in (project.path, project.path / "mappings"):
        if not folder.is_dir():
            continue
        for file in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            if file.name == "kpitree.yaml":
                continue
            try:
                head = file.read_text(encoding="utf-8")[:4000]
            except (OSError, UnicodeDecodeError):
                continue
            if re.search(r"(?m)^mapping:\s*1\s*$", head):
                rel = file.relative_to(project.path).as_posix()
                found.setdefault(rel, {"id": rel, "kind": "project"})
    for name in preset_names():
        found.setdefault(name, {"id": name, "kind": "preset"})
    return list(found.values())


def _mapping_argument(project: Project, mapping: str, upload: Upload | None = None) -> str:
    """The mapping as ``kpitree import --mapping`` takes it: a preset name or a
    file (resolved inside the project; never outside it), or the upload's own
    draft (:data:`DRAFT`)."""
    if mapping == DRAFT and upload is not None:
        from kpitree.web.drafts import draft_file

        return str(draft_file(upload, must_exist=True))
    choices = {c["id"] for c in mapping_choices(project)}
    if mapping not in choices:
        from kpitree.source import did_you_mean

        raise WebError(
            400,
            "KT621",
            "web.data.unknown_mapping",
            mapping=mapping,
            hint=did_you_mean(mapping, sorted(choices)),
        )
    candidate = (project.path / mapping).resolve()
    if candidate.is_file() and candidate.is_relative_to(project.path.resolve()):
        return str(candidate)
    return mapping


# -- preview ----------------------------------------------------------------------------


def preview(
    project: Project,
    upload: Upload,
    mapping: str,
    sheet: str | None = None,
    *,
    lang: str | None = None,
) -> dict[str, Any]:
    """Read and map the upload without writing anything: mapped rows per table
    (the first page of each; later pages through :mod:`kpitree.web.preview_pages`),
    every rejected cell with its row and column and
    the file's warnings, messages in ``lang``. Parsed in a child process within
    a time and memory budget (:mod:`kpitree.web.preview`); a problem with the
    file as a whole raises its DataError (located)."""
    from kpitree.web.drafts import draft_file
    from kpitree.web.preview import run_preview
    from kpitree.web.preview_pages import span, store_of

    store = store_of(upload)
    if mapping == AUTO:
        found = run_preview(
            upload.path, AUTO, sheet or None, project.tree.timezone, lang, upload.name,
            draft_path=draft_file(upload), store=store,
        )  # fmt: skip
        detected = found.get("detected") or {}
        mapping = detected.get("name") or DRAFT
    else:
        argument = _mapping_argument(project, mapping, upload)
        found = run_preview(
            upload.path, argument, sheet or None, project.tree.timezone, lang, upload.name,
            store=store,
        )  # fmt: skip
        if mapping == DRAFT:
            text = draft_file(upload).read_text(encoding="utf-8")
            found["detected"] = {"kind": "draft", "yaml": text, "review": [], "closest": None}
    from kpitree.web.preview_display import display_table

    tree = project.tree
    for table in found.get("tables", []):
        table["display"] = display_table(
            table["columns"], table["preview"], tree.timezone, tree.currency, lang or "ja"
        )
        table.update(span(1, table["rows"]))
    return {"upload_id": upload.upload_id, "file": upload.name, "mapping": mapping, **found}


# -- writing (in a child process) -------------------------------------------------------


def _kpitree(project: Project, *args: str, lang: str) -> dict[str, Any]:
    """Run a kpitree command in a child process and return its JSON output; its
    error messages (located, in ``lang``) become a UserError."""
    env = {**os.environ, "KPITREE_LANG": lang, "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(
        [sys.executable, "-m", "kpitree", *args, "--json"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=project.path,
        timeout=3600,
        check=False,
    )
    if done.returncode == 0:
        try:
            result: dict[str, Any] = json.loads(done.stdout)
        except json.JSONDecodeError:
            result = {}
        return result
    message = done.stderr.strip() or done.stdout.strip() or f"exit status {done.returncode}"
    if done.returncode == 1:
        raise UserError(
            Diagnostic(Severity.ERROR, "KT622", "web.data.command_failed", {"message": message})
        )
    raise DataError(
        Diagnostic(Severity.ERROR, "KT600", "web.error.internal", {"error": message[-2000:]})
    )


def run_import(
    project: Project, upload: Upload, mapping: str, *, skip_invalid: bool, lang: str
) -> dict[str, Any]:
    """Import the upload (all or nothing unless ``skip_invalid``); returns the
    import as ``kpitree import --json`` reports it. The upload is removed after."""
    argument = _mapping_argument(project, mapping, upload)
    args = ["import", str(upload.path), "--mapping", argument, "--project", str(project.path)]
    if skip_invalid:
        args.append("--skip-invalid")
    result = _kpitree(project, *args, lang=lang)
    saved = None
    if mapping == DRAFT:
        from kpitree.web.drafts import keep_draft

        saved = keep_draft(project, upload)
    discard_upload(upload)
    imports = result.get("imports") or [{}]
    return {**imports[0], "saved_mapping": saved}


def undo(project: Project, import_id: int, *, lang: str) -> dict[str, Any]:
    """Undo one import (``kpitree imports undo``); 404 (KT650) when the
    history has no import of that number."""
    if not any(row.get("import_id") == import_id for row in history(project)):
        raise WebError(404, "KT650", "web.data.no_import", id=import_id)
    return _kpitree(
        project, "imports", "undo", str(import_id), "--project", str(project.path), lang=lang
    )


_HISTORY_SQL = (
    "SELECT import_id, kind, source_file, mapping_name, rows_read, inserted, updated, "
    "unchanged, rejected, status, started_at, finished_at, undone_at "
    "FROM kpitree_imports ORDER BY import_id DESC"
)


_HISTORY_CACHE: dict[str, tuple[str, list[dict[str, Any]]]] = {}
_HISTORY_LOCK = threading.Lock()
_HISTORY_READ_LOCK = threading.Lock()


def history(project: Project) -> list[dict[str, Any]]:
    """The import log, newest first, read through a read-only engine (waits
    while another process holds the write lock). Kept per data version: the
    log only changes when the warehouse does."""
    from kpitree.web.live import data_version

    target = project.warehouse_target
    if "://" not in target and not Path(target).exists():
        return []
    version = data_version(project)
    with _HISTORY_LOCK:
        cached = _HISTORY_CACHE.get(target)
    if cached is not None and cached[0] == version and not version.startswith("server:"):
        return [dict(row) for row in cached[1]]
    # After an import every open Data page asks at once: one reads, the others wait for it.
    with _HISTORY_READ_LOCK:
        with _HISTORY_LOCK:
            cached = _HISTORY_CACHE.get(target)
        if cached is not None and cached[0] == version and not version.startswith("server:"):
            return [dict(row) for row in cached[1]]
        rows = _read_history(project)
        with _HISTORY_LOCK:
            _HISTORY_CACHE[target] = (version, rows)
    return [dict(row) for row in rows]


def _read_history(project: Project) -> list[dict[str, Any]]:
    from kpitree.web.errors import public_file

    with project.engine() as engine:
        table = engine.query(_HISTORY_SQL)
    rows: list[dict[str, Any]] = table.to_pylist()
    for row in rows:
        for key in ("started_at", "finished_at", "undone_at"):
            value = row.get(key)
            row[key] = value.isoformat() if isinstance(value, dt.datetime) else value
        source = row.get("source_file")
        row["file"] = Path(source).name if source else None
        row["source_file"] = public_file(source, project.path) if source else None
    return rows
