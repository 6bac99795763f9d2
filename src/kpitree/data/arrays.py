"""Arrow arrays built straight from buffers.

``pa.array(list)`` or ``pa.array(ndarray)`` would import pandas (about half a
second) to probe its input; these build the same arrays from their buffers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow

__all__ = ["int_array", "string_array"]


def string_array(values: Sequence[str | None]) -> pyarrow.Array:
    """An Arrow string array built from its buffers: ``pa.array(list)`` imports
    pandas (about half a second) to probe the list."""
    import numpy as np
    import pyarrow as pa

    encoded = [b"" if v is None else v.encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter((len(e) for e in encoded), np.int64, len(encoded)), out=offsets[1:])
    validity = None
    if any(v is None for v in values):
        bits = np.fromiter((v is not None for v in values), np.bool_, len(values))
        validity = pa.py_buffer(np.packbits(bits, bitorder="little"))
    buffers = [validity, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(pa.large_string(), len(encoded), buffers).cast(pa.string())


def int_array(values: Any, arrow_type: pyarrow.DataType) -> pyarrow.Array:
    """An Arrow array over a numpy buffer (``pa.array(ndarray)`` would import
    pandas, ~0.8 s, to probe it)."""
    import numpy as np
    import pyarrow as pa

    width = 4 if arrow_type == pa.int32() else 8
    data = np.ascontiguousarray(values, dtype=np.int32 if width == 4 else np.int64)
    return pa.Array.from_buffers(arrow_type, len(data), [None, pa.py_buffer(data)])
