"""Errors and source locations shared by every layer.

Exception tree::

    KpitreeError                 root of everything kpitree raises on purpose
    ├── UserError (ValueError)   the user's input is wrong; message says where and how to fix
    │   ├── DefinitionError      kpitree.yaml (or an included file) has errors
    │   ├── PlanError            the tree cannot be planned (under- or over-determined)
    │   └── DataError            an import file or mapping is wrong
    └── InternalError            a bug or an environment problem, never the user's fault

Front ends (CLI, web) catch ``KpitreeError`` in one place and render it; a
``UserError`` never shows a traceback unless ``--debug`` is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "DataError",
    "DefinitionError",
    "Diagnostic",
    "InternalError",
    "KpitreeError",
    "PlanError",
    "Severity",
    "Span",
    "UserError",
]


@dataclass(frozen=True, slots=True)
class Span:
    """A place in a source file. ``line`` and ``column`` are 1-based; ``end_column`` is
    exclusive and only set when the span covers a known range on one line."""

    file: str | None
    line: int
    column: int
    end_column: int | None = None

    def shifted(self, offset: int, length: int | None = None) -> Span:
        """A span ``offset`` characters to the right on the same line."""
        start = self.column + offset
        end = start + length if length is not None else None
        return Span(self.file, self.line, start, end)

    def __str__(self) -> str:
        return f"{self.file or '<input>'}:{self.line}:{self.column}"


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in the user's input.

    The text is not stored but rendered from the message catalog (``key`` with
    ``params``) in the user's language, so the same diagnostic can be shown in
    Japanese and English.
    """

    severity: Severity
    code: str
    key: str
    params: Mapping[str, Any] = field(default_factory=dict)
    span: Span | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def message(self, lang: str | None = None) -> str:
        from kpitree.i18n import t

        return t(self.key, lang=lang, **self.params)

    def to_json(self, lang: str | None = None) -> dict[str, Any]:
        span = self.span
        return {
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message(lang),
            "file": span.file if span else None,
            "line": span.line if span else None,
            "column": span.column if span else None,
            "end_column": span.end_column if span else None,
        }


class KpitreeError(Exception):
    """Root of every error kpitree raises on purpose."""


class UserError(KpitreeError, ValueError):
    """The user's input is wrong. Carries one or more located diagnostics."""

    def __init__(self, diagnostics: Iterable[Diagnostic] | Diagnostic) -> None:
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)
        super().__init__("; ".join(d.message("en") for d in self.diagnostics))

    @classmethod
    def of(cls, code: str, key: str, span: Span | None = None, **params: Any) -> UserError:
        """Build the error from a single message-catalog entry."""
        return cls(Diagnostic(Severity.ERROR, code, key, params, span))


class DefinitionError(UserError):
    """The tree definition has errors."""


class PlanError(UserError):
    """The tree cannot be planned as given."""


class DataError(UserError):
    """An import file, mapping or data source is wrong."""


class InternalError(KpitreeError):
    """Something went wrong that is not the user's fault."""
