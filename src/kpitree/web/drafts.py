"""A draft mapping kept with its upload on the Data page: drafted when no preset
fits the file (``kpitree mappings new`` does the same), edited in the page,
previewed again, and on import kept in the project's ``mappings/`` folder so the
next export of the same shape can use it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kpitree.web.errors import WebError

if TYPE_CHECKING:
    from kpitree.project import Project
    from kpitree.web.imports import Upload

__all__ = ["MAX_DRAFT_BYTES", "draft_file", "keep_draft", "save_draft"]

MAX_DRAFT_BYTES = 256 * 1024


def draft_file(upload: Upload, *, must_exist: bool = False) -> Path:
    """Where the upload's draft lives (beside the upload, in a hidden folder);
    KT323 when ``must_exist`` and there is none yet."""
    path = upload.path.parent / ".draft" / "mapping.yaml"
    if must_exist and not path.is_file():
        raise WebError(404, "KT323", "web.data.no_draft")
    path.parent.mkdir(exist_ok=True)
    return path


def save_draft(upload: Upload, text: str) -> Path:
    """Replace the upload's draft with the page's edited text. It must be a
    mapping that reads nothing but the upload: lookups from other files
    (``values: {x: {file: …}}``) are refused (KT324), as is text over
    :data:`MAX_DRAFT_BYTES`."""
    from kpitree.errors import UserError
    from kpitree.source import parse_yaml

    if len(text.encode("utf-8")) > MAX_DRAFT_BYTES:
        raise WebError(400, "KT324", "web.data.bad_draft")
    try:
        # The loader of every mapping: alias bombs and deep nesting are refused
        # with their place (a plain YAML load recursed until the server failed).
        data = parse_yaml(text, "mapping.yaml").data
    except UserError:
        data = None  # the mapping loader reports where the YAML is broken
    values = data.get("values") if isinstance(data, dict) else None
    if isinstance(values, dict) and any(
        isinstance(v, dict) and "file" in v for v in values.values()
    ):
        raise WebError(400, "KT324", "web.data.bad_draft")
    path = draft_file(upload)
    path.write_text(text, encoding="utf-8")
    return path


def keep_draft(project: Project, upload: Upload) -> str | None:
    """Copy the imported draft into the project's ``mappings/`` folder under the
    upload's name (never over an existing file); its path relative to the
    project, as the Data page's mapping list then offers it."""
    source = upload.path.parent / ".draft" / "mapping.yaml"
    if not source.is_file():
        return None
    folder = project.path / "mappings"
    folder.mkdir(exist_ok=True)
    stem = (
        "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in upload.path.stem) or "mapping"
    )
    target = folder / f"{stem}.yaml"
    n = 2
    while target.exists():
        target = folder / f"{stem}-{n}.yaml"
        n += 1
    target.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    return target.relative_to(project.path).as_posix()
