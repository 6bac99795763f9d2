"""Loading the demo company into a warehouse: once, idempotently, replaceably."""

from __future__ import annotations

from pathlib import Path

from kpitree.data.demo import generate, load_demo
from kpitree.data.warehouse import Warehouse


def test_load_then_again_then_another_size(tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "w.duckdb")
    steps: list[str] = []
    first = load_demo(wh, "tiny", seed=3, fiscal_year=2026, on_step=steps.append)
    assert (first.status, first.import_id, first.undone) == ("loaded", 1, ())
    assert steps == ["generating", "loading"]
    expected = generate("tiny", seed=3, fiscal_year=2026).row_counts()
    assert first.rows == expected == wh.row_counts()

    steps.clear()
    again = load_demo(wh, "tiny", seed=3, fiscal_year=2026, on_step=steps.append)
    assert (again.status, again.import_id) == ("unchanged", 1)
    assert steps == []  # nothing generated or written
    assert wh.row_counts() == expected
    assert [r.status for r in wh.imports()] == ["applied"]

    other = load_demo(wh, "tiny", seed=4, fiscal_year=2026, on_step=steps.append)
    assert (other.status, other.import_id, other.undone) == ("replaced", 2, (1,))
    assert steps == ["generating", "replacing", "loading"]
    assert wh.row_counts() == generate("tiny", seed=4, fiscal_year=2026).row_counts()
    log = [(r.import_id, r.kind, r.source_file, r.status) for r in wh.imports()]
    assert log == [(1, "bulk_load", "demo", "undone"), (2, "bulk_load", "demo", "applied")]
    assert wh.imports()[1].mapping_name == "kpitree demo --size tiny (seed 4, FY2026)"
