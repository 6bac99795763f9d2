"""A PostgreSQL database as the project's warehouse: imports, syncs and undo there.

``data.warehouse: postgresql://…`` makes ``kpitree import``, ``kpitree sync`` and
``kpitree imports undo`` write into that database with the embedded warehouse's
guarantees: the same tables (each canonical table with its ``_import_id``
column, its change log and deletion log; the import log ``kpitree_imports``; the
table versions; the sync state), created by the same migrations, written by the
same statements (:class:`kpitree.data.importing.ImportWriter`, translated by
:mod:`kpitree.data.pgsql`), one transaction per import over every table it
touches. One writer at a time: a writer holds a PostgreSQL advisory lock for
its whole transaction, so two imports from two machines take turns.

Spark and ClickHouse have no transaction across tables, and kpitree writes into
no other engine: :func:`warehouse_for` refuses them (``KT570``) with the way to
load them (import into a DuckDB file, then ``copy_warehouse``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from kpitree.data import migrations
from kpitree.data.importing import ImportWriter
from kpitree.data.paths import without_password
from kpitree.data.pgsql import PgConnection, install_functions
from kpitree.errors import DataError

__all__ = ["PgWarehouse", "is_postgres_url", "warehouse_for"]

_LOCK_KEY = 0x6B7074726565  # "kptree": the advisory lock every kpitree writer takes
_PG_SCHEMES = ("postgresql", "postgres")
_NO_TRANSACTION = {
    "pyspark": "Spark",
    "sc": "Spark",
    "clickhouse": "ClickHouse",
    "chdb": "ClickHouse (chDB)",
}


def is_postgres_url(text: str | None) -> bool:
    """Whether ``data.warehouse`` names a PostgreSQL database."""
    scheme = (text or "").strip().split("://", 1)[0].lower() if "://" in (text or "") else ""
    return scheme in _PG_SCHEMES


def warehouse_for(
    project_dir: str | os.PathLike[str], configured: str | None = None
) -> ImportWriter:
    """The warehouse imports and syncs write to: the project's DuckDB file, or the
    PostgreSQL database ``data.warehouse`` names, linking sources by the keys
    of ``data.links``. Any other database URL is ``KT570``, saying why it
    cannot take imports and what to do instead."""
    from kpitree.data.linksettings import link_keys_of
    from kpitree.data.paths import configured_data

    section = configured_data(project_dir)  # kpitree.yaml read once, leniently
    landed = section.get("landed")
    if isinstance(landed, dict):
        raise DataError.of("KT573", "warehouse.landed", preset=str(landed.get("preset") or "?"))
    writer = _writer_for(project_dir, configured)
    writer.link_keys = link_keys_of(section.get("links"))
    return writer


def _writer_for(project_dir: str | os.PathLike[str], configured: str | None) -> ImportWriter:
    from kpitree.data.warehouse import Warehouse, warehouse_path

    text = (configured or "").strip()
    if "://" in text and not text.startswith("duckdb://"):
        if is_postgres_url(text):
            return PgWarehouse(text, rejects_dir=Path(project_dir) / ".kpitree" / "rejects")
        scheme = text.split("://", 1)[0].lower()
        name = _NO_TRANSACTION.get(scheme)
        raise DataError.of(
            "KT570",
            "warehouse.no_transaction" if name else "warehouse.not_written",
            value=without_password(text),
            engine=name or scheme,
        )
    return Warehouse(warehouse_path(project_dir, configured))


class PgWarehouse(ImportWriter):
    """The import path on a PostgreSQL database (the URL's database and the
    connection's default schema). ``rejects_dir`` is where ``--skip-invalid``
    writes rejected rows (a local folder: they are files for people)."""

    def __init__(self, url: str, *, rejects_dir: Path, lock_timeout: float = 30.0) -> None:
        self.url = url
        self.lock_timeout = lock_timeout
        self._rejects_dir = Path(rejects_dir)
        self._migrated = False

    def __repr__(self) -> str:
        return f"PgWarehouse({self.location!r})"

    @property
    def location(self) -> str:  # type: ignore[override]
        """The URL, without its password."""
        return without_password(self.url)

    @property
    def rejects_dir(self) -> Path:
        return self._rejects_dir

    def _open(self) -> PgConnection:
        import psycopg

        try:
            raw = psycopg.connect(self.url, autocommit=True, connect_timeout=15)
        except psycopg.Error as exc:
            password = urlsplit(self.url).password
            error = str(exc).strip()
            raise DataError.of(
                "KT514",
                "engines.unreachable",
                where=self.location,
                error=error.replace(password, "***") if password else error,
            ) from exc
        con = PgConnection(raw, self.location)
        # Instants are stored in UTC, as in the embedded warehouse.
        raw.execute("SET TIME ZONE 'UTC'")
        return con

    def exists(self) -> bool:
        """Whether the database holds a kpitree warehouse (listing creates none)."""
        con = self._open()
        try:
            row = con.raw.execute("SELECT to_regclass('kpitree_imports') IS NOT NULL").fetchone()
            return bool(row and row[0])
        finally:
            con.close()

    def migrate(self) -> list[int]:
        """Create the tables (and the SQL functions the statements call) and apply
        pending migrations; return their versions."""
        con = self._open()
        try:
            return self._prepare(con, force=True)
        finally:
            con.close()

    def _prepare(self, con: PgConnection, *, force: bool = False) -> list[int]:
        if self._migrated and not force:
            return []
        con.raw.execute("SELECT pg_advisory_lock(%s)", [_LOCK_KEY + 1])
        try:
            install_functions(con)
            applied = migrations.apply_pending(con, path=self.location)  # type: ignore[arg-type]
        finally:
            con.raw.execute("SELECT pg_advisory_unlock(%s)", [_LOCK_KEY + 1])
        self._migrated = True
        return applied

    def schema_version(self) -> int:
        with self.connect() as con:
            return max(migrations.applied_versions(con), default=0)  # type: ignore[arg-type]

    @contextmanager
    def connect(self) -> Iterator[PgConnection]:
        """A connection to the migrated warehouse, closed on exit."""
        con = self._open()
        try:
            self._prepare(con)
            yield con
        finally:
            con.close()

    @contextmanager
    def writing(self) -> Iterator[PgConnection]:
        """:meth:`connect`, holding the writers' advisory lock (waiting up to
        ``lock_timeout`` seconds for another writer, else ``KT403``)."""
        with self.connect() as con:
            deadline = time.monotonic() + self.lock_timeout
            while True:
                row = con.raw.execute("SELECT pg_try_advisory_lock(%s)", [_LOCK_KEY]).fetchone()
                if row and row[0]:
                    break
                if time.monotonic() >= deadline:
                    raise DataError.of(
                        "KT403",
                        "warehouse.locked",
                        path=self.location,
                        error="another kpitree import or sync is writing",
                    )
                time.sleep(0.1)
            try:
                yield con
            finally:
                if not con.raw.closed:
                    con.raw.execute("SELECT pg_advisory_unlock(%s)", [_LOCK_KEY])
