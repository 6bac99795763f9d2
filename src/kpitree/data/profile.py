"""What the first rows of an export look like, column by column, read as an
import reads them (``kpitree mappings new``): how many cells are filled, whether
the values are unique, how many read as dates (year-first, or month-first US
dates), as numbers, as e-mail addresses, and the most frequent values."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kpitree.data.mapping import Mapping, SourceOptions
from kpitree.data.values import parse_number, parse_timestamp

__all__ = ["US_FORMATS", "ColumnProfile", "Sample"]

SAMPLE_ROWS = 2000
"""The draft looks at this many data rows (the first ones)."""
TOP_VALUES = 40
"""A column with at most this many distinct values lists them (stage columns)."""
FOOTER_ROWS = 10
"""A report's footer is looked for in this many trailing rows."""
US_FORMATS = ("%m/%d/%Y", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %I:%M:%S %p")


@dataclass(frozen=True)
class ColumnProfile:
    """One column of the sample."""

    index: int
    header: str
    filled: int
    distinct: int
    dates: int
    """Cells the import reads as a date or time as they are."""
    us_dates: int
    """Cells read as a date or time with the month-first US formats."""
    numbers: int
    emails: int
    values: tuple[tuple[str, int], ...]
    """The distinct values with their counts, most frequent first (empty when
    there are more than :data:`TOP_VALUES`)."""

    def share(self, count: int) -> float:
        return count / self.filled if self.filled else 0.0

    @property
    def is_date(self) -> bool:
        return self.filled > 0 and max(self.share(self.dates), self.share(self.us_dates)) >= 0.95

    @property
    def needs_us_format(self) -> bool:
        return self.us_dates > self.dates

    @property
    def is_number(self) -> bool:
        return self.filled > 0 and self.share(self.numbers) >= 0.95 and not self.is_date


class Sample:
    """The first :data:`SAMPLE_ROWS` rows of a CSV/XLSX file, read with the
    import's readers (same encodings, checks and limits), open for questions.
    Use as a context manager."""

    def __init__(
        self,
        path: str | Path,
        *,
        sheet: str | None = None,
        encoding: str | None = None,
        timezone: str = "Asia/Tokyo",
    ) -> None:
        from kpitree.data.readers import XLSX_SUFFIXES, connect, load_csv
        from kpitree.data.xlsx import load_xlsx

        p = Path(path)
        self.path = str(path)
        self.timezone = timezone
        self._con = connect()
        try:
            if p.suffix.lower() in XLSX_SUFFIXES:
                source = load_xlsx(self._con, p, self.path, sheet, None)
            else:
                plain = Mapping("draft", None, SourceOptions(), {}, ())
                source = load_csv(self._con, p, self.path, plain, encoding, None)
            self.footer = self._footer(len(source.headers))
            self._con.execute(
                "CREATE TEMP TABLE sample AS SELECT * FROM raw "
                f"WHERE rowid < {source.rows - len(self.footer)} ORDER BY rowid LIMIT {SAMPLE_ROWS}"
            )
        except BaseException:
            self._con.close()
            raise
        self.headers = source.headers
        self.total_rows = source.rows
        self.rows = int(self._one("SELECT count(*) FROM sample"))
        self.columns = tuple(self._column(i, h) for i, h in enumerate(self.headers))

    def _footer(self, ncols: int) -> tuple[str, ...]:
        """The texts of a report's footer: the trailing rows (at most
        :data:`FOOTER_ROWS`) that fill at most two cells of a wider file, as a
        total row and a report's notices do; blank rows among them too."""
        if ncols < 4:
            return ()
        filled = " + ".join(f"(nullif(trim(c{i}), '') IS NOT NULL)::INT" for i in range(ncols))
        tail = self._con.sql(
            f"SELECT {filled}, trim(coalesce(c0, '')) FROM raw ORDER BY rowid DESC "
            f"LIMIT {FOOTER_ROWS}"
        ).fetchall()
        found: list[str] = []
        for count, first in tail:
            if count > 2 or (count > 0 and not first):
                break
            found.append(first)
        while found and not found[-1]:
            found.pop()  # blank rows above the footer are data's business
        return tuple(reversed(found))

    def __enter__(self) -> Sample:
        return self

    def __exit__(self, *exc: object) -> None:
        self._con.close()

    def _one(self, sql: str) -> Any:
        ((value,),) = self._con.sql(sql).fetchall()
        return value

    def _column(self, i: int, header: str) -> ColumnProfile:
        x = f"nullif(trim(c{i}), '')"
        date = parse_timestamp(x, self.timezone).value
        us = parse_timestamp(x, self.timezone, US_FORMATS).value
        num = parse_number(x).value
        email = f"regexp_full_match({x}, '[^@\\s]+@[^@\\s]+\\.[^@\\s]+')"
        ((filled, distinct, dates, us_dates, numbers, emails),) = self._con.sql(
            f"SELECT count({x}), count(DISTINCT {x}), count({date}), count({us}), "
            f"count({num}), count(*) FILTER (WHERE {email}) FROM sample"
        ).fetchall()
        values: tuple[tuple[str, int], ...] = ()
        if 0 < distinct <= TOP_VALUES:
            values = tuple(
                (str(v), int(c))
                for v, c in self._con.sql(
                    f"SELECT {x} AS v, count(*) AS c FROM sample WHERE {x} IS NOT NULL "
                    "GROUP BY v ORDER BY c DESC, v"
                ).fetchall()
            )
        return ColumnProfile(i, header, filled, distinct, dates, us_dates, numbers, emails, values)

    def unique(self, indices: tuple[int, ...]) -> bool:
        """Whether these columns' cells together tell every sampled row apart
        (and are never all blank)."""
        cells = ", ".join(f"coalesce(trim(c{k}), '')" for k in indices)
        key = f"concat_ws(chr(31), {cells})"
        dupes = self._one(
            f"SELECT count(*) - count(DISTINCT {key}) + count(*) FILTER "
            f"(WHERE replace({key}, chr(31), '') = '') FROM sample"
        )
        return int(dupes) == 0
