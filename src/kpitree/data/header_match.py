"""Finding the columns a mapping reads in a file's header row: headers match
exactly, else ignoring case, width (全角/半角) and spacing; a header that is
missing (with the file's closest one as a hint) or that appears in several
columns is reported, located, all at once."""

from __future__ import annotations

import unicodedata

from kpitree.data.mapping import Mapping
from kpitree.errors import DataError, Diagnostic, Severity, Span
from kpitree.i18n import Msg

__all__ = ["resolve_headers"]


def _norm(header: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", header).casefold().split())


def resolve_headers(mapping: Mapping, headers: tuple[str, ...], path: str) -> dict[str, int]:
    """Source header named in the mapping -> column index in the file.

    Headers match exactly, else ignoring case, width (全角/半角) and spacing. Every
    missing header is reported at once, located in the mapping file.
    """
    exact: dict[str, list[int]] = {}
    loose: dict[str, list[int]] = {}
    for i, h in enumerate(headers):
        exact.setdefault(h, []).append(i)
        loose.setdefault(_norm(h), []).append(i)
    found: dict[str, int] = {}
    diags = []
    wanted: list[tuple[tuple[str, ...], str, Span | None, bool]] = [
        (rule.headers, f"{tbl}.{col}", rule.span, rule.optional)
        for tbl, col, rule in mapping.rules()
        if rule.headers
    ]
    for tm in mapping.tables:
        if isinstance(tm.attributes, tuple):
            wanted += [((h,), f"{tm.table}.attributes", None, False) for h in tm.attributes]
    wanted += [(d.headers, f"dimensions.{d.name}", d.span, False) for d in mapping.dimensions]
    for alternatives, target, span, optional in wanted:
        for h in alternatives:
            idx = exact.get(h, loose.get(_norm(h)))
            if idx is not None:
                if len(idx) > 1:
                    diags.append(_duplicate(path, h, target, idx))
                found[h] = idx[0]
                break
        else:
            if not optional:
                diags.append(
                    Diagnostic(
                        Severity.ERROR,
                        "KT371",
                        "data.file.missing_header",
                        {
                            "path": path,
                            "header": alternatives[0],
                            "target": target,
                            "hint": _closest_hint(alternatives, headers),
                        },
                        span or Span(path, 1, 1),
                    )
                )
    if diags:
        raise DataError(diags)
    return found


def _closest_hint(alternatives: tuple[str, ...], headers: tuple[str, ...]) -> Msg | str:
    """The hint naming the file's closest header to a missing one, if one is close."""
    from kpitree.data.fit import closest_header

    found = closest_header(alternatives, headers)
    return Msg("data.file.closest_header", {"name": found}) if found else ""


def _column_name(index: int) -> str:
    """Excel's letters for a 0-based column index: 0 -> A, 26 -> AA."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def _duplicate(path: str, header: str, target: str, idx: list[int]) -> Diagnostic:
    """KT385: a header the mapping reads appears in several columns."""
    columns = ", ".join(f"{i + 1} ({_column_name(i)})" for i in idx)
    return Diagnostic(
        Severity.ERROR,
        "KT385",
        "data.file.duplicate_header",
        {"path": path, "header": header, "target": target, "columns": columns},
        Span(path, 1, idx[1] + 1),
    )
