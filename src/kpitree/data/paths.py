"""Where a project's warehouse file is: light enough for every command to
resolve it without importing the warehouse's writers."""

from __future__ import annotations

import os
from pathlib import Path

from kpitree.errors import DataError

__all__ = [
    "WAREHOUSE_DIR",
    "WAREHOUSE_FILE",
    "configured_data",
    "default_warehouse_path",
    "warehouse_path",
    "without_password",
]

WAREHOUSE_DIR = ".kpitree"
WAREHOUSE_FILE = "warehouse.duckdb"


def default_warehouse_path(project_dir: str | os.PathLike[str]) -> Path:
    """Where a project keeps its warehouse: ``<project>/.kpitree/warehouse.duckdb``."""
    return Path(project_dir) / WAREHOUSE_DIR / WAREHOUSE_FILE


def warehouse_path(project_dir: str | os.PathLike[str], configured: str | None = None) -> Path:
    """The warehouse file of a project: ``configured`` (``data.warehouse`` in
    ``kpitree.yaml``: a DuckDB file, relative to the project folder unless
    absolute; ``~`` is the home folder; ``duckdb:///abs/path`` is read as
    ``/abs/path``) or :func:`default_warehouse_path`.

    Every command that reads or writes the warehouse resolves it here. A database
    URL is refused with a message: imports write to a DuckDB file.

    >>> warehouse_path("plan", "data/crm.duckdb")
    PosixPath('plan/data/crm.duckdb')
    """
    text = (configured or "").strip()
    if not text:
        return default_warehouse_path(project_dir)
    if text.startswith("duckdb://"):  # the engines' URL of a DuckDB file
        text = text.removeprefix("duckdb://")
    if "://" in text:
        raise DataError.of("KT404", "warehouse.not_a_file", value=without_password(text))
    path = Path(text).expanduser()
    return path if path.is_absolute() else Path(project_dir) / path


def without_password(url: str) -> str:
    """``url`` for a message: its password, if any, as ``***``."""
    from urllib.parse import urlsplit

    try:
        password = urlsplit(url).password
    except ValueError:
        return url
    return url.replace(f":{password}@", ":***@") if password else url


def configured_data(project_dir: str | os.PathLike[str]) -> dict[str, object]:
    """The ``data:`` section of the project's ``kpitree.yaml``, read leniently:
    empty when there is none or the file cannot be read (a tree still being
    fixed is for ``kpitree check`` to report, not for a write to stop on)."""
    from kpitree.errors import KpitreeError
    from kpitree.source import load_yaml

    definition = Path(project_dir) / "kpitree.yaml"
    if not definition.is_file():
        return {}
    try:
        data = load_yaml(definition).data
    except (KpitreeError, OSError, ValueError):
        return {}
    section = data.get("data") if isinstance(data, dict) else None
    return section if isinstance(section, dict) else {}
