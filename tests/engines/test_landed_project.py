"""A project whose kpitree.yaml says ``data.landed``: the CLI, the Python API
and the dashboard read the canonical tables from what Fivetran landed in the
warehouse file, with the imported numbers, and writes are refused (KT573)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from engines.test_landed import DEAL_STAGES, LEAD_STATUSES, NODES, _fivetran
from engines.whole_status import AS_OF, MONTHS, make_company
from kpitree.cli import main
from kpitree.project import Project

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, Path]:
    folder = tmp_path_factory.mktemp("landed_project")
    imported, tables = make_company(folder)
    landed_file = folder / "landed.duckdb"
    import duckdb

    with duckdb.connect(str(landed_file)) as con:  # as the ELT tool writes it
        con.execute("CREATE SCHEMA salesforce")
        landing = {**_fivetran(tables), "rep_assignments": tables["rep_assignments"]}
        for name, table in landing.items():
            con.register("landing", table)
            schema = "main" if name == "rep_assignments" else "salesforce"
            con.execute(f'CREATE TABLE {schema}."{name}" AS SELECT * FROM landing')
            con.unregister("landing")
    doc = yaml.safe_load((imported.path / "kpitree.yaml").read_text(encoding="utf-8"))
    doc["data"] = {
        "warehouse": str(landed_file),
        "landed": {
            "preset": "fivetran_salesforce",
            "database": "salesforce",
            "lead_statuses": {v: k for k, v in LEAD_STATUSES.items()},
            "deal_stages": {v: k for k, v in DEAL_STAGES.items()},
        },
    }
    project = folder / "landed"
    project.mkdir()
    (project / "kpitree.yaml").write_text(
        yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    return imported, project


def _run(*args: str) -> int:
    with pytest.raises(SystemExit) as done:
        main(["--lang", "en", *args])
    return int(done.value.code or 0)


def _actuals(project: Project) -> list[tuple[Any, ...]]:
    with project.engine() as engine:
        frame = project.status(MONTHS, by=["team"], as_of=AS_OF, engine=engine).frame
    kept = frame[frame["node"].isin(NODES)]
    return [
        (r.node, str(r.period), str(r.segment), r.actual)
        for r in kept.itertuples()
        if r.actual == r.actual  # not NaN
    ]


def test_the_project_reads_the_landed_tables_with_the_imported_numbers(
    projects: tuple[Project, Path],
) -> None:
    imported, folder = projects
    landed = Project.load(folder)
    assert landed.tree.landed is not None
    want = _actuals(imported)
    assert len(want) > 100
    assert _actuals(landed) == want


def test_the_cli_and_the_dashboard_read_them_and_writes_are_refused(
    projects: tuple[Project, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from kpitree.web.app import create_app

    imported, folder = projects
    period = "2025-10"
    args = ["status", "--period", period, "--as-of", str(AS_OF), "--json"]
    assert _run(*args, str(imported.path)) == 0
    want = {n["node"]: n["actual"] for n in json.loads(capsys.readouterr().out)["rows"]}
    assert _run(*args, str(folder)) == 0
    got = {n["node"]: n["actual"] for n in json.loads(capsys.readouterr().out)["rows"]}
    assert {k: got[k] for k in NODES} == {k: want[k] for k in NODES}
    with TestClient(create_app(folder), base_url="http://localhost") as client:
        page = client.get(f"/api/records/won_deals?period={period}&as_of={AS_OF}")
        assert page.status_code == 200, page.text
        assert page.json()["total"] == want["won_deals"] > 0
    leads = tmp_path / "leads.csv"
    leads.write_text("ID,Created,Stage\nL1,2026/01/07,mql\n", encoding="utf-8")
    before = (folder.parent / "landed.duckdb").stat().st_mtime_ns
    code = _run("import", str(leads), "--mapping", "hubspot-contacts", "--project", str(folder))
    out = capsys.readouterr()
    assert code != 0 and "Traceback" not in out.err
    assert "data.landed reads the canonical tables" in out.err
    assert (folder.parent / "landed.duckdb").stat().st_mtime_ns == before
