"""Numpy arrays to canonical Arrow tables, without Python loops over rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from kpitree.data.schema import table as schema_table

# DuckDB type name -> Arrow type of the generated column.
ARROW_TYPES: Mapping[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
    "DATE": pa.date32(),
    "DOUBLE": pa.float64(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "JSON": pa.string(),
}


def arrow_schema(name: str) -> pa.Schema:
    """The Arrow schema of canonical table ``name``."""
    t = schema_table(name)
    return pa.schema(
        [pa.field(c.name, ARROW_TYPES[c.type], nullable=c.nullable) for c in t.columns]
    )


def build_table(name: str, columns: Mapping[str, pa.Array | npt.NDArray[np.generic]]) -> pa.Table:
    """Canonical table ``name`` from ``columns``; columns not given are all null."""
    schema = arrow_schema(name)
    unknown = set(columns) - set(schema.names)
    if unknown:
        raise KeyError(f"{name}: not canonical columns: {sorted(unknown)}")
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1:
        raise ValueError(f"{name}: columns of different lengths {sorted(lengths)}")
    (n,) = lengths
    arrays = []
    for field in schema:
        value = columns.get(field.name)
        if value is None:
            arrays.append(pa.nulls(n, field.type))
        else:
            arr = value if isinstance(value, pa.Array) else pa.array(value)
            arrays.append(arr.cast(field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def ids(prefix: str, n: int, width: int) -> pa.Array:
    """``prefix`` followed by 1..n zero-padded to ``width`` digits, e.g. L0000001."""
    digits = pc.cast(pa.array(np.arange(1, n + 1, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(digits, width=width, padding="0"), "")


def take(
    values: pa.Array | Sequence[str],
    idx: npt.NDArray[np.integer],
    valid: npt.NDArray[np.bool_] | None = None,
) -> pa.Array:
    """``values[idx]``, null where ``valid`` is false."""
    source = values if isinstance(values, pa.Array) else pa.array(list(values), pa.string())
    mask = None if valid is None else ~valid
    indices = pa.array(np.where(valid, idx, 0) if valid is not None else idx, mask=mask)
    return pc.take(source, indices)


def constant(value: str, n: int) -> pa.Array:
    """``value`` repeated ``n`` times."""
    return pa.repeat(pa.scalar(value, pa.string()), n)


def timestamps(local_us: npt.NDArray[np.int64], tz: str) -> pa.Array:
    """Local wall-clock microseconds read in ``tz``, as UTC instants."""
    naive = pa.array(local_us, type=pa.timestamp("us"))
    zoned = pc.assume_timezone(naive, timezone=tz, ambiguous="earliest", nonexistent="earliest")
    return zoned.cast(pa.timestamp("us", tz="UTC"))


def dates(days: npt.NDArray[np.datetime64]) -> pa.Array:
    """``datetime64[D]`` as date32."""
    return pa.array(days.astype("datetime64[D]"), pa.date32())


def json_objects(
    parts: Sequence[tuple[str, pa.Array]], valid: npt.NDArray[np.bool_] | None = None
) -> pa.Array:
    """JSON objects built column-wise: ``parts`` are (key, value) with values
    already rendered as JSON text (numbers, or strings quoted by ``quoted``)."""
    pieces: list[pa.Array | str] = []
    for i, (key, value) in enumerate(parts):
        pieces.append(("{" if i == 0 else ", ") + f'"{key}": ')
        pieces.append(value)
    pieces.append("}")
    out = pc.binary_join_element_wise(*pieces, "")
    if valid is not None:
        out = pc.if_else(pa.array(valid), out, pa.nulls(len(out), pa.string()))
    return out


def quoted(values: pa.Array) -> pa.Array:
    """Strings rendered as JSON string literals (values contain no quotes or backslashes)."""
    return pc.binary_join_element_wise('"', values, '"', "")


def numbers(values: npt.NDArray[np.integer]) -> pa.Array:
    """Integers rendered as JSON numbers."""
    return pc.cast(pa.array(values), pa.string())
