"""Tables of NumPy columns: what a metric query's Arrow result becomes, and
how its parts add up to a coarser segment level, without pandas.

A :class:`Columns` is an ordered mapping of column name to a 1-d NumPy array
(all of one length), with ``attrs`` for what travels with the table.
:meth:`Columns.to_pandas` gives a DataFrame where one is asked for.

:func:`rollup` adds the parts of a finer level up to a coarser one. Float
parts are added with :func:`math.fsum`: correctly rounded, so a sum has the
same bits whatever order the database returned the rows in, on every engine.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

__all__ = ["Columns", "concat", "from_arrow", "group_labels", "rollup", "to_numpy"]


class Columns:
    """Named NumPy columns of one length, in order; ``len`` is the number of
    rows and ``in`` asks for a column, as for a DataFrame."""

    def __init__(self, columns: Mapping[str, Any], length: int | None = None) -> None:
        self._columns: dict[str, Any] = dict(columns)
        if length is None:
            length = len(next(iter(self._columns.values()))) if self._columns else 0
        self._length = length
        self.attrs: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        return self._columns[name]

    def __contains__(self, name: object) -> bool:
        return name in self._columns

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return self._length

    def get(self, name: str, default: Any = None) -> Any:
        return self._columns.get(name, default)

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    def with_columns(self, extra: Mapping[str, Any]) -> Columns:
        """A table with ``extra``'s columns added (or replaced), ``attrs`` kept."""
        out = Columns({**self._columns, **extra}, self._length)
        out.attrs = dict(self.attrs)
        return out

    def select(self, names: Sequence[str], rename: Mapping[str, str] | None = None) -> Columns:
        rename = rename or {}
        return Columns({rename.get(n, n): self._columns[n] for n in names}, self._length)

    def to_pandas(self) -> pd.DataFrame:
        """The table as a DataFrame (``attrs`` kept)."""
        import pandas as pd

        frame = pd.DataFrame(
            {
                name: pd.Series(col, dtype=object) if col.dtype == object else col
                for name, col in self._columns.items()
            },
            index=pd.RangeIndex(self._length),
        )
        frame.attrs.update(self.attrs)
        return frame


def from_arrow(table: pa.Table) -> Columns:
    """An Arrow result as NumPy columns, its rows without a period left out
    (facts on days of the window that belong to no asked period). Integers
    with missing values become floats with NaN and anything but numbers
    objects with ``None``, as Arrow's own conversion gives them."""
    import numpy as np

    # Converted whole, then cut: a column's type does not depend on which rows stay.
    columns = {name: to_numpy(table.column(name)) for name in table.column_names}
    period = table.column("period")
    if not period.null_count:
        return Columns(columns, table.num_rows)
    keep = ~np.isnan(np.asarray(columns["period"], dtype="float64"))
    columns = {name: col[keep] for name, col in columns.items()}
    return Columns(columns, int(keep.sum()))


_FLOATS = {"halffloat": "float16", "float": "float32", "double": "float64"}


def to_numpy(column: pa.ChunkedArray) -> np.ndarray:
    """A column as NumPy without pandas (Arrow's ``to_numpy`` imports it):
    numbers from their buffers, integers with missing values as floats with
    NaN; anything else as objects."""
    import numpy as np
    import pyarrow as pa

    kind = column.type
    numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind)
    if not numeric:
        out = np.empty(len(column), dtype=object)
        out[:] = column.to_pylist()
        return out
    dtype = np.dtype(_FLOATS.get(str(kind), str(kind)))
    parts = []
    for chunk in column.chunks:
        data = chunk.buffers()[1]
        values = np.frombuffer(data, dtype=dtype, count=chunk.offset + len(chunk))
        values = values[chunk.offset :]
        parts.append((values, chunk))
    if not column.null_count:
        joined = np.concatenate([v for v, _ in parts]) if parts else np.empty(0, dtype)
        return joined.copy() if len(parts) == 1 else joined
    floats = np.concatenate([v.astype("float64") for v, _ in parts])
    valid = np.concatenate([_valid(chunk) for _, chunk in parts])
    floats[~valid] = np.nan
    return floats


def _valid(chunk: pa.Array) -> np.ndarray:
    import numpy as np

    if not chunk.null_count:
        return np.ones(len(chunk), dtype=bool)
    return np.asarray(chunk.is_valid().to_pylist(), dtype=bool)


