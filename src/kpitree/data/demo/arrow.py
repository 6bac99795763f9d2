"""Numpy arrays to canonical Arrow tables, without Python loops over rows.

Arrays are wrapped with ``pa.Array.from_buffers`` rather than ``pa.array``:
it is zero-copy, and ``pa.array`` on numpy input imports pandas (about a
second), which ``kpitree demo`` should not pay for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from kpitree.data.schema import arrow_schema as canonical_arrow_schema


def arrow_schema(name: str) -> pa.Schema:
    """The Arrow schema of canonical table ``name``, non-null columns marked."""
    return canonical_arrow_schema(name, enforce_nullability=True)


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
            arr = value if isinstance(value, pa.Array) else from_numpy(value)
            arrays.append(arr if arr.type == field.type else arr.cast(field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def ids(prefix: str, n: int, width: int) -> pa.Array:
    """``prefix`` followed by 1..n zero-padded to ``width`` digits, e.g. L0000001."""
    head = prefix.encode()
    size = len(head) + width
    if (n + 1) * size >= 2**31:
        raise ValueError(f"{n} ids of {size} bytes do not fit a string array")
    # Fixed-width ASCII written digit by digit straight into the data buffer.
    data = np.empty((n, size), dtype=np.uint8)
    data[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
    rest = np.arange(1, n + 1, dtype=np.uint32)
    for k in range(width - 1, -1, -1):
        rest, digit = np.divmod(rest, np.uint32(10))
        data[:, len(head) + k] = digit + ord("0")
    offsets = np.arange(0, (n + 1) * size, size, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def strings(values: Sequence[str]) -> pa.Array:
    """A short list of labels (not rows) as a string array."""
    encoded = [v.encode() for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    return pa.Array.from_buffers(
        pa.string(), len(encoded), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def from_numpy(
    values: npt.NDArray[np.generic], valid: npt.NDArray[np.bool_] | None = None
) -> pa.Array:
    """A fixed-width numpy array as Arrow, null where ``valid`` is false (or NaT)."""
    if values.dtype.kind == "M":
        unit = str(values.dtype)[len("datetime64[") : -1]
        not_nat = ~np.isnat(values)
        valid = not_nat if valid is None else valid & not_nat
        if unit == "D":
            type_: pa.DataType = pa.date32()
            values = np.where(not_nat, values.astype(np.int64), 0).astype(np.int32)
        else:
            type_ = pa.timestamp(unit)
            values = values.view(np.int64)
    elif values.dtype.kind == "f" and valid is None:
        type_ = pa.from_numpy_dtype(values.dtype)
        valid = ~np.isnan(values)
    else:
        type_ = pa.from_numpy_dtype(values.dtype)
    n = len(values)
    if values.dtype == np.bool_:
        data = np.packbits(values.astype(np.bool_), bitorder="little")
    else:
        data = np.ascontiguousarray(values)
    validity = None
    nulls = 0
    if valid is not None and not valid.all():
        validity = pa.py_buffer(np.packbits(valid, bitorder="little"))
        nulls = n - int(valid.sum())
    return pa.Array.from_buffers(type_, n, [validity, pa.py_buffer(data)], null_count=nulls)


def take(
    values: pa.Array | Sequence[str],
    idx: npt.NDArray[np.integer],
    valid: npt.NDArray[np.bool_] | None = None,
) -> pa.Array:
    """``values[idx]``, null where ``valid`` is false."""
    source = values if isinstance(values, pa.Array) else strings(values)
    safe = idx.astype(np.int64) if valid is None else np.where(valid, idx, 0).astype(np.int64)
    return pc.take(source, from_numpy(safe, valid))


def constant(value: str, n: int) -> pa.Array:
    """``value`` repeated ``n`` times."""
    return pa.repeat(text(value), n)


def text(value: str) -> pa.Scalar:
    """A string scalar (``pa.scalar`` would import pandas)."""
    return strings([value])[0]


def join(*parts: pa.Array | str, sep: str = "") -> pa.Array:
    """Element-wise concatenation of arrays and literal strings."""
    args = [text(p) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*args, text(sep))


def timestamps(local_us: npt.NDArray[np.int64], tz: str) -> pa.Array:
    """Local wall-clock microseconds read in ``tz``, as UTC instants."""
    naive = from_numpy(local_us.view("datetime64[us]"))
    zoned = pc.assume_timezone(naive, timezone=tz, ambiguous="earliest", nonexistent="earliest")
    return zoned.cast(pa.timestamp("us", tz="UTC"))


def dates(days: npt.NDArray[np.datetime64]) -> pa.Array:
    """``datetime64[D]`` as date32; NaT becomes null."""
    return from_numpy(days.astype("datetime64[D]"))


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
    out = join(*pieces)
    if valid is not None:
        out = pc.if_else(from_numpy(valid), out, pa.nulls(len(out), pa.string()))
    return out


def quoted(values: pa.Array) -> pa.Array:
    """Strings rendered as JSON string literals (values contain no quotes or backslashes)."""
    return join('"', values, '"')


def numbers(values: npt.NDArray[np.integer]) -> pa.Array:
    """Integers rendered as JSON numbers."""
    return pc.cast(from_numpy(values), pa.string())
