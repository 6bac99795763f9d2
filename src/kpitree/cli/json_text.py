"""Indented JSON text, the same characters as ``json.dumps(payload,
ensure_ascii=False, indent=2, default=str)`` and several times faster on large
payloads (a status at a million leads: tens of thousands of rows).

With ``indent`` set, Python 3.11's :mod:`json` uses its pure-Python encoder for
every value. Here containers are walked in Python, but each run of plain values
(text, numbers, ``None``, booleans, empty containers: anything that is one
line) is written by the C encoder at once, its item separator carrying the
newline and the indentation. Encoded text never holds a raw newline (it is
escaped as ``\\n``), so the layout is only what the separators put there.

A long list of dicts with the same keys (the rows of a status) can be given
as :class:`Records`, its values a column at a time: each column is encoded
by one call of the C encoder (split on a separator that encoded text never
holds), and each row is a ``%`` of one template, without a dict per row.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from itertools import compress
from typing import Any

__all__ = ["Records", "dumps"]

_INDENT = "  "


def dumps(payload: Any) -> str:
    """``payload`` as ``json.dumps(payload, ensure_ascii=False, indent=2, default=str)``."""
    if not _nested(payload):
        return _flat(0)(payload)
    parts: list[str] = []
    _write(payload, 0, parts)
    return "".join(parts)


@cache
def _flat(level: int) -> Callable[[Any], str]:
    """The text of a value on one line, items separated for ``level``: the C
    encoder (``json``'s own, made once per level), else the JSON encoder."""
    from json import encoder as stdlib

    separator = ",\n" + _INDENT * level
    make = getattr(stdlib, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython has it
        return json.JSONEncoder(
            ensure_ascii=False, separators=(separator, ": "), default=str
        ).encode
    # markers, default, text encoder, indent, key and item separators, sort_keys,
    # skipkeys, allow_nan: what JSONEncoder passes for these settings, no cycle check
    encode = make(None, str, stdlib.encode_basestring, None, ": ", separator, False, False, True)
    return lambda value: "".join(encode(value, 0))


_CONTAINERS = (list, tuple, dict)
_CONTAINER_TYPES = frozenset(_CONTAINERS)


def _nested(value: Any) -> bool:
    """Whether ``value`` takes more than one line: a non-empty list, tuple or dict
    (:class:`Records` are written by their own writer, even when empty)."""
    return (isinstance(value, _CONTAINERS) and len(value) > 0) or isinstance(value, Records)


def _multiline(values: list[Any]) -> list[int]:
    """The positions of ``values`` that take more than one line, found with
    the types looked at in C (rows of a status have thirty values, one nested)."""
    kinds = list(map(type, values))
    if all(map(_KNOWN.__contains__, kinds)):
        maybe = compress(range(len(values)), map(_CONTAINER_TYPES.__contains__, kinds))
        return [i for i in maybe if values[i]]
    return [i for i, v in enumerate(values) if _nested(v)]  # subclasses of containers


_PLAIN = frozenset({str, int, float, bool, type(None)})
_KNOWN = _PLAIN | _CONTAINER_TYPES


def _write(value: Any, level: int, out: list[str]) -> None:
    """A non-empty list, tuple or dict at ``level``, its items one per line."""
    if isinstance(value, Records):
        out.append(value.text(level))
        return
    keyed = isinstance(value, dict)
    if keyed and not _text_keys(value):
        # Keys that json turns into text (numbers, None, booleans): its own encoder.
        text = json.dumps(value, ensure_ascii=False, indent=2, default=str)
        out.append(text.replace("\n", "\n" + _INDENT * level))
        return
    inner = level + 1
    pad = "\n" + _INDENT * inner
    opening, close = ("{", "}") if keyed else ("[", "]")
    close = "\n" + _INDENT * level + close
    items: list[Any] = list(value.items()) if keyed else list(value)
    nested = _multiline(list(value.values()) if keyed else items)
    flat = _flat(inner)
    if not nested:  # every item on one line: written at once
        out.append(opening + pad + flat(value)[1:-1] + close)
        return
    out.append(opening + pad)
    start = 0
    for i in [*nested, len(items)]:
        if i > start:  # a run of one-line items, written at once
            if start:
                out.append("," + pad)
            run = dict(items[start:i]) if keyed else items[start:i]
            out.append(flat(run)[1:-1])  # without the run's own brackets
        if i == len(items):
            break
        if i:
            out.append("," + pad)
        item = items[i]
        if keyed:
            out.append(flat(item[0]) + ": ")
            item = item[1]
        _write(item, inner, out)
        start = i + 1
    out.append(close)


def _text_keys(value: dict[Any, Any]) -> bool:
    kinds = set(map(type, value))
    return kinds <= {str} or all(isinstance(k, str) for k in value)


class Records:
    """A list of dicts that all have ``keys`` (text), in that order, given as
    ``columns`` (a sequence of values per key, all as long): what
    :func:`dumps` writes as that list, a column at a time."""

    def __init__(self, keys: Sequence[str], columns: Sequence[Sequence[Any]]) -> None:
        if len(keys) != len(columns) or not all(type(k) is str for k in keys):
            raise ValueError("Records needs one column per text key")
        lengths = {len(c) for c in columns}
        if len(lengths) > 1:
            raise ValueError("the columns of Records differ in length")
        self.keys = list(keys)
        self.columns = [list(c) for c in columns]
        self._length = lengths.pop() if lengths else 0

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """The dicts themselves (for readers other than :func:`dumps`)."""
        for row in zip(*self.columns, strict=True):
            yield dict(zip(self.keys, row, strict=True))

    def text(self, level: int) -> str:
        """The list's text where a value at ``level`` of :func:`dumps` starts."""
        if not self._length:
            return "[]"
        row_pad = "\n" + _INDENT * (level + 1)
        pad = "\n" + _INDENT * (level + 2)
        key = _flat(0)
        # One list of every piece (a field's lead-in, then its value's text),
        # filled a column at a time by slices and joined once.
        leads = [key(k) + ": " for k in self.keys]
        leads = ["{" + pad + leads[0], *("," + pad + lead for lead in leads[1:])]
        leads[0] = row_pad + leads[0]
        width = 2 * len(leads) + 1
        pieces: list[str] = [""] * (width * self._length)
        for j, (lead, column) in enumerate(zip(leads, self.columns, strict=True)):
            pieces[2 * j :: width] = [lead] * self._length
            pieces[2 * j + 1 :: width] = _column_text(column, level + 2)
        pieces[width - 1 :: width] = [row_pad + "},"] * self._length
        pieces[-1] = row_pad + "}\n" + _INDENT * level + "]"
        return "[" + "".join(pieces)


# What the C encoder never writes inside a value's text: control characters
# in text are escaped (``\u0000``), numbers and literals are plain ASCII.
_CUT = "\x00"


@cache
def _cut_encoder() -> Callable[[Any], str]:
    from json import encoder as stdlib

    make = getattr(stdlib, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython has it
        return json.JSONEncoder(ensure_ascii=False, separators=(_CUT, ": "), default=str).encode
    encode = make(None, str, stdlib.encode_basestring, None, ": ", _CUT, False, False, True)
    return lambda value: "".join(encode(value, 0))


def _column_text(values: list[Any], level: int) -> list[str]:
    """The text of each of ``values`` where a value at ``level`` starts: the
    one-line values by one call of the C encoder, the others each written
    (once per object: rows often share a segment)."""
    nested = _multiline(values)
    if nested:
        flat_values = list(values)
        for i in nested:
            flat_values[i] = None
    else:
        flat_values = values
    texts = _cut_encoder()(flat_values)[1:-1].split(_CUT)
    made: dict[int, str] = {}
    for i in nested:
        value = values[i]
        text = made.get(id(value))
        if text is None:
            out: list[str] = []
            _write(value, level, out)
            text = made[id(value)] = "".join(out)
        texts[i] = text
    return texts
