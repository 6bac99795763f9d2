"""Validation of mapping files: every problem collected, each located."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from kpitree.errors import Diagnostic, Severity, Span
from kpitree.source import Document, KeyPath, did_you_mean

__all__ = ["Checker"]

# Union members appear in pydantic's error locations as type names.
_TAGS = {"str", "int", "float", "bool", "list", "dict"}


class Checker:
    """Collects every problem of one mapping file before raising."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.diags: list[Diagnostic] = []

    def error(self, code: str, msg_key: str, span: Span, /, **params: Any) -> None:
        self.diags.append(Diagnostic(Severity.ERROR, code, msg_key, params, span))

    def validate(self, model: type[BaseModel], data: Any, path: KeyPath) -> Any:
        """``data`` as ``model``; on errors, record them and try again without the
        offending keys, so the rest of the file is still checked."""
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            self._record(model, exc, path)
            bad = {e["loc"][0] for e in exc.errors() if e["loc"]}
            if isinstance(data, dict) and bad:
                rest = {k: v for k, v in data.items() if k not in bad}
                try:
                    return model.model_validate(rest)
                except ValidationError:
                    return None
            return None

    def _record(self, model: type[BaseModel], exc: ValidationError, path: KeyPath) -> None:
        for err in exc.errors():
            loc = tuple(x for x in err["loc"] if isinstance(x, (str, int)))
            # Union members appear in locations as type names; keep data keys only.
            loc = tuple(x for x in loc if not (isinstance(x, str) and (x in _TAGS or "[" in x)))
            where = (*path, *loc)
            key = str(loc[-1]) if loc else str(path[-1] if path else "")
            if err["type"] == "extra_forbidden":
                names = [f.alias or n for n, f in model.model_fields.items()]
                self.error(
                    "KT351",
                    "data.mapping.unknown_key",
                    self.doc.key_span(where),
                    key=key,
                    hint=did_you_mean(key, names),
                )
            elif err["type"] == "missing":
                self.error("KT352", "data.mapping.missing_key", self.doc.span(path), key=key)
            else:
                self.error(
                    "KT353",
                    "data.mapping.bad_value",
                    self.doc.span(where),
                    key=key,
                    value=str(err.get("input"))[:60],
                )
