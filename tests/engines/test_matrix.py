"""docs/engine.md's capability matrix is generated from the code and must match it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from kpitree.engines.dialects import (
    APPROXIMATE_MEDIAN,
    ENGINES,
    NO_EXACT_MEDIAN,
    capability_matrix,
    exact_median,
)

ROOT = Path(__file__).resolve().parent.parent.parent


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_engine_matrix", ROOT / "scripts/gen_engine_matrix.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_capability_matrix_in_the_docs_is_up_to_date() -> None:
    gen = _generator()
    page = gen.DOCS.read_text(encoding="utf-8")
    assert gen.render(page) == page, f"docs/engine.md is out of date; run: {gen.REGENERATE}"
    assert gen.main(["--check"]) == 0


def test_the_matrix_says_what_the_compilers_do() -> None:
    """Exact medians where Ibis compiles one; the named approximation elsewhere."""
    rows = {row[0]: row for row in capability_matrix()}
    assert {e for e in ENGINES if not exact_median(e)} == NO_EXACT_MEDIAN
    assert exact_median("snowflake") and exact_median("clickhouse") and exact_median("duckdb")
    assert rows["trino"][2] == f"approximate: `{APPROXIMATE_MEDIAN['trino']}`"
    assert rows["duckdb"][2] == "exact"
    assert rows["bigquery"][4].startswith("unsupported")
    # Imports (with their undo) write into the embedded warehouse or PostgreSQL: KT570 elsewhere.
    assert rows["duckdb"][5].startswith("atomic with undo")
    assert rows["postgres"][5].startswith("atomic with undo")
    assert rows["pyspark"][5].startswith("unsupported") and "copy_warehouse" in rows["pyspark"][5]
