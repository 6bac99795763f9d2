"""Filter values as one URL parameter: ``?team=East,West`` is two teams, so a
value that holds a comma itself (a team ``East, West``, a company
``株式会社A, Inc.``) is written in double quotes, the way CSV quotes a field:
``?team="East, West",North``.

The rule, for the pages, their JSON twins, the records lists, shared links and
the links in reports:

- values are separated by ``,``; spaces around a value are not part of it;
- a value holding ``,`` or ``"``, or starting or ending with a space, is
  written between ``"`` with each ``"`` in it doubled;
- everything else (Japanese, ``/``, ``&``, ``%``, ``#``...) is written as it
  is; the URL's own percent-encoding carries it.

A value typed by hand without quotes (``East,West``) still means two values,
as before.

>>> filter_text(["East, West", "North"])
'"East, West",North'
>>> filter_values('"East, West", North')
['East, West', 'North']
>>> filter_values(filter_text(['say "hi"', "東日本,西日本"]))
['say "hi"', '東日本,西日本']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["filter_params", "filter_text", "filter_values", "read_value"]

_QUOTE = '"'


def _needs_quotes(value: str) -> bool:
    return "," in value or _QUOTE in value or value != value.strip()


def filter_text(values: Iterable[object]) -> str:
    """``values`` as one parameter value (see the module's rule)."""
    out = []
    for value in values:
        text = str(value)
        if _needs_quotes(text):
            text = _QUOTE + text.replace(_QUOTE, _QUOTE * 2) + _QUOTE
        out.append(text)
    return ",".join(out)


def read_value(text: str, start: int = 0) -> tuple[str, int]:
    """The one value written at ``text[start:]`` (quoted or not) and the
    index of the ``,`` that ends it (``len(text)`` at the end).

    >>> read_value('team="East, West",x=1', 5)
    ('East, West', 17)
    """
    i, n = start, len(text)
    while i < n and text[i].isspace():
        i += 1
    if i < n and text[i] == _QUOTE:
        i += 1
        part: list[str] = []
        while i < n:
            if text[i] == _QUOTE:
                if i + 1 < n and text[i + 1] == _QUOTE:
                    part.append(_QUOTE)
                    i += 2
                    continue
                i += 1
                break
            part.append(text[i])
            i += 1
        # Anything between the closing quote and the next comma is kept.
        end = text.find(",", i)
        end = n if end < 0 else end
        return "".join(part) + text[i:end].rstrip(), end
    end = text.find(",", i)
    end = n if end < 0 else end
    return text[i:end].strip(), end


def filter_values(text: str) -> list[str]:
    """The values one parameter value holds, in order, without empty ones
    (the inverse of :func:`filter_text`). An unclosed quote runs to the end."""
    found: list[str] = []
    i, n = 0, len(text)
    while i <= n:
        value, end = read_value(text, i)
        if value:
            found.append(value)
        i = end + 1
    return found


def filter_params(filters: Mapping[str, object]) -> dict[str, str]:
    """``{dimension: value}`` (one value each) as URL parameters."""
    return {dim: filter_text([value]) for dim, value in filters.items()}
