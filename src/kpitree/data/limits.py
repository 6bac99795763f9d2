"""The documented limits of what an import reads (see ``docs/data.md``, Limits).

Everything below them imports; a file beyond one is refused with a message that
names the limit. They bound the memory and time a file can make an import (or a
web preview) spend, whatever its size on disk.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LIMITS", "Limits"]


@dataclass(frozen=True)
class Limits:
    max_columns: int = 16_384
    """Columns per file: Excel's own maximum (XFD)."""
    max_rows: int = 20_000_000
    """Data rows per CSV file."""
    max_xlsx_rows: int = 1_048_576
    """Rows per XLSX sheet: Excel's own maximum."""
    max_cell_chars: int = 1_048_576
    """Characters in one cell (1 Mi)."""
    max_row_bytes: int = 16 * 1024 * 1024
    """Bytes in one CSV record (all its cells), the header row included."""
    max_xlsx_inflated: int = 512 * 1024 * 1024
    """Bytes an XLSX workbook may inflate to (all its parts together)."""
    max_xlsx_ratio: int = 100
    """How many times its compressed size one XLSX part may inflate to (parts
    over 1 MiB); what decompression bombs exceed and real workbooks do not."""


LIMITS = Limits()
