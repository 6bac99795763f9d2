"""Opening an engine: on a warehouse file, a database URL, or a connection the
caller already has (see :mod:`kpitree.engines.engine`)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from kpitree.engines.engine import Engine, _redacted
from kpitree.errors import UserError

if TYPE_CHECKING:
    import ibis

__all__ = ["attach_engine", "open_engine", "supported_schemes"]

_INSTALL = "pip install 'ibis-framework[{extra}]'"
# Backends kpitree has an extra for (its own tested versions of the drivers).
_EXTRAS = {"pyspark": "spark", "clickhouse": "clickhouse"}


def _install_command(backend_name: str) -> str:
    extra = _EXTRAS.get(backend_name)
    return f"pip install 'kpitree[{extra}]'" if extra else _INSTALL.format(extra=backend_name)


def _ibis_backends() -> list[str]:
    from importlib import metadata

    return sorted({ep.name for ep in metadata.entry_points(group="ibis.backends")})


def supported_schemes() -> list[str]:
    """URL schemes :func:`open_engine` understands (drivers may still need installing)."""
    return sorted({"duckdb", "postgresql", "sc", "chdb", *_ibis_backends()} - {"postgres"})


def _check_zone(timezone: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    # The name goes into SQL text: only names the zone database knows pass.
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserError.of("KT515", "engines.zone_unknown", zone=timezone) from None


def open_engine(
    target: str | os.PathLike[str],
    *,
    timezone: str = "Asia/Tokyo",
    read_only: bool = True,
    lock_timeout: float = 30.0,
) -> Engine:
    """Open an engine on ``target``.

    ``target`` is a kpitree warehouse (a DuckDB file path, or ``duckdb:///path``;
    ``duckdb://`` alone is an empty in-memory database), a PostgreSQL URL
    (``postgresql://user:pass@host:port/db``, also ``postgres://``) or any URL
    ``ibis.connect`` understands (``bigquery://``, ``snowflake://``, …).

    A warehouse file is created and migrated when it does not exist yet or when
    ``read_only`` is false; read-only is the default, and a file another process is
    writing is waited for up to ``lock_timeout`` seconds. ``KT513``: the driver is
    not installed (the message gives the ``pip install`` command) or the scheme is
    unknown; ``KT514``: the database cannot be reached; ``KT515``: unknown time zone.
    """
    _check_zone(timezone)
    text = os.fspath(target)
    if "://" not in text:
        return _open_duckdb_file(Path(text), timezone, read_only, lock_timeout)
    scheme = text.split("://", 1)[0].lower()
    if scheme in ("pyspark", "sc"):
        from kpitree.engines import spark

        where = spark.spark_where(text)
        backend = _connect(lambda: spark.connect_spark(text), "pyspark", where, text)
        # One Spark session per process, found again by every engine on the URL
        # (a dashboard opens one per request): closing an engine leaves it running,
        # since stopping it would drop the session catalog's tables with it.
        return Engine(backend, timezone=timezone, where=where, read_only=read_only, owned=False)
    if scheme == "chdb":
        from kpitree.engines import clickhouse

        where = text.split("?", 1)[0]
        backend = _connect(lambda: clickhouse.connect_chdb(text), "clickhouse", where, text)
        return Engine(backend, timezone=timezone, where=where, read_only=read_only)
    if scheme == "duckdb":
        rest = text.split("://", 1)[1]
        location = rest.split("?", 1)[0]
        if location in ("", "/", ":memory:", "/:memory:"):
            return _open_duckdb_memory(timezone)
        return _open_duckdb_file(Path(location), timezone, read_only, lock_timeout)
    backend_name = "postgres" if scheme in ("postgres", "postgresql") else scheme
    if backend_name not in _ibis_backends():
        raise UserError.of(
            "KT513",
            "engines.unknown_scheme",
            scheme=scheme,
            supported=", ".join(f"{s}://" for s in supported_schemes()),
        )
    return Engine(
        _connect_url(text, backend_name),
        timezone=timezone,
        where=_redacted(text),
        read_only=read_only,
    )


def attach_engine(
    connection: Any, *, timezone: str = "Asia/Tokyo", read_only: bool = True
) -> Engine:
    """An engine on a connection the caller already has: an Ibis backend, or a
    ``SparkSession`` (a Databricks notebook's ``spark``, a Spark Connect session).

    The engine sets the connection's session time zone to ``timezone`` and never
    closes the connection: closing the engine leaves it open for its owner.
    """
    _check_zone(timezone)
    import ibis

    if not isinstance(connection, ibis.BaseBackend):
        kind = type(connection)
        if kind.__module__.startswith("pyspark.sql") and kind.__name__ == "SparkSession":
            connection = ibis.pyspark.connect(connection)
        else:
            raise TypeError(f"not an Ibis backend or a SparkSession: {kind.__name__}")
    where = f"{connection.name} connection"
    return Engine(connection, timezone=timezone, where=where, read_only=read_only, owned=False)


def _connect_url(url: str, backend_name: str) -> ibis.BaseBackend:
    import ibis

    return _connect(lambda: ibis.connect(url), backend_name, _redacted(url), url)


def _connect(connect: Any, backend_name: str, where: str, url: str) -> ibis.BaseBackend:
    try:
        backend: ibis.BaseBackend = connect()
        return backend
    except ImportError as exc:
        raise UserError.of(
            "KT513",
            "engines.driver_missing",
            engine=backend_name,
            command=_install_command(backend_name),
        ) from exc
    except UserError:
        raise
    except Exception as exc:
        # Drivers raise their own classes (psycopg.OperationalError, google.auth …);
        # whatever fails while connecting means the database cannot be reached as given.
        raise UserError.of(
            "KT514",
            "engines.unreachable",
            where=where,
            error=_redact_text(str(exc).strip(), url),
        ) from exc


def _redact_text(text: str, url: str) -> str:
    try:
        password = urlsplit(url).password
    except ValueError:  # not a URL urlsplit reads (pyspark://local[2]): no password in it
        return text
    return text.replace(password, "***") if password else text


def _open_duckdb_memory(timezone: str) -> Engine:
    import ibis

    return Engine(ibis.duckdb.connect(), timezone=timezone, where=":memory:", read_only=False)


def _open_duckdb_file(path: Path, timezone: str, read_only: bool, lock_timeout: float) -> Engine:
    import duckdb

    from kpitree.data.writers import busy, wait_for_writers

    if not read_only or not path.exists():
        from kpitree.data.warehouse import Warehouse

        Warehouse(path, lock_timeout=lock_timeout).migrate()
    deadline = time.monotonic() + lock_timeout
    delay = 0.02
    while True:
        if read_only:  # an import waiting for the file goes first
            wait_for_writers(path, max(0.0, deadline - time.monotonic()))
        try:
            connection = duckdb.connect(str(path.absolute()), read_only=read_only)
            break
        except duckdb.Error as exc:
            if not busy(exc) or time.monotonic() >= deadline:
                raise UserError.of(
                    "KT514", "engines.cannot_open", where=str(path), error=str(exc)
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
    try:
        # As Ibis does with a connection: no Python variable is read as a table.
        connection.execute("SET python_enable_replacements = false").fetchall()
        return Engine(
            None, connection=connection, timezone=timezone, where=str(path), read_only=read_only
        )
    except BaseException:
        connection.close()
        raise
