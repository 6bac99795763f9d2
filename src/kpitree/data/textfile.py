"""Text files as Japanese Excel and MA/SFA tools write them: encoding and dialect.

Exports arrive as UTF-8, UTF-8 with a BOM (Excel's "CSV UTF-8"), Shift_JIS
(Excel's plain "CSV" on a Japanese PC, really Microsoft's CP932) or UTF-16 with a
BOM (Excel's "Unicode text"). Nothing is guessed: a file is UTF-8 when it all
decodes as UTF-8; otherwise the first line with non-ASCII bytes decides between
UTF-8 and Shift_JIS, and the whole file must then decode in that encoding. The
first byte that does not is refused with its row and column, as is a Shift_JIS
file with rows written in UTF-8; other encodings are read only when the mapping
(``source.encoding``) or ``kpitree import --encoding`` names them.

Non-UTF-8 files are transcoded to a temporary UTF-8 file in chunks, so memory
stays flat however large the file is.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kpitree.data.limits import LIMITS
from kpitree.data.locate import locate
from kpitree.errors import DataError, Diagnostic, Severity, Span, UserError

__all__ = [
    "ByteScan",
    "TextInfo",
    "check_encoding_name",
    "detect_text",
    "header_row",
    "read_head",
    "read_lookup",
    "scan_bytes",
    "sniff_dialect",
    "to_utf8_file",
]

_CHUNK = 1 << 22  # 4 MiB
_DELIMITERS = (",", "\t", ";", "|")
_SJIS_NAMES = {"shift_jis", "shift-jis", "sjis", "s_jis", "cp932", "ms932", "windows-31j"}
# Two or more UTF-8 characters of three bytes in a row: how Japanese looks in UTF-8.
_UTF8_JA = re.compile(rb"(?:[\xe1-\xef][\x80-\xbf]{2}){2,}")
_WIDE = re.compile(rb"[\xe0-\xf4]")
# Bytes Python's cp932 codec maps to U+0080 and private use U+F8F0..U+F8F3
# although no Shift_JIS text holds them alone (0x80, 0xA0, 0xFD-0xFF).
_CP932_STRAY = re.compile("[\x80\uf8f0-\uf8f3]")
_HIGH = re.compile(rb"[\x80-\xff]")
# Where a Shift_JIS export lost characters: runs of "?", or a "?" beside Japanese.
_LOST = re.compile(rb"\?{2,}|(?<=[\x80-\xfc])\?|\?(?=[\x81-\x9f\xa1-\xdf\xe0-\xef])")


@dataclass(frozen=True)
class TextInfo:
    """What reading the file's bytes found."""

    sha256: str
    encoding: str
    """``utf-8``, ``utf-8-sig``, ``cp932``, ``utf-16`` or the encoding named."""
    size: int
    warnings: tuple[Diagnostic, ...] = ()


@dataclass(frozen=True)
class ByteScan:
    """One pass over a file's bytes: its hash and size, and where (byte offset)
    the first NUL byte, byte-order mark after the start, and byte that is not
    UTF-8 are (``None``: none; ``utf8_bad`` only when asked for)."""

    sha256: str
    size: int
    nul: int | None
    bom: int | None
    utf8_bad: int | None
    newlines: int = 0
    """How many LF bytes the file holds."""
    utf8_checked: bool = False
    """Whether every byte was checked to be UTF-8 (``utf8_bad`` is then known)."""
    stamp: tuple[int, ...] | None = None
    """The file's identity, size and times while it was read (``None``: they
    changed during the scan)."""

    def of_file(self, path: Path, *, utf8: bool) -> bool:
        """Whether this scan is what scanning ``path`` (``utf8``: checking it is
        UTF-8) again would give: the file is still the one scanned, unchanged."""
        if self.stamp is None or (utf8 and not self.utf8_checked):
            return False
        try:
            return _stamp(path.stat()) == self.stamp
        except OSError:
            return False


