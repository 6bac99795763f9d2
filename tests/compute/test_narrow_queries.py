"""The fused and stage queries carry only the columns their metrics, the
segment dimensions and the crediting read: a wide table's other columns (a
lead's JSON attributes) and the organisation columns no dimension asks for
are not listed in every layer of the statement. Compiled only (no data)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from kpitree.engines.offline import compiled_engine
from kpitree.project import Project

# A fused or stage query names its parts after its metrics (``leads__n``); a
# metric's own query names them ``n``.
_FUSED = re.compile(r'"[a-z0-9_]+__(n|s|num)"')


def _fused_statements(tmp_path: Path, by: list[str]) -> list[str]:
    project = Project.load(Project.init(tmp_path / "project").parent)
    engine = compiled_engine("trino", timezone="Asia/Tokyo")
    project.status(["2026-02"], by=by, as_of=dt.date(2026, 3, 20), engine=engine)
    found = [sql for sql in engine.statements if _FUSED.search(sql)]
    assert len(found) >= 4
    return found


def test_fused_queries_leave_out_unused_columns(tmp_path: Path) -> None:
    for sql in _fused_statements(tmp_path, ["team"]):
        assert '"attributes"' not in sql
        assert '"current_stage"' not in sql
        # Teams come from the rep assignment; its manager and region are not asked for.
        assert '"__manager"' not in sql and '"__region"' not in sql
        assert '"__team"' in sql


def test_an_organisation_dimension_asked_for_is_kept(tmp_path: Path) -> None:
    statements = _fused_statements(tmp_path, ["manager"])
    assert all('"__manager"' in sql for sql in statements)
    assert not any('"__team"' in sql for sql in statements)
