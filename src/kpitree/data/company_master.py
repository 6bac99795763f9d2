"""A company master (企業マスタ): firmographics of companies keyed by 法人番号,
bought from a data vendor or kept by hand, imported into the warehouse so
that accounts lacking employees, industry or annual revenue get them.

The file is a CSV (UTF-8, or Shift_JIS as Excel writes it) with a header:
``法人番号`` (required), any of ``従業員数``, ``業種``, ``売上高`` (at least
one), and optionally ``会社名`` and ``ドメイン`` for accounts without a
法人番号 (English headers too: ``corporate_number``, ``employees``,
``industry``, ``annual_revenue``, ``name``, ``domain``). Every problem is
reported at once, each with its line and column; an import with any problem
writes nothing. An import replaces the whole master, in one transaction.
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpitree.data.linkkeys import corporate_number_valid
from kpitree.errors import DataError, Diagnostic, Severity, Span

if TYPE_CHECKING:
    import pyarrow as pa

    from kpitree.data.importing import ImportWriter

__all__ = [
    "MASTER_COLUMNS",
    "MASTER_PG_TYPES",
    "MASTER_TABLE",
    "CompanyMaster",
    "read_company_master",
    "store_company_master",
]

MASTER_TABLE = "kpitree_company_master"
MASTER_COLUMNS = {
    "corporate_number": "VARCHAR",
    "name": "VARCHAR",
    "domain": "VARCHAR",
    "employees": "BIGINT",
    "industry": "VARCHAR",
    "annual_revenue": "DOUBLE",
    "line": "INTEGER",
}
# The same columns on PostgreSQL (kpitree.engines.copy_warehouse copies the master).
MASTER_PG_TYPES = {
    "corporate_number": "TEXT",
    "name": "TEXT",
    "domain": "TEXT",
    "employees": "BIGINT",
    "industry": "TEXT",
    "annual_revenue": "DOUBLE PRECISION",
    "line": "INTEGER",
}
_HEADERS = {
    "corporate_number": ("法人番号", "corporate_number", "corporate number"),
    "name": ("会社名", "企業名", "法人名", "商号又は名称", "name", "company", "company name"),
    "domain": ("ドメイン", "domain", "website", "webサイト", "url", "ホームページ"),
    "employees": ("従業員数", "社員数", "employees", "number of employees"),
    "industry": ("業種", "業種コード", "産業分類", "industry"),
    "annual_revenue": ("売上高", "年間売上", "年商", "annual_revenue", "annual revenue"),
}
_FIRMOGRAPHICS = ("employees", "industry", "annual_revenue")
_INTEGER = re.compile(r"^\d+$")
_NUMBER = re.compile(r"^\d+(\.\d+)?$")


def _header(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().lower()


@dataclass(frozen=True, slots=True)
class CompanyMaster:
    """The companies of a master file, as read (法人番号 as its 13 digits)."""

    file: str
    rows: tuple[dict[str, Any], ...]
    columns: tuple[str, ...]  # the roles the file has

    def to_arrow(self) -> pa.Table:
        import pyarrow as pa

        types = {"VARCHAR": pa.string(), "BIGINT": pa.int64(), "DOUBLE": pa.float64()}
        types["INTEGER"] = pa.int32()
        schema = pa.schema([(c, types[t]) for c, t in MASTER_COLUMNS.items()])
        return pa.Table.from_pylist(list(self.rows), schema=schema)


def _error(code: str, key: str, where: str, row: int, column: int, **params: Any) -> Diagnostic:
    return Diagnostic(Severity.ERROR, code, key, params, Span(where, row, column))


def _number(text: str, integer: bool) -> float | int | None:
    """``text`` as people write a count or an amount (``1,200``, ``１２００``,
    ``1200人``, ``3000000000円``), or ``None`` when it is not one."""
    value = unicodedata.normalize("NFKC", text).strip().replace(",", "").replace(" ", "")
    value = re.sub(r"(人|名|円)$", "", value)
    if integer:
        return int(value) if _INTEGER.match(value) else None
    if not _NUMBER.match(value):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def read_company_master(path: Path, encoding: str | None = None) -> CompanyMaster:
    """The companies of the master file at ``path``; every problem at once
    (:class:`DataError`, each located at its line and column)."""
    from kpitree.data.textfile import detect_text

    shown = str(path)
    if not path.is_file():
        raise DataError(_error("KT280", "abm.master.unreadable", shown, 1, 1, file=shown))
    info = detect_text(path, encoding, shown=shown)
    text = path.read_text(encoding=info.encoding).removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, [])
    roles: dict[str, int] = {}
    for i, head in enumerate(header):
        found = next((r for r, names in _HEADERS.items() if _header(head) in names), None)
        if found is not None and found not in roles:
            roles[found] = i
    listed = ", ".join(header)
    if "corporate_number" not in roles:
        raise DataError(_error("KT281", "abm.master.no_number_column", shown, 1, 1, columns=listed))
    if not any(r in roles for r in _FIRMOGRAPHICS):
        raise DataError(_error("KT281", "abm.master.no_data_column", shown, 1, 1, columns=listed))
    problems: list[Diagnostic] = []
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue

        def cell(role: str, cells: list[str] = cells) -> str:
            i = roles.get(role)
            return cells[i].strip() if i is not None and i < len(cells) else ""

        row: dict[str, Any] = dict.fromkeys(MASTER_COLUMNS)
        row["line"] = line
        col = roles["corporate_number"] + 1
        raw = cell("corporate_number")
        digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", raw), flags=re.ASCII)
        if not raw:
            problems.append(_error("KT282", "abm.master.no_number", shown, line, col, line=line))
        elif not corporate_number_valid(digits):
            problems.append(_error("KT282", "abm.master.bad_number", shown, line, col, value=raw))
        elif digits in seen:
            problems.append(
                _error(
                    "KT283", "abm.master.duplicate", shown, line, col, value=raw, first=seen[digits]
                )
            )
        else:
            seen[digits] = line
            row["corporate_number"] = digits
        for role in ("employees", "annual_revenue"):
            value = cell(role)
            if not value:
                continue
            number = _number(value, integer=role == "employees")
            if number is None:
                problems.append(
                    _error(
                        "KT284", f"abm.master.bad_{role}", shown, line, roles[role] + 1, value=value
                    )
                )
            else:
                row[role] = number
        for role in ("industry", "name", "domain"):
            row[role] = cell(role) or None
        rows.append(row)
    if problems:
        raise DataError(problems)
    if not rows:
        raise DataError(_error("KT281", "abm.master.empty", shown, 1, 1, file=shown))
    return CompanyMaster(shown, tuple(rows), tuple(roles))


def store_company_master(warehouse: Path | ImportWriter, master: CompanyMaster) -> int:
    """Replace the warehouse's company master by ``master``, in one
    transaction as the only writer (a DuckDB file, or the PostgreSQL warehouse
    imports write); the number of companies stored."""
    from kpitree.data.warehouse import Warehouse
    from kpitree.data.writers import bump_versions

    table = master.to_arrow()
    cols = ", ".join(f"{c} {t}" for c, t in MASTER_COLUMNS.items())
    writer = Warehouse(warehouse) if isinstance(warehouse, Path) else warehouse
    with writer.writing() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f"CREATE TABLE IF NOT EXISTS {MASTER_TABLE} ({cols})")
            con.execute(f"DELETE FROM {MASTER_TABLE}")
            con.register("__master", table)
            names = ", ".join(MASTER_COLUMNS)
            con.execute(f"INSERT INTO {MASTER_TABLE} ({names}) SELECT {names} FROM __master")
            con.unregister("__master")
            bump_versions(con, [MASTER_TABLE])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return int(table.num_rows)
