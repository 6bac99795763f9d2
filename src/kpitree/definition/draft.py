"""Reading a project folder into a :class:`Draft`: every file parsed and every
node validated on its own, so that all problems can be collected at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kpitree.definition.formula import Expr, FormulaSyntaxError, parse
from kpitree.definition.location import DEFINITION_FILE, find_definition
from kpitree.definition.pydantic_errors import validation_diagnostics
from kpitree.definition.spec import NodeFileSpec, NodeSpec, ProjectSpec, ScenarioSpec
from kpitree.definition.spec_sources import sources_diagnostics
from kpitree.errors import Diagnostic, Severity, Span
from kpitree.source import Document, KeyPath, load_yaml

__all__ = [
    "DEFINITION_FILE",
    "Draft",
    "NodeDraft",
    "ScenarioDraft",
    "find_definition",
    "read_draft",
]


@dataclass
class NodeDraft:
    id: str
    doc: Document
    spec: NodeSpec | None = None
    formula: Expr | None = None
    formula_span: Span | None = None  # where formula text offset 0 is, when on one line

    @property
    def path(self) -> KeyPath:
        return ("nodes", self.id)

    def span(self, *keys: str | int) -> Span:
        return self.doc.span((*self.path, *keys))

    def key_span(self) -> Span:
        return self.doc.key_span(self.path)

    def formula_pos_span(self, start: int, end: int) -> Span:
        """The file span of characters ``start:end`` of the formula text."""
        if self.formula_span is None:
            return self.span("formula")
        return self.formula_span.shifted(start, end - start)


@dataclass
class ScenarioDraft:
    id: str
    spec: ScenarioSpec
    doc: Document

    def span(self, *keys: str | int) -> Span:
        return self.doc.span(("scenarios", self.id, *keys))


@dataclass
class Draft:
    root: Path
    main: Document
    head: ProjectSpec | None = None
    nodes: dict[str, NodeDraft] = field(default_factory=dict)
    scenarios: dict[str, ScenarioDraft] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # The valid ``sources:`` by name (SourceSpec), validated apart from the head.
    sources: dict[str, Any] = field(default_factory=dict)

    def error(self, code: str, key: str, span: Span | None, /, **params: object) -> None:
        self.diagnostics.append(Diagnostic(Severity.ERROR, code, key, params, span))

    @property
    def valid_nodes(self) -> dict[str, NodeDraft]:
        return {k: n for k, n in self.nodes.items() if n.spec is not None}


def _formula_start(doc: Document, span: Span) -> Span | None:
    if span.end_column is None:
        return None  # multi-line scalar: no precise columns
    first = doc.line(span.line)[span.column - 1 : span.column]
    if first in ("'", '"'):
        return Span(span.file, span.line, span.column + 1)
    if first in ("|", ">"):
        return None
    return Span(span.file, span.line, span.column)


def _read_nodes(draft: Draft, doc: Document, raw_nodes: object) -> None:
    if not isinstance(raw_nodes, dict):
        return
    for node_id, raw in raw_nodes.items():
        nd = NodeDraft(node_id, doc)
        if node_id in draft.nodes:
            first = draft.nodes[node_id].key_span()
            draft.error("KT026", "def.duplicate_id", nd.key_span(), id=node_id, first=str(first))
            continue
        draft.nodes[node_id] = nd
        try:
            nd.spec = NodeSpec.model_validate(raw if raw is not None else {})
        except ValidationError as exc:
            draft.diagnostics.extend(validation_diagnostics(exc, NodeSpec, doc, nd.path))
            continue
        if nd.spec.formula is not None:
            span = nd.span("formula")
            nd.formula_span = _formula_start(doc, span)
            try:
                nd.formula = parse(nd.spec.formula)
            except FormulaSyntaxError as exc:
                draft.diagnostics.append(
                    Diagnostic(
                        Severity.ERROR,
                        exc.code,
                        exc.key,
                        {"node": node_id, **exc.params},
                        nd.formula_pos_span(exc.start, exc.end),
                    )
                )


def _read_scenarios(draft: Draft, doc: Document, raw: object) -> None:
    if not isinstance(raw, dict):
        return
    for sid, value in raw.items():
        if sid in draft.scenarios:
            first = draft.scenarios[sid].doc.key_span(("scenarios", sid))
            draft.error(
                "KT026",
                "def.duplicate_scenario",
                doc.key_span(("scenarios", sid)),
                id=sid,
                first=str(first),
            )
            continue
        try:
            spec = ScenarioSpec.model_validate(value if value is not None else {})
        except ValidationError as exc:
            draft.diagnostics.extend(
                validation_diagnostics(exc, ScenarioSpec, doc, ("scenarios", sid))
            )
            continue
        draft.scenarios[sid] = ScenarioDraft(sid, spec, doc)


def _duplicates(draft: Draft, doc: Document) -> None:
    for path, first, again in doc.duplicates:
        key = "def.duplicate_id" if len(path) == 2 and path[0] == "nodes" else "def.duplicate_key"
        draft.error("KT026", key, again, id=str(path[-1]), first=str(first))


def read_draft(path: str | Path) -> Draft:
    """Read the definition at ``path`` (a folder or a file) and everything it
    includes. YAML syntax errors and unreadable files raise at once; every other
    problem is collected in ``Draft.diagnostics``."""
    main_path = find_definition(path)
    main = load_yaml(main_path)
    draft = Draft(root=main_path.parent, main=main)
    _duplicates(draft, main)
    data = main.data if isinstance(main.data, dict) else {}
    if not isinstance(main.data, dict):
        draft.error("KT012", "def.expected_mapping", main.span(()), key=main.path, value=main.data)
    head_data = {k: v for k, v in data.items() if k not in ("nodes", "scenarios", "sources")}
    try:
        draft.head = ProjectSpec.model_validate(head_data)
    except ValidationError as exc:
        draft.diagnostics.extend(validation_diagnostics(exc, ProjectSpec, main))
    if data.get("sources") is not None:
        # Validated on their own, so that a token pasted in is never repeated.
        draft.sources, found = sources_diagnostics(main, data["sources"])
        draft.diagnostics.extend(found)
    _read_nodes(draft, main, data.get("nodes"))
    if "nodes" in data and not isinstance(data["nodes"], dict) and data["nodes"] is not None:
        draft.error(
            "KT012", "def.expected_mapping", main.span(("nodes",)), key="nodes", value=data["nodes"]
        )
    _read_scenarios(draft, main, data.get("scenarios"))

    includes = draft.head.include if draft.head else []
    for i, pattern in enumerate(includes):
        matches = sorted(draft.root.glob(pattern))
        if not matches:
            draft.error("KT002", "def.include_empty", main.span(("include", i)), pattern=pattern)
        for file in matches:
            doc = load_yaml(file)
            _duplicates(draft, doc)
            raw = doc.data if isinstance(doc.data, dict) else {}
            try:
                NodeFileSpec.model_validate(
                    {k: v for k, v in raw.items() if k not in ("nodes", "scenarios")}
                )
            except ValidationError as exc:
                draft.diagnostics.extend(validation_diagnostics(exc, NodeFileSpec, doc))
            _read_nodes(draft, doc, raw.get("nodes"))
            _read_scenarios(draft, doc, raw.get("scenarios"))
    return draft
