"""Write docs/metrics.md, the reference of the built-in metrics, and
``library.json`` (the metrics as JSON data, which commands read), from
``src/kpitree/compute/library.yaml`` (its ``# --- Section ---`` comments become the
sections; a metric's ``description`` is its definition, or one is derived from its spec).

    .venv/bin/python scripts/gen_metric_docs.py           # rewrite docs/metrics.md
    .venv/bin/python scripts/gen_metric_docs.py --check   # exit 1 when it is out of date

``tests/test_metric_docs.py`` fails when the file is stale, so a new or changed
metric is documented in the same change.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from kpitree.compute.entities import ENTITIES, Entity
from kpitree.compute.metrics import builtin_specs, library_data, library_digest, specs_code
from kpitree.definition.spec import MetricSpec

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "metrics.md"
LIBRARY = ROOT / "src" / "kpitree" / "compute" / "library.yaml"
LIBRARY_JSON = LIBRARY.with_suffix(".json")
REGENERATE = ".venv/bin/python scripts/gen_metric_docs.py"

_SECTION = re.compile(r"^# -+ (?P<name>.+?) -+\s*$")
_METRIC = re.compile(r"^(?P<id>[A-Za-z_][A-Za-z0-9_]*):")

# What each entity counts, in words.
ENTITY_WORDS = {
    "leads": "leads",
    "deals": "deals",
    "activities": "activities",
    "contracts": "contract terms",
    "renewals": "contract terms that ended renewed or churned",
    "marketing_spend": "marketing spend entries",
    "nps_responses": "NPS responses",
    "accounts": "accounts",
}
_OPS = {
    "eq": "=",
    "ne": "≠",
    "lt": "<",
    "le": "≤",
    "gt": ">",
    "ge": "≥",
    "in": "in",
    "not_in": "not in",
}
_AGGREGATE_WORDS = {
    "count_distinct": "Number of distinct",
    "sum": "Sum of",
    "average": "Average",
    "median": "Median",
    "min": "Smallest",
    "max": "Largest",
}


def library_text() -> str:
    return resources.files("kpitree.compute").joinpath("library.yaml").read_text("utf-8")


def sections() -> list[tuple[str, list[str]]]:
    """Metric ids in library order, grouped by the section comments of library.yaml."""
    out: list[tuple[str, list[str]]] = []
    for line in library_text().splitlines():
        if m := _SECTION.match(line):
            out.append((m["name"], []))
        elif m := _METRIC.match(line):
            if not out:
                out.append(("Metrics", []))
            out[-1][1].append(m["id"])
    return out


def _code(text: object) -> str:
    return f"`{text}`"


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _filters(where: Mapping[str, Any]) -> str:
    """``where`` in words: "where `type` = call and `outcome` = connected"."""
    parts = []
    for column, cond in where.items():
        if isinstance(cond, dict):
            for op, value in cond.items():
                if op == "is_null":
                    parts.append(f"{_code(column)} is {'' if value else 'not '}empty")
                else:
                    parts.append(f"{_code(column)} {_OPS[op]} {_value(value)}")
        elif isinstance(cond, list):
            parts.append(f"{_code(column)} in {_value(cond)}")
        elif cond is None:
            parts.append(f"{_code(column)} is empty")
        else:
            parts.append(f"{_code(column)} = {_value(cond)}")
    return f" where {' and '.join(parts)}" if parts else ""


def _stage(event: str) -> str:
    return event.removeprefix("stage:")


def _is_column(ent: Entity, event: str) -> bool:
    return event in ent.columns() and event not in ent.closes


def _dated(ent: Entity, event: str) -> str:
    """How a fact is dated by ``event``: "`created_at`", "first entry to stage `mql`"."""
    if event in ent.closes:
        return _code(ent.closes[event][0])
    if _is_column(ent, event) or (ent.name == "leads" and _stage(event) == "lead"):
        return _code(event if _is_column(ent, event) else "created_at")
    return f"the first entry to stage {_code(_stage(event))}"


def _subject(ent: Entity, spec: MetricSpec, event: str) -> str:
    """The facts counted: "deals closed as won where ..."."""
    words = ENTITY_WORDS.get(ent.name, ent.name)
    if event in ent.closes:
        words += f" closed as {event}"
    return words + _filters(spec.where)


def _entered(ent: Entity, event: str) -> str:
    """``event`` as what happens to an entity: "first enter stage `mql`"."""
    if event in ent.closes:
        return f"close as {event}"
    if ent.name == "leads" and _stage(event) == "lead" and not _is_column(ent, event):
        return "are created"
    if _is_column(ent, event):
        return f"reach their {_code(event)}"
    if event == "first_activity":
        return "have their first activity"
    return f"first enter stage {_code(_stage(event))}"


def _moment(ent: Entity, event: str) -> str:
    """``event`` as a moment: "the first entry to stage `mql`", "the close as won"."""
    if event in ent.closes:
        return f"the close as {event} ({_code(ent.closes[event][0])})"
    if event == "first_activity":
        return "the first activity on it"
    return _dated(ent, event)


def derive(spec: MetricSpec) -> str:
    """A definition in words derived from the spec."""
    if spec.type == "ratio":
        return f"{_code(spec.numerator)} ÷ {_code(spec.denominator)}."
    if spec.type == "derived":
        return f"{_code(spec.expr)}."
    ent = ENTITIES[spec.entity or ""]
    words = ENTITY_WORDS.get(ent.name, ent.name)
    if spec.type == "conversion":
        a, b = spec.from_ or "", spec.to or ""
        if spec.mode == "period":
            return (
                f"Period conversion: {words}{_filters(spec.where)} that {_entered(ent, b)} in the "
                f"period over those that {_entered(ent, a)} in it."
            )
        return (
            f"Cohort conversion: of the {words}{_filters(spec.where)} that {_entered(ent, a)} "
            f"in the period, the share that {_entered(ent, b)} within "
            f"{spec.window_days} days."
        )
    if spec.type == "duration":
        a, b = spec.from_ or "", spec.to or ""
        stat = "Median" if spec.stat == "median" else "Average"
        placed = a if spec.place_by == "from" else b
        return (
            f"{stat} {spec.duration_unit} from {_moment(ent, a)} to {_moment(ent, b)}, over "
            f"{words}{_filters(spec.where)}; placed in the period of {_moment(ent, placed)}."
        )
    event = spec.time or ent.time
    subject = _subject(ent, spec, event)
    if spec.snapshot:
        closed = f", not closed by {_code(spec.closed_by)}" if spec.closed_by else ""
        what = (
            "Number of"
            if spec.type == "count"
            else f"{_AGGREGATE_WORDS[spec.type]} {_code(spec.measure)} of"
        )
        return (
            f"{what} {subject} open on the last day of the period (opened by "
            f"{_dated(ent, event)}{closed})."
        )
    if spec.type == "count":
        return f"Number of {subject}, dated by {_dated(ent, event)}."
    preposition = "over" if spec.type == "sum" else "of"
    return (
        f"{_AGGREGATE_WORDS[spec.type]} {_code(spec.measure)} {preposition} {subject}, "
        f"dated by {_dated(ent, event)}."
    )


def definition(spec: MetricSpec) -> str:
    """The description (English, then Japanese) when the library gives one, else
    a definition derived from the spec; ratios and derived metrics always show how
    they are computed."""
    text = spec.description
    credit = _credit(spec)
    if text is None:
        return derive(spec) + credit
    parts = [text] if isinstance(text, str) else [p for p in (text.en, text.ja) if p]
    if not parts:
        return derive(spec) + credit
    if spec.type in ("ratio", "derived"):
        parts.append(f"Computed as {derive(spec)}")
    if credit:
        parts[0] += credit
    return "<br>".join(parts)


def _credit(spec: MetricSpec) -> str:
    """Whom the facts count for in department, team and rep views, when it is
    not their owner."""
    if spec.credit in (None, "owner"):
        return ""
    if spec.credit == "lead_owner":
        return " Credited to the owner of the lead each came from (`credit: lead_owner`)."
    return f" Credited to the rep in `{spec.credit}` (`credit: {spec.credit}`)."


def _label(spec: MetricSpec, lang: str) -> str:
    if spec.label is None:
        return ""
    if isinstance(spec.label, str):
        return spec.label
    return str(getattr(spec.label, lang) or "")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render() -> str:
    """The whole of docs/metrics.md."""
    specs = builtin_specs()
    listed = [mid for _, ids in sections() for mid in ids]
    if sorted(listed) != sorted(specs):
        raise RuntimeError("library.yaml: metric ids and section listing disagree")
    lines = [
        "# Built-in metrics",
        "",
        "<!-- Generated from src/kpitree/compute/library.yaml by scripts/gen_metric_docs.py; "
        "do not edit. -->",
        "",
        "The metrics every project can measure with `metric: <id>` on a node. They are written",
        "in the same form as a project's own `metrics:` in kpitree.yaml",
        "([definition.md](definition.md#metrics)), and a project may redefine any of them by",
        "name. How events, cohorts, periods and segments count is in",
        "[engine.md](engine.md#metrics-and-how-they-count); `kpitree metrics` lists the",
        "metrics of a project, its own included.",
        f"Regenerate after changing the library: `{REGENERATE}`.",
    ]
    for name, ids in sections():
        lines += [
            "",
            f"## {name}",
            "",
            "| id | 日本語 | English | type | entity | definition |",
            "|---|---|---|---|---|---|",
        ]
        for mid in ids:
            spec = specs[mid]
            kind = spec.type + (" (snapshot)" if spec.snapshot else "")
            if spec.type == "conversion":
                kind += f" ({spec.mode})"
            row = [
                _code(mid),
                _label(spec, "ja"),
                _label(spec, "en"),
                kind,
                _code(spec.entity) if spec.entity else "",
                definition(spec),
            ]
            lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return "\n".join(lines) + "\n"


def library_json() -> str:
    """``library.json``: the library's metrics as JSON data, with the digest of
    the YAML they were read from (commands read it instead of parsing YAML)."""
    import json

    from kpitree.definition.kept import plain

    text = LIBRARY.read_text(encoding="utf-8")
    metrics = library_data(text)
    validated = {k: MetricSpec.model_validate(v) for k, v in metrics.items()}
    body = {
        "library_yaml_sha256": library_digest(text),
        "metrics": metrics,
        # The metrics as validated, built again without validating them while
        # the models' code and pydantic are the same (specs_code).
        "specs_code": specs_code(),
        "specs": plain(validated),
    }
    return json.dumps(body, ensure_ascii=False, indent=1) + "\n"


def main(argv: list[str]) -> int:
    outputs = {DOCS: render(), LIBRARY_JSON: library_json()}
    if "--check" in argv:
        stale = False
        for path, text in outputs.items():
            current = path.read_text(encoding="utf-8") if path.exists() else ""
            if current != text:
                print(
                    f"{path.relative_to(ROOT)} is out of date; run: {REGENERATE}", file=sys.stderr
                )
                stale = True
        return 1 if stale else 0
    for path, text in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
