"""Turning pydantic validation errors into located, localized diagnostics."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ValidationError

from kpitree.errors import Diagnostic, Severity
from kpitree.source import Document, KeyPath, did_you_mean

__all__ = ["validation_diagnostics"]

_TYPE_KEYS = {
    "float_parsing": "def.expected_number",
    "float_type": "def.expected_number",
    "int_parsing": "def.expected_integer",
    "int_type": "def.expected_integer",
    "int_from_float": "def.expected_integer",
    "string_type": "def.expected_text",
    "dict_type": "def.expected_mapping",
    "model_type": "def.expected_mapping",
    "model_attributes_type": "def.expected_mapping",
    "list_type": "def.expected_list",
    "bool_type": "def.expected_bool",
    "bool_parsing": "def.expected_bool",
    "finite_number": "def.not_finite",
}


def _members(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        out: list[Any] = []
        for arg in typing.get_args(annotation):
            out.extend(_members(arg))
        return out
    return [annotation]


def _is_member(member: Any, elem: Any) -> bool:
    """Whether ``elem`` in an error location names union member ``member``: by
    its type name, or (a discriminated union) by the value of its tag field."""
    if _tag(member) == elem:
        return True
    if isinstance(member, type) and issubclass(member, BaseModel):
        return any(
            typing.get_origin(f.annotation) is typing.Literal
            and elem in typing.get_args(f.annotation)
            for f in member.model_fields.values()
        )
    return False


def _tag(member: Any) -> str:
    name = getattr(member, "__name__", None)
    if name and typing.get_origin(member) is None:
        return str(name)
    return str(member).replace(" ", "").replace("typing.", "")


def _resolve(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[KeyPath, Any]:
    """Walk ``loc`` through the model's annotations.

    Pydantic puts a union-member tag (``'str'``, ``'LocalizedText'``,
    ``'dict[str,float]'``) into the location of errors inside a union; those are
    not data keys and are dropped. Returns the data path and the annotation that
    holds the last key (for "did you mean" suggestions).
    """
    path: list[str | int] = []
    current: Any = model
    container: Any = model
    i = 0
    while i < len(loc):
        elem = loc[i]
        members = [m for m in _members(current) if m is not type(None)]
        if len(members) > 1:
            current = next((m for m in members if _is_member(m, elem)), members[0])
            i += 1
            continue
        member = members[0] if members else current
        container = member
        path.append(elem)
        if isinstance(member, type) and issubclass(member, BaseModel):
            if not (isinstance(elem, str) and elem in member.model_fields):
                break
            current = member.model_fields[elem].annotation
        elif typing.get_origin(member) in (dict, list):
            current = typing.get_args(member)[-1]
        else:
            break
        i += 1
    return tuple(path), container


def _field_names(container: Any) -> list[str]:
    names: list[str] = []
    for opt in _members(container):
        if isinstance(opt, type) and issubclass(opt, BaseModel):
            names.extend(opt.model_fields)
    return names


def validation_diagnostics(
    exc: ValidationError,
    model: type[BaseModel],
    doc: Document,
    base: KeyPath = (),
    skip_keys: frozenset[str] = frozenset(),
) -> Iterator[Diagnostic]:
    """One diagnostic per distinct problem, located in ``doc`` under ``base``.

    For a union (``label: str | {ja, en}``) pydantic reports one error per
    member; only the most specific ones (deepest location) are kept.
    """
    grouped: dict[KeyPath, list[tuple[int, dict[str, Any], Any]]] = {}
    for err in exc.errors():
        path, container = _resolve(model, tuple(err["loc"]))
        if path and path[0] in skip_keys:
            continue
        grouped.setdefault(path, []).append((len(err["loc"]), dict(err), container))
    for path, errors in grouped.items():
        if any(len(other) > len(path) and other[: len(path)] == path for other in grouped):
            continue  # a union member reported the deeper, more specific problem
        deepest = max(depth for depth, _, _ in errors)
        if any(e["type"] == "extra_forbidden" for _, e, _ in errors):
            errors = [x for x in errors if x[1]["type"] == "extra_forbidden"]
        else:
            errors = [x for x in errors if x[0] == deepest][:1]
        for _, details, container in errors:
            yield _diagnostic(details, container, doc, (*base, *path))


def _diagnostic(err: dict[str, Any], container: Any, doc: Document, path: KeyPath) -> Diagnostic:
    kind = err["type"]
    name = str(path[-1]) if path else ""
    where = ".".join(str(p) for p in path[:-1]) or "top level"
    if kind == "extra_forbidden":
        hint = did_you_mean(name, _field_names(container))
        return Diagnostic(
            Severity.ERROR,
            "KT010",
            "def.unknown_key",
            {"key": name, "where": where, "hint": hint},
            doc.key_span(path),
        )
    if kind == "missing":
        return Diagnostic(
            Severity.ERROR,
            "KT011",
            "def.missing_key",
            {"key": name, "where": where},
            doc.span(path[:-1]),
        )
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        allowed = [p.strip().strip("'") for p in expected.replace(" or ", ", ").split(",")]
        given = err.get("input")
        hint = did_you_mean(str(given), allowed) if isinstance(given, str) else ""
        return Diagnostic(
            Severity.ERROR,
            "KT012",
            "def.not_one_of",
            {"key": name, "value": given, "allowed": ", ".join(allowed), "hint": hint},
            doc.span(path),
        )
    key = _TYPE_KEYS.get(kind)
    if key is not None:
        return Diagnostic(
            Severity.ERROR, "KT012", key, {"key": name, "value": err.get("input")}, doc.span(path)
        )
    return Diagnostic(
        Severity.ERROR,
        "KT012",
        "def.invalid_value",
        {"key": name, "value": err.get("input"), "reason": err.get("msg", "")},
        doc.span(path),
    )
