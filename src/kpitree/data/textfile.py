"""Text files as Japanese Excel and MA/SFA tools write them: encoding and dialect.

Exports arrive as UTF-8, UTF-8 with a BOM (Excel's "CSV UTF-8") or Shift_JIS
(Excel's plain "CSV" on a Japanese PC, really Microsoft's CP932). Detection reads
the whole file once as UTF-8 (strict), which is also the pass that computes the
file's sha256; only when that fails is CP932 tried, and only when both fail does
``charset-normalizer`` guess. Non-UTF-8 files are transcoded to a temporary UTF-8
file in chunks, so memory stays flat however large the file is.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kpitree.errors import DataError, Span

__all__ = [
    "TextInfo",
    "detect_text",
    "file_sha256",
    "read_lookup",
    "sniff_dialect",
    "to_utf8_file",
    "utf8_head",
]

_CHUNK = 1 << 22  # 4 MiB
_DELIMITERS = (",", "\t", ";", "|")


@dataclass(frozen=True)
class TextInfo:
    """What one pass over the file bytes found."""

    sha256: str
    encoding: str
    """``utf-8``, ``utf-8-sig``, ``cp932`` or what charset-normalizer found."""
    head: str
    """The first decoded characters (for the header row and dialect sniffing)."""
    size: int


def _decodes(path: Path, encoding: str) -> int | None:
    """None if the whole file decodes strictly as ``encoding``, else the byte offset
    of the first undecodable byte."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return offset + exc.start
            offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return offset
    return None


def detect_text(path: Path, encoding: str | None = None) -> TextInfo:
    """Hash the file and find its encoding (``encoding`` skips detection)."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    utf8_ok = True
    first = b""
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if not first:
                first = chunk[:65536]
            if utf8_ok and encoding is None:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8_ok = False
    if encoding is None:
        if utf8_ok:
            encoding = "utf-8-sig" if first.startswith(codecs.BOM_UTF8) else "utf-8"
        elif _decodes(path, "cp932") is None:
            encoding = "cp932"
        else:
            encoding = _guess(path, first)
    head = first.decode(encoding, errors="ignore")
    if head.startswith("\ufeff"):
        head = head[1:]
    return TextInfo(digest.hexdigest(), encoding, head, size)


def utf8_head(path: Path) -> str | None:
    """The first decoded characters if the file's first bytes are UTF-8 (with or
    without a BOM), else ``None``. Only a guess for the whole file: the caller
    must be ready for a later byte that is not UTF-8."""
    with path.open("rb") as fh:
        first = fh.read(65536)
    try:
        head = codecs.getincrementaldecoder("utf-8")(errors="strict").decode(first)
    except UnicodeDecodeError:
        return None
    return head[1:] if head.startswith("\ufeff") else head


def file_sha256(path: Path) -> str:
    """The sha256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _guess(path: Path, sample: bytes) -> str:
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is not None and best.encoding and _decodes(path, best.encoding) is None:
        return str(best.encoding)
    offset = _decodes(path, "cp932") or 0
    raise DataError.of(
        "KT370", "data.file.not_text", Span(str(path), 1, 1), path=str(path), offset=offset
    )


def to_utf8_file(path: Path, encoding: str) -> Path:
    """A temporary UTF-8 copy of ``path`` (the caller deletes it)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    with (
        path.open("rb") as fh,
        tempfile.NamedTemporaryFile("wb", suffix=".csv", prefix="kpitree-", delete=False) as out,
    ):
        while chunk := fh.read(_CHUNK):
            out.write(decoder.decode(chunk).encode("utf-8"))
        out.write(decoder.decode(b"", final=True).encode("utf-8"))
    return Path(out.name)


def sniff_dialect(head: str) -> str:
    """The delimiter of the header line: the most frequent of ``, TAB ; |`` outside
    quotes (comma when none occurs)."""
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for ch in head:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in ("\n", "\r"):
            break
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def header_row(head: str, delimiter: str) -> list[str]:
    """The header cells of a CSV whose first characters are ``head``."""
    reader = csv.reader(io.StringIO(head), delimiter=delimiter, quotechar='"')
    for row in reader:
        return [cell.strip() for cell in row]
    return []


def read_lookup(path: Path, key: str, value: str) -> dict[str, str | None]:
    """A small two-column lookup (e.g. owner -> team) from a CSV file; keys are
    matched ignoring case and surrounding spaces."""
    if not path.exists():
        raise DataError.of("KT002", "file.not_found", Span(str(path), 1, 1), path=str(path))
    info = detect_text(path)
    with path.open(encoding=info.encoding, newline="") as fh:
        if info.encoding == "utf-8" and fh.read(1) != "\ufeff":
            fh.seek(0)
        rows = csv.DictReader(fh, delimiter=sniff_dialect(info.head))
        headers = [h.strip() for h in rows.fieldnames or []]
        for needed in (key, value):
            if needed not in headers:
                from kpitree.source import did_you_mean

                raise DataError.of(
                    "KT371",
                    "data.file.missing_header",
                    Span(str(path), 1, 1),
                    path=str(path),
                    header=needed,
                    target="lookup",
                    hint=did_you_mean(needed, headers),
                )
        out: dict[str, str | None] = {}
        for row in rows:
            clean = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
            out[clean[key].lower()] = clean[value] or None
    return out
