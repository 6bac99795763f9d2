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


def _statements(project: Project, months: list[str], by: list[str]) -> list[str]:
    engine = compiled_engine("trino", timezone="Asia/Tokyo")
    project.status(months, by=by, as_of=dt.date(2026, 3, 20), engine=engine)
    return engine.statements


def _with_extra_nodes(tmp_path: Path) -> Project:
    """The default project with the nodes whose metrics have queries of their own
    (medians, snapshots, conversions by period, durations)."""
    import yaml

    from engines.whole_status import EXTRA, EXTRA_NODES

    definition = Project.init(tmp_path / "project")
    doc = yaml.safe_load(definition.read_text(encoding="utf-8"))
    doc["nodes"].update(EXTRA_NODES)
    doc.update(yaml.safe_load(EXTRA))
    definition.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    return Project.load(tmp_path / "project")


def test_queries_of_one_metric_leave_out_unused_columns(tmp_path: Path) -> None:
    project = _with_extra_nodes(tmp_path)
    own = [
        s
        for s in _statements(project, ["2026-02"], ["team"])
        if re.search(r'"(n|num|v)"', s) and not _FUSED.search(s) and "SELECT" in s
    ]
    assert len(own) >= 4
    for sql in own:
        assert '"current_stage"' not in sql
        assert '"__manager"' not in sql and '"__region"' not in sql


def test_a_placed_rep_is_named_once_per_organisation_column(tmp_path: Path) -> None:
    """The department and team of the reps ``kpitree.yaml`` places (without
    assignments) take one branch per department or team, listing its reps."""
    project = Project.load(Project.init(tmp_path / "project", "the-model").parent)
    engine = compiled_engine("trino", timezone="Asia/Tokyo")
    engine.roster = project.roster()  # as the project gives the engines it opens
    project.status(
        ["2026-02"], by=["department", "team"], as_of=dt.date(2026, 3, 20), engine=engine
    )
    placed = {rep: (department, team) for rep, department, team in project.roster()}
    departments = {d for d, _ in placed.values()}
    teams = {(d, t) for d, t in placed.values()}
    assert len(placed) > len(departments) + len(teams)  # several reps per team
    fused = [sql for sql in engine.statements if _FUSED.search(sql)]
    assert len(fused) >= 4
    for sql in fused:
        for rep in placed:
            assert sql.count(f"'{rep}'") == 2, rep  # once per CASE: department, team
        branches = re.findall(r'WHEN\s+"t\d+"\."__owner"\s+(?:=|IN)', sql)
        # One branch per department, one per team name.
        assert len(branches) == len(departments) + len({t for _, t in teams})
