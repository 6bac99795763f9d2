"""Deciding whether a user's SQL text is one read-only query (``kpitree query``).

The text is parsed with sqlglot in the engine's dialect. Accepted: exactly one
statement that is a query (``SELECT``, ``WITH … SELECT``, ``UNION`` / ``INTERSECT`` /
``EXCEPT``, a parenthesised query) and contains nothing that writes (data-modifying
``WITH``, ``SELECT … INTO``, ``FOR UPDATE``) or reaches outside the database (DuckDB's
``read_csv`` / ``read_parquet`` / ``glob`` / ``query`` and friends, a file name in
``FROM 'file.csv'``, PostgreSQL's ``pg_read_file`` / ``dblink`` / ``lo_import`` …).

This is the first of two locks: the engine also runs the query in a read-only
transaction (and on DuckDB on a read-only connection when the engine is read-only),
so a statement that slips past the parser still cannot write.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kpitree.errors import UserError
from kpitree.i18n import Msg

if TYPE_CHECKING:
    from sqlglot import exp

__all__ = ["NotParsed", "ReadOnlyQuery", "check_read_only"]

# sqlglot node types that write, change the session or run other statements.
_WRITING_NODES = (
    "Insert",
    "Update",
    "Delete",
    "Merge",
    "Create",
    "Drop",
    "Alter",
    "Copy",
    "Attach",
    "Detach",
    "Pragma",
    "Set",
    "Install",
    "Command",
    "Into",
    "LoadData",
    "Use",
    "Transaction",
    "Commit",
    "Rollback",
    "TruncateTable",
    "Grant",
    "Revoke",
    "Lock",
    "Analyze",
    "Refresh",
    "Cache",
    "Uncache",
    "Kill",
    "Export",
    "Declare",
    "Execute",
    "Comment",
)

# Functions that read or write files, open other databases, run SQL given as text
# or change the session. Matched on the lower-cased name; prefixes and suffixes
# catch the families (read_csv_auto, parquet_metadata, sqlite_scan, …).
_OUTSIDE_FUNCTIONS = frozenset(
    {
        "glob",
        "query",
        "query_table",
        "sniff_csv",
        "getenv",
        "json_execute_serialized_sql",
        "duckdb_secrets",
        "which_secret",
        "set_config",
        "dblink",
        "dblink_exec",
        "dblink_connect",
        "lo_import",
        "lo_export",
        "pg_file_write",
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_sleep",
    }
)
_OUTSIDE_PREFIXES = (
    "read_",
    "parquet_",
    "iceberg_",
    "delta_",
    "sqlite_",
    "postgres_",
    "mysql_",
    "st_read",
    "pg_read_",
    "pg_ls_",
    "pg_stat_file",
    "lo_",
    "dblink",
)
_OUTSIDE_SUFFIXES = ("_scan",)
# A table name with one of these is a file or URL to DuckDB (replacement scan).
_FILE_NAME_CHARACTERS = frozenset("./\\:*?")


@dataclass(frozen=True, slots=True)
class ReadOnlyQuery:
    """One checked query: ``text`` is the statement as the user wrote it, without
    trailing semicolons and comments."""

    text: str


class NotParsed(Exception):
    """sqlglot could not parse the text; the engine asks its database for the
    message (``reason`` is sqlglot's, for engines that cannot)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _refuse(reason: Msg) -> UserError:
    return UserError.of("KT511", "engines.query_read_only", reason=reason)


@contextmanager
def _quiet_sqlglot() -> Iterator[None]:
    # sqlglot logs a warning when it falls back to an opaque Command; the refusal
    # says it better, and the CLI must not print stray log lines.
    logger = logging.getLogger("sqlglot")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)


def _function_names(node: exp.Func) -> set[str]:
    from sqlglot import exp

    if isinstance(node, exp.Anonymous):
        return {str(node.name).lower()}
    return {node.sql_name().lower(), node.key.lower()}


def _reaches_outside(name: str) -> bool:
    return (
        name in _OUTSIDE_FUNCTIONS
        or name.startswith(_OUTSIDE_PREFIXES)
        or name.endswith(_OUTSIDE_SUFFIXES)
    )


def _trimmed(sql: str, dialect: str) -> str:
    """The statement text up to its last token: trailing ``;`` and comments go, so the
    text can be wrapped or prefixed safely."""
    from sqlglot import TokenType
    from sqlglot.dialects.dialect import Dialect

    tokens = list(Dialect.get_or_raise(dialect).tokenize(sql))
    while tokens and tokens[-1].token_type == TokenType.SEMICOLON:
        tokens.pop()
    return sql[: tokens[-1].end + 1] if tokens else ""


def check_read_only(sql: str, dialect: str) -> ReadOnlyQuery:
    """The query in ``sql`` if it is exactly one read-only query.

    Raises :class:`~kpitree.errors.UserError` ``KT511`` naming what is not allowed,
    or :class:`NotParsed` when sqlglot cannot parse the text.
    """
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError, TokenError

    try:
        with _quiet_sqlglot():
            parsed = sqlglot.parse(sql, read=dialect)
    except (ParseError, TokenError) as exc:
        raise NotParsed(str(exc)) from exc
    # A comment after the last semicolon parses as a Semicolon "statement".
    statements = [s for s in parsed if s is not None and not isinstance(s, exp.Semicolon)]
    if not statements:
        raise _refuse(Msg("engines.reason_empty"))
    if len(statements) > 1:
        raise _refuse(Msg("engines.reason_statements", {"count": len(statements)}))
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        kind = (
            str(statement.this).split()[0].upper()
            if isinstance(statement, exp.Command) and statement.this
            else statement.key.upper()
        )
        raise _refuse(Msg("engines.reason_not_query", {"kind": kind}))
    writing = tuple(getattr(exp, name) for name in _WRITING_NODES if hasattr(exp, name))
    for node in statement.walk():
        if isinstance(node, writing):
            raise _refuse(Msg("engines.reason_writes", {"kind": node.key.upper()}))
        if isinstance(node, exp.Func):
            outside = sorted(n for n in _function_names(node) if _reaches_outside(n))
            if outside:
                raise _refuse(Msg("engines.reason_function", {"function": outside[0]}))
        if isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier | exp.Literal):
            name = str(node.this.this)
            if _FILE_NAME_CHARACTERS & set(name):
                raise _refuse(Msg("engines.reason_file", {"name": name}))
    return ReadOnlyQuery(_trimmed(sql, dialect))
