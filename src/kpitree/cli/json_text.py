"""Indented JSON text, the same characters as ``json.dumps(payload,
ensure_ascii=False, indent=2, default=str)`` and several times faster on large
payloads (a status at a million leads: tens of thousands of rows).

With ``indent`` set, Python 3.11's :mod:`json` uses its pure-Python encoder for
every value. Here containers are walked in Python, but each run of plain values
(text, numbers, ``None``, booleans, empty containers: anything that is one
line) is written by the C encoder at once, its item separator carrying the
newline and the indentation. Encoded text never holds a raw newline (it is
escaped as ``\\n``), so the layout is only what the separators put there.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from itertools import compress
from typing import Any

__all__ = ["dumps"]

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
    """Whether ``value`` takes more than one line: a non-empty list, tuple or dict."""
    return isinstance(value, _CONTAINERS) and len(value) > 0


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
