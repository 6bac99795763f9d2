"""Reading YAML with the location of every key and value.

Definition and mapping files are read into plain Python values plus a table of
source spans, so every later check can point at ``file:line:col``. Scalars follow
YAML 1.2 core rules (``no``/``on``/``off`` stay strings, so a node may be called
``on``); mapping keys are always strings; duplicate keys are reported, not
silently overwritten.

Aliases (``*name``) are not expanded blindly: a file whose aliases would
produce more than :data:`MAX_ALIAS_NODES` values in all, or that nests deeper
than :data:`MAX_DEPTH` levels (aliases included), is refused at the place
where it crosses the limit (``KT042``), before anything is built from it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kpitree.errors import Diagnostic, Severity, Span, UserError
from kpitree.i18n import Msg

__all__ = [
    "MAX_ALIAS_NODES",
    "MAX_DEPTH",
    "Document",
    "KeyPath",
    "did_you_mean",
    "load_yaml",
    "parse_yaml",
]

MAX_ALIAS_NODES = 100_000  # values produced by expanding aliases, in one file
MAX_DEPTH = 100  # mappings and lists nested in one another, aliases expanded

KeyPath = tuple[str | int, ...]

_INT = re.compile(r"[-+]?[0-9][0-9_]*")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?")
_NULLS = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}


@dataclass
class Document:
    """Plain data read from one YAML file, with spans for keys and values."""

    path: str
    data: Any
    value_spans: dict[KeyPath, Span] = field(default_factory=dict)
    key_spans: dict[KeyPath, Span] = field(default_factory=dict)
    duplicates: list[tuple[KeyPath, Span, Span]] = field(default_factory=list)
    text: str = ""

    _lines: list[str] | None = field(default=None, repr=False, compare=False)

    def line(self, number: int) -> str:
        """Source line ``number`` (1-based), or an empty string."""
        if self._lines is None:  # split once: every located message asks for a line
            self._lines = self.text.splitlines()
        lines = self._lines
        return lines[number - 1] if 0 < number <= len(lines) else ""

    def span(self, path: Iterable[str | int]) -> Span:
        """Span of the value at ``path``, or of its nearest located ancestor."""
        key = tuple(path)
        while key:
            if key in self.value_spans:
                return self.value_spans[key]
            key = key[:-1]
        return self.value_spans.get((), Span(self.path, 1, 1))

    def key_span(self, path: Iterable[str | int]) -> Span:
        """Span of the mapping key that ends ``path`` (falls back to the value)."""
        key = tuple(path)
        return self.key_spans.get(key) or self.span(key)


def did_you_mean(word: str, candidates: Iterable[str]) -> Msg | str:
    """A localized ``(did you mean 'x'?)`` hint, or an empty string."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return Msg("hint.did_you_mean", {"name": matches[0]}) if matches else ""


def _scalar(node: Any) -> Any:
    text: str = node.value
    if node.style:  # quoted or block scalars are always strings
        return text
    if text in _NULLS:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if _INT.fullmatch(text):
        return int(text.replace("_", ""))
    if _FLOAT.fullmatch(text):
        return float(text.replace("_", ""))
    if text in {".inf", "+.inf", ".Inf", "+.Inf"}:
        return float("inf")
    if text in {"-.inf", "-.Inf"}:
        return float("-inf")
    if text in {".nan", ".NaN", ".NAN"}:
        return float("nan")
    return text


class _Builder:
    def __init__(self, path: str) -> None:
        self.doc = Document(path=path, data=None)

    def span_of(self, node: Any) -> Span:
        start, end = node.start_mark, node.end_mark
        end_col = end.column + 1 if end.line == start.line else None
        return Span(self.doc.path, start.line + 1, start.column + 1, end_col)

    def build(self, node: Any, path: KeyPath) -> Any:
        import yaml

        self.doc.value_spans[path] = self.span_of(node)
        if isinstance(node, yaml.ScalarNode):
            return _scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            merged: dict[str, Any] = {}  # from ``<<: *anchor``; explicit keys win
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge" or key_node.value == "<<":
                    own_span = self.doc.value_spans[path]
                    sources = self.build(value_node, path)
                    self.doc.value_spans[path] = own_span
                    for source in sources if isinstance(sources, list) else [sources]:
                        if isinstance(source, dict):
                            for k, v in source.items():
                                merged.setdefault(k, v)
                    continue
                key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
                child = (*path, key)
                key_span = self.span_of(key_node)
                if key in result:
                    self.doc.duplicates.append((child, self.doc.key_spans[child], key_span))
                    continue
                self.doc.key_spans[child] = key_span
                result[key] = self.build(value_node, child)
            for k, v in merged.items():
                result.setdefault(k, v)
            return result
        return None  # pragma: no cover - composer yields only the three kinds