def _stamp(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def scan_bytes(path: Path, *, utf8: bool = False) -> ByteScan:
    """Hash ``path`` and find NUL bytes and inner BOMs (``utf8``: also the first
    byte that is not UTF-8) in one pass; ``bytes.find`` runs at memory speed."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    bom = codecs.BOM_UTF8
    nul = inner = bad = None
    offset = newlines = 0
    tail = b""
    with path.open("rb") as fh:
        before = _stamp(os.fstat(fh.fileno()))
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            newlines += chunk.count(b"\n")
            if nul is None and (i := chunk.find(b"\0")) >= 0:
                nul = offset + i
            # A one-byte search runs at memory speed, a three-byte one far slower
            # (0.15 s for 270 MB of Japanese text): the BOM's first byte first.
            if inner is None and (b"\xef" in chunk or b"\xef" in tail):
                window = tail + chunk
                start = offset - len(tail)
                i = window.find(bom, 1 if start == 0 else 0)
                if i >= 0:
                    inner = start + i
            if utf8 and bad is None:
                pending = len(decoder.getstate()[0])
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    bad = offset - pending + exc.start
            offset += len(chunk)
            tail = chunk[-2:]
        after = _stamp(os.fstat(fh.fileno()))
    if utf8 and bad is None:
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            bad = offset - pending
    # A named pipe or a file written meanwhile is not known by its stamp.
    same = before == after and after[2] == offset and path.is_file()
    stamp = after if same else None
    return ByteScan(digest.hexdigest(), offset, nul, inner, bad, newlines, utf8, stamp)


def check_encoding_name(name: str) -> str:
    """The codec for an encoding a user named (Shift_JIS means CP932, as Excel
    writes it); KT393 when Python knows no such encoding."""
    if name.strip().lower() in _SJIS_NAMES:
        return "cp932"
    try:
        return codecs.lookup(name.strip()).name
    except LookupError:
        raise DataError.of("KT393", "data.file.unknown_encoding", None, encoding=name) from None


def _first_bad(path: Path, encoding: str) -> int | None:
    """The byte offset of the first byte that does not decode strictly as
    ``encoding``, or None."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            pending = len(decoder.getstate()[0])
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return max(offset - pending + exc.start, 0)
            if encoding == "cp932" and (stray := _CP932_STRAY.search(text)):
                return offset - pending + len(text[: stray.start()].encode("cp932"))
            offset += len(chunk)
    pending = len(decoder.getstate()[0])
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return offset - pending
    return None


def _line_at(path: Path, offset: int) -> bytes:
    """The physical line (without its end) holding byte ``offset``."""
    with path.open("rb") as fh:
        start = max(offset - 65536, 0)
        fh.seek(start)
        before = fh.read(offset - start)
        after = fh.read(65536)
    cut = max(before.rfind(b"\n"), before.rfind(b"\r"))
    line = before[cut + 1 :] + after
    ends = [i for i in (line.find(b"\n"), line.find(b"\r")) if i >= 0]
    return line[: min(ends)] if ends else line


def _first_non_ascii(path: Path) -> int | None:
    offset = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            if not chunk.isascii():
                found = _HIGH.search(chunk)
                assert found is not None
                return offset + found.start()
            offset += len(chunk)
    return None


def _has_wide_utf8(path: Path, start: int, end: int) -> bool:
    """Whether bytes ``start:end`` (valid UTF-8) hold a character of three or
    four bytes (how Japanese is written in UTF-8): then the file is UTF-8."""
    with path.open("rb") as fh:
        fh.seek(start)
        while start < end and (chunk := fh.read(min(_CHUNK, end - start))):
            if _WIDE.search(chunk):
                return True
            start += len(chunk)
    return False


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _refuse(
    path: Path, shown: str, offset: int, encoding: str, delimiter: str | None, key: str, code: str
) -> UserError:
    with path.open("rb") as fh:
        fh.seek(offset)
        byte = fh.read(1)
    row, col = locate(path, offset, encoding.split(" or ")[0], delimiter)
    return DataError.of(
        code,
        key,
        Span(shown, row, col),
        path=shown,
        row=row,
        column=col,
        byte=f"0x{byte.hex().upper()}" if byte else "",
        encoding=_label(encoding),
    )


def _label(encoding: str) -> str:
    names = {"cp932": "Shift_JIS", "utf-8-sig": "UTF-8", "utf-8": "UTF-8"}
    return " / ".join(names.get(e, e) for e in encoding.split(" or "))


def detect_text(
    path: Path,
    encoding: str | None = None,
    *,
    shown: str | None = None,
    delimiter: str | None = None,
) -> TextInfo:
    """Hash the file and find its encoding (``encoding``: the one the user named);
    KT380 at the first byte that does not decode, KT381 for a Shift_JIS file with
    UTF-8 rows, KT386 for a NUL byte or a byte-order mark inside the text."""
    shown = shown if shown is not None else str(path)
    with path.open("rb") as fh:
        start = fh.read(4)
    if encoding is None and start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    scan = scan_bytes(path, utf8=encoding is None)
    warnings: tuple[Diagnostic, ...] = ()
    if encoding is not None:
        encoding = check_encoding_name(encoding)
        bad = _first_bad(path, encoding)
        if bad is not None:
            raise _refuse(path, shown, bad, encoding, delimiter, "data.file.bad_byte", "KT380")
    elif scan.utf8_bad is None:
        encoding = "utf-8-sig" if start.startswith(codecs.BOM_UTF8) else "utf-8"
    else:
        first = _first_non_ascii(path)
        if first is not None and _has_wide_utf8(path, first, scan.utf8_bad):
            raise _refuse(
                path, shown, scan.utf8_bad, "utf-8", delimiter, "data.file.bad_byte", "KT380"
            )
        encoding = "cp932"
        bad = _first_bad(path, encoding)
        if bad is not None:
            label = "utf-8 or cp932" if bad == first else encoding
            raise _refuse(path, shown, bad, label, delimiter, "data.file.bad_byte", "KT380")
        mixed = _utf8_row(path)
        if mixed is not None:
            raise _refuse(path, shown, mixed, "utf-8", delimiter, "data.file.mixed", "KT381")
        warnings = _lost_characters(path, shown, delimiter)
    if encoding in ("utf-8", "utf-8-sig"):
        _check_controls(path, shown, scan, encoding, delimiter)
    return TextInfo(scan.sha256, encoding, scan.size, warnings)


def _check_controls(
    path: Path, shown: str, scan: ByteScan, encoding: str, delimiter: str | None
) -> None:
    """KT386 at the first NUL byte or byte-order mark inside a UTF-8 file."""
    found = [o for o in (scan.nul, scan.bom) if o is not None]
    if not found:
        return
    offset = min(found)
    row, col = locate(path, offset, encoding, delimiter)
    what = "NUL" if offset == scan.nul else "BOM"
    raise DataError.of(
        "KT386",
        f"data.file.control_{what.lower()}",
        Span(shown, row, col),
        path=shown,
        row=row,
        column=col,
    )


def _utf8_row(path: Path) -> int | None:
    """In a Shift_JIS file: the offset of the first line that is UTF-8 Japanese."""
    checked_to = -1
    offset = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            for m in _UTF8_JA.finditer(chunk):
                at = offset + m.start()
                if at <= checked_to:
                    continue
                line = _line_at(path, at)
                if _is_utf8(line):
                    return at
                checked_to = at + len(line)
            offset += len(chunk)
    return None


def _lost_characters(path: Path, shown: str, delimiter: str | None) -> tuple[Diagnostic, ...]:
    """KT382 (a warning) where a Shift_JIS export wrote ``?`` for characters it
    could not hold: the first place, and how many there are."""
    first = None
    count = 0
    offset = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            for m in _LOST.finditer(chunk):
                count += 1
                if first is None:
                    first = offset + m.start()
            offset += len(chunk)
    if first is None:
        return ()
    row, col = locate(path, first, "cp932", delimiter)
    return (
        Diagnostic(
            Severity.WARNING,
            "KT382",
            "data.file.lost_characters",
            {"path": shown, "row": row, "column": col, "count": count},
            Span(shown, row, col),
        ),
    )


def read_head(path: Path, encoding: str, shown: str | None = None) -> str:
    """The decoded text from the start of the file to the end of its first
    record (the header row), however long (KT389 beyond the row size limit)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    parts: list[str] = []
    read = 0
    quoted = False
    with path.open("rb") as fh:
        while chunk := fh.read(65536):
            read += len(chunk)
            part = decoder.decode(chunk)
            parts.append(part)
            ended, quoted = _record_end(part, quoted)
            if ended:
                break
            if read > LIMITS.max_row_bytes:
                shown = shown if shown is not None else str(path)
                raise DataError.of(
                    "KT389",
                    "data.file.row_too_large",
                    Span(shown, 1, 1),
                    path=shown,
                    row=1,
                    limit=LIMITS.max_row_bytes // 1024 // 1024,
                )
        parts.append(decoder.decode(b"", final=True))
    text = "".join(parts)
    return text[1:] if text.startswith("\ufeff") else text


def _record_end(text: str, quoted: bool) -> tuple[bool, bool]:
    """Whether ``text`` (continuing a record, inside quotes or not) holds a line
    break outside quotes, and whether it ends inside quotes."""
    for piece in _QUOTES.split(text):
        if piece == '"':
            quoted = not quoted
        elif not quoted and ("\n" in piece or "\r" in piece):
            return True, quoted
    return False, quoted


_QUOTES = re.compile('(")')


def to_utf8_file(path: Path, encoding: str) -> Path:
    """A temporary UTF-8 copy of ``path`` (the caller deletes it); a leading BOM
    is dropped."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    first = True
    with (
        path.open("rb") as fh,
        tempfile.NamedTemporaryFile("wb", suffix=".csv", prefix="kpitree-", delete=False) as out,
    ):
        while chunk := fh.read(_CHUNK):
            text = decoder.decode(chunk)
            if first and text:
                text = text.removeprefix("\ufeff")
                first = False
            out.write(text.encode("utf-8"))
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
    """The header cells of a CSV whose first characters are ``head`` (any line
    ends: CRLF, LF, or CR alone as Excel's "CSV (Macintosh)" writes)."""
    reader = csv.reader(io.StringIO(head, newline=""), delimiter=delimiter, quotechar='"')
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
        head = read_head(path, info.encoding)
        rows = csv.DictReader(fh, delimiter=sniff_dialect(head))
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
