"""Imports and syncs write into the embedded warehouse or PostgreSQL: on a project
whose ``data.warehouse`` is an engine without a transaction across tables
(ClickHouse, Spark), ``kpitree import`` says why and what to do instead (KT570),
writes nothing and shows no password."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kpitree.project import Project


def test_import_into_clickhouse_is_refused_with_the_way_to_load_it(
    tmp_path: Path,
) -> None:
    definition = Project.init(tmp_path / "p")
    url = "clickhouse://kpitree:s3cret@127.0.0.1:1/crm"
    text = definition.read_text("utf-8")
    definition.write_text(f"{text}\ndata:\n  warehouse: {url}\n", "utf-8")
    export = tmp_path / "leads.csv"
    export.write_text("Lead ID,Created Date\nL1,2026-01-05\n", "utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "kpitree", "import", str(export), "-m", "salesforce-leads",
         "-p", str(definition.parent)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "KPITREE_LANG": "en"},
    )  # fmt: skip
    assert result.returncode != 0
    err = result.stderr
    assert "Traceback" not in err and "s3cret" not in err
    assert "data.warehouse" in err, err
    assert "transaction across tables" in err and "ClickHouse" in err, err
    assert "copy_warehouse" in err and "undo" in err, err
    assert not (definition.parent / ".kpitree" / "warehouse.duckdb").exists()