def _check_shape(text: str, path: str, loader_cls: Any) -> None:
    """Refuse alias bombs and deep nesting from the event stream, before any
    node is composed (libyaml's composer recurses in C, and every alias would
    otherwise be expanded in full)."""
    import yaml

    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (values, levels)
    open_: list[list[Any]] = []  # per open mapping/list: [anchor, values, levels]
    aliased = 0

    def refuse(key: str, mark: Any, limit: int) -> None:
        span = Span(path, mark.line + 1, mark.column + 1)
        raise UserError(Diagnostic(Severity.ERROR, "KT042", key, {"limit": limit}, span))

    def close(anchor: str | None, size: int, levels: int) -> None:
        if anchor:
            anchors[anchor] = (size, levels)
        if open_:
            open_[-1][1] += size
            open_[-1][2] = max(open_[-1][2], levels + 1)

    for event in yaml.parse(text, Loader=loader_cls):
        if isinstance(event, yaml.AliasEvent):
            size, levels = anchors.get(event.anchor or "", (1, 1))
            aliased += size
            if aliased > MAX_ALIAS_NODES:
                refuse("yaml.alias_budget", event.start_mark, MAX_ALIAS_NODES)
            if len(open_) + levels > MAX_DEPTH:
                refuse("yaml.too_deep", event.start_mark, MAX_DEPTH)
            close(None, size, levels)
        elif isinstance(event, yaml.ScalarEvent):
            close(event.anchor, 1, 1)
        elif isinstance(event, yaml.CollectionStartEvent):
            if len(open_) + 1 > MAX_DEPTH:
                refuse("yaml.too_deep", event.start_mark, MAX_DEPTH)
            open_.append([event.anchor, 1, 1])
        elif isinstance(event, yaml.CollectionEndEvent) and open_:
            anchor, size, levels = open_.pop()
            close(anchor, size, levels)


def parse_yaml(text: str, path: str = "<input>") -> Document:
    """Parse YAML text into a :class:`Document`; syntax errors raise a located
    :class:`~kpitree.errors.UserError`."""
    import yaml

    loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        _check_shape(text, path, loader_cls)
        root = yaml.compose(text, Loader=loader_cls)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        span = Span(path, mark.line + 1, mark.column + 1) if mark else Span(path, 1, 1)
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise UserError(
            Diagnostic(Severity.ERROR, "KT001", "yaml.syntax", {"problem": problem}, span)
        ) from None
    except yaml.YAMLError as exc:  # pragma: no cover - non-marked errors are rare
        raise UserError(
            Diagnostic(
                Severity.ERROR, "KT001", "yaml.syntax", {"problem": str(exc)}, Span(path, 1, 1)
            )
        ) from None
    builder = _Builder(path)
    builder.doc.text = text
    if root is not None:
        builder.doc.data = builder.build(root, ())
    else:
        builder.doc.value_spans[()] = Span(path, 1, 1)
    return builder.doc


def load_yaml(path: str | Path) -> Document:
    """Read and parse a UTF-8 YAML file (a BOM is accepted)."""
    p = Path(path)
    shown = str(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise UserError.of("KT002", "file.not_found", Span(shown, 1, 1), path=shown) from None
    except OSError as exc:
        raise UserError.of(
            "KT002", "file.unreadable", Span(shown, 1, 1), path=shown, reason=exc.strerror
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UserError.of("KT003", "file.not_utf8", Span(shown, line, 1), path=shown) from None
    return parse_yaml(text, shown)