def concat(tables: Sequence[Columns]) -> Columns:
    """The rows of ``tables`` (of the same columns) one after the other."""
    import numpy as np

    if len(tables) == 1:
        return tables[0]
    if not tables:
        return Columns({}, 0)
    names = tables[0].columns
    return Columns(
        {n: np.concatenate([t[n] for t in tables]) for n in names}, sum(len(t) for t in tables)
    )


def _keys(column: np.ndarray) -> list[Any]:
    """A key column's values, a missing number as ``None`` (NaN equals nothing)."""
    values = column.tolist()
    if column.dtype.kind == "f":
        return [None if v != v else v for v in values]
    if column.dtype == object:
        return [None if isinstance(v, float) and v != v else v for v in values]
    return list(values)


def group_labels(
    table: Columns, keys: Sequence[str], order: np.ndarray
) -> tuple[np.ndarray, list[int]]:
    """A group number per row (in ``order``), numbered by first appearance,
    and the first row (position in ``order``) of each group.

    Each key column is numbered by sorting (a missing value, ``None`` or NaN,
    is one value of its own), the numbers of all columns are combined into one
    per row and numbered again; rows are never Python tuples."""
    import numpy as np

    rows = len(order)
    combined = np.zeros(rows, dtype="int64")
    for k in keys:
        codes, count = _codes(table[k][order])
        # Renumbered after each column, so the combined number stays below ``rows``.
        combined = np.unique(combined * count + codes, return_inverse=True)[1].reshape(-1)
    if not rows:
        return np.zeros(0, dtype="int64"), []
    _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    by_first = np.argsort(first, kind="stable")
    rank = np.empty(len(first), dtype="int64")
    rank[by_first] = np.arange(len(first), dtype="int64")
    return rank[inverse.reshape(-1)], first[by_first].tolist()


def _codes(column: np.ndarray) -> tuple[np.ndarray, int]:
    """A number per value of ``column`` (equal values, as Python compares
    them, get the same number; all missing values one more) and how many."""
    import numpy as np

    if column.dtype != object:  # np.unique takes NaN as one value, as wanted
        unique, codes = np.unique(column, return_inverse=True)
        return codes.reshape(-1).astype("int64"), len(unique) + 1
    # Text (segment names) is numbered by hashing, not sorted: sorting compares
    # Python objects, several times slower, and the order is not used.
    return _codes_by_hash(column)


def _codes_by_hash(column: np.ndarray) -> tuple[np.ndarray, int]:
    import numpy as np

    seen: dict[Any, int] = {}
    values = _keys(column)
    codes = np.fromiter((seen.setdefault(v, len(seen)) for v in values), "int64", len(values))
    return codes, len(seen) + 1


def _sums(values: np.ndarray, labels: np.ndarray, groups: int) -> np.ndarray:
    """Per group, the correctly rounded sum of ``values`` (rows x columns),
    missing values left out: the same bits whatever order the rows came in."""
    import math

    import numpy as np

    total = np.zeros((groups, values.shape[1]))
    if not len(labels):
        return total
    by_group = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[by_group], np.arange(groups + 1))
    for g in range(groups):
        rows = values[by_group[bounds[g] : bounds[g + 1]]]
        for j in range(values.shape[1]):
            column = rows[:, j]
            column = column[~np.isnan(column)]
            if np.isfinite(column).all():
                total[g, j] = math.fsum(column.tolist())
            else:  # an infinity: its sign (or NaN for both signs), as floats add
                total[g, j] = float(np.sum(column))
    return total


def rollup(table: Columns, keys: Sequence[str], parts: Sequence[str]) -> Columns:
    """``parts`` added up per distinct ``keys`` (a coarser level), groups in
    order of first appearance."""
    import numpy as np

    order = np.arange(len(table), dtype="int64")
    labels, firsts = group_labels(table, keys, order)
    groups = len(firsts)
    first_rows = np.asarray(firsts, dtype="int64")
    out: dict[str, Any] = {k: table[k][first_rows] for k in keys}
    floats = [p for p in parts if table[p].dtype.kind == "f"]
    if floats:
        sums = _sums(np.stack([table[p] for p in floats], axis=1), labels, groups)
    for p in parts:
        col = table[p]
        if col.dtype.kind == "f":
            out[p] = sums[:, floats.index(p)]
        else:
            acc = np.zeros(groups, dtype=col.dtype)
            np.add.at(acc, labels, col)
            out[p] = acc
    return Columns(out, groups)
