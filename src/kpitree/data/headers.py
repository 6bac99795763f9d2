"""The header row of an export, read without mapping it (``kpitree mappings
detect``): with the import's readers, and for a CSV from its first record only."""

from __future__ import annotations

import codecs
from pathlib import Path

from kpitree.data.mapping import Mapping, SourceOptions
from kpitree.data.readers import XLSX_SUFFIXES, check_columns, connect, load_csv
from kpitree.data.textfile import check_encoding_name, header_row, read_head, sniff_dialect
from kpitree.errors import DataError, Span

__all__ = ["read_headers"]


def read_headers(
    path: str | Path, *, sheet: str | None = None, encoding: str | None = None
) -> tuple[str, ...]:
    """The header row of a CSV/XLSX export, read as an import reads it (same
    encodings, checks and limits)."""
    from kpitree.data.xlsx import load_xlsx

    p = Path(path)
    shown = str(path)
    if not p.exists() or p.is_dir():
        raise DataError.of("KT002", "file.not_found", Span(shown, 1, 1), path=shown)
    suffix = p.suffix.lower()
    if suffix == ".xls":
        raise DataError.of(
            "KT376", "data.file.unsupported", Span(shown, 1, 1), path=shown, suffix=suffix
        )
    if suffix not in XLSX_SUFFIXES:
        found = _csv_header_only(p, shown, encoding)
        if found is not None:
            return found
    plain = Mapping("detect", None, SourceOptions(), {}, ())
    con = connect()
    try:
        if suffix in XLSX_SUFFIXES:
            return load_xlsx(con, p, shown, sheet, None).headers
        return load_csv(con, p, shown, plain, encoding, None).headers
    finally:
        con.close()


def _csv_header_only(path: Path, shown: str, encoding: str | None) -> tuple[str, ...] | None:
    """A CSV's header row read from the file's first record only (so that a large
    export is not read whole to see its headers): in the encoding named, else
    UTF-16 (BOM), UTF-8 or Shift_JIS, the first that decodes the header cleanly.
    None when none does: then the whole file is read, to report where it breaks."""
    with path.open("rb") as fh:
        start = fh.read(4)
    if encoding is not None:
        candidates = [check_encoding_name(encoding)]
    elif start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        candidates = ["utf-8-sig", "cp932"]
    for enc in candidates:
        head = read_head(path, enc, shown)
        delimiter = sniff_dialect(head)
        headers = header_row(head, delimiter)
        if any("\ufffd" in h for h in headers):
            continue
        if not headers or headers == [""]:
            raise DataError.of("KT372", "data.file.empty", Span(shown, 1, 1), path=shown)
        check_columns(len(headers), shown)
        return tuple(headers)
    return None
