"""docs/metrics.md is generated from the built-in library and must match it."""

from __future__ import annotations

import difflib
import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

import pytest

from kpitree.compute.metrics import builtin_specs
from kpitree.definition.spec import MetricSpec

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "metrics.md"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_metric_docs", ROOT / "scripts/gen_metric_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _generator()
STALE = f"docs/metrics.md is out of date; regenerate it with: {gen.REGENERATE}"


def _docs() -> str:
    return DOCS.read_text(encoding="utf-8") if DOCS.exists() else ""


def _rows(text: str) -> dict[str, list[str]]:
    """Table rows by metric id: the cells after the id."""
    rows = {}
    for line in text.splitlines():
        if m := re.match(r"^\| `([a-z0-9_]+)` \| (.*) \|$", line):
            rows[m[1]] = [c.strip() for c in re.split(r"(?<!\\)\|", m[2])]
    return rows


def test_metric_docs_are_up_to_date() -> None:
    current, expected = _docs(), gen.render()
    if current != expected:
        diff = "".join(
            difflib.unified_diff(
                current.splitlines(keepends=True),
                expected.splitlines(keepends=True),
                "docs/metrics.md",
                "regenerated",
                n=1,
            )
        )
        pytest.fail(f"{STALE}\n{diff[:4000]}", pytrace=False)
    assert gen.main(["--check"]) == 0


def test_every_builtin_metric_has_one_row_in_library_order() -> None:
    rows = _rows(_docs())
    assert list(rows) == list(builtin_specs()), STALE
    for mid, cells in rows.items():
        spec = builtin_specs()[mid]
        assert len(cells) == 5, (mid, cells)
        ja, en, kind, entity, definition = cells
        assert spec.label is not None and not isinstance(spec.label, str)
        assert (ja, en) == (spec.label.ja, spec.label.en), mid
        assert kind.split()[0] == spec.type, mid
        assert entity == (f"`{spec.entity}`" if spec.entity else ""), mid
        assert definition and "None" not in definition, mid


def test_sections_follow_the_library_comments() -> None:
    headings = re.findall(r"^## (.+)$", _docs(), flags=re.MULTILINE)
    assert headings == [name for name, _ in gen.sections()]
    assert "Funnel volumes" in headings and "Conversion" in headings


def test_definitions_say_what_the_spec_says() -> None:
    rows = _rows(_docs())
    for mid, spec in builtin_specs().items():
        definition = rows[mid][-1]
        if spec.credit not in (None, "owner"):
            assert f"`credit: {spec.credit}`" in definition, mid
        if spec.description is not None and not isinstance(spec.description, str):
            assert spec.description.en and spec.description.en in definition, mid
            continue
        # Derived from the spec: the numbers and names that define the metric.
        if spec.type == "conversion":
            assert f"within {spec.window_days} days" in definition, mid
            assert f"`{spec.to}`" in definition or spec.to in ("won", "lost"), mid
        if spec.type in ("ratio",):
            assert f"`{spec.numerator}` ÷ `{spec.denominator}`" in definition, mid
        if spec.measure:
            assert f"`{spec.measure}`" in definition, mid
        for column in spec.where:
            assert f"`{column}`" in definition, mid
    assert "`type` = call and `outcome` = connected" in rows["connects"][-1]
    assert "`score` ≥ 9" in rows["promoters"][-1]
    assert "dated by the first entry to stage `mql`" in rows["mqls"][-1]
    assert "closed as won, dated by `close_date`" in rows["won_deals"][-1]


def test_engine_doc_links_to_the_reference() -> None:
    assert "(metrics.md)" in (ROOT / "docs" / "engine.md").read_text(encoding="utf-8")


def test_library_json_is_the_yaml_library() -> None:
    """Commands read the built-in metrics from library.json (no YAML parser):
    it must hold what library.yaml says."""
    from kpitree.compute.metrics import library_data, library_digest, specs_code

    current = gen.LIBRARY_JSON.read_text(encoding="utf-8")
    assert current == gen.library_json(), f"library.json is out of date: {gen.REGENERATE}"
    text = gen.LIBRARY.read_text(encoding="utf-8")
    from_yaml = {k: MetricSpec.model_validate(v) for k, v in library_data(text).items()}
    assert builtin_specs() == from_yaml
    # Built from the validated metrics kept in the twin, with the same fields set.
    assert all(type(s) is MetricSpec for s in builtin_specs().values())
    fields_set = {k: s.model_fields_set for k, s in builtin_specs().items()}
    assert fields_set == {k: s.model_fields_set for k, s in from_yaml.items()}
    twin = json.loads(current)
    assert twin["library_yaml_sha256"] == library_digest(text)
    assert twin["specs_code"] == specs_code()


def test_library_json_from_other_models_is_validated_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Metrics kept by other models' code are not used: validated from the data."""
    from kpitree.compute import metrics
    from kpitree.definition import kept

    def refuse(data: object) -> object:
        raise AssertionError("the kept metrics were read")

    monkeypatch.setattr(metrics, "specs_code", lambda: "other models")
    monkeypatch.setattr(kept, "from_plain", refuse)
    metrics.builtin_specs.cache_clear()
    try:
        assert metrics.builtin_specs() == {
            k: MetricSpec.model_validate(v)
            for k, v in metrics.library_data(gen.LIBRARY.read_text(encoding="utf-8")).items()
        }
    finally:
        metrics.builtin_specs.cache_clear()
