"""A company master and PostgreSQL: ``kpitree import-master`` on a project
whose warehouse is a database server is refused with the way to do it
(KT285: import into the DuckDB warehouse, then copy it), writing nothing and
showing no password; that way works: the copied master enriches the accounts
on PostgreSQL exactly as on DuckDB."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpitree import Project
from kpitree.abm import score_accounts
from kpitree.cli import main
from kpitree.errors import UserError

from .test_master import AS_OF, MASTER, _points, _project


def test_import_master_on_a_server_says_how_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(tmp_path)
    text = (tmp_path / "kpitree.yaml").read_text(encoding="utf-8")
    url = "postgresql://kpitree:s3cret@127.0.0.1:1/crm"
    (tmp_path / "kpitree.yaml").write_text(f"{text}data:\n  warehouse: {url}\n", "utf-8")
    (tmp_path / "master.csv").write_text(MASTER, encoding="utf-8")
    with pytest.raises(SystemExit) as done:
        main(["--lang", "en", "import-master", str(tmp_path / "master.csv"), "-p", str(tmp_path)])
    assert done.value.code not in (0, None)
    err = capsys.readouterr().err
    assert "copy_warehouse" in err and "Traceback" not in err
    assert "s3cret" not in err and "kpitree:***@127.0.0.1" in err
    with pytest.raises(UserError) as caught:
        Project.load(tmp_path).import_company_master(tmp_path / "master.csv")
    assert caught.value.diagnostics[0].code == "KT285"
    import duckdb

    from kpitree.data.company_master import MASTER_TABLE

    with duckdb.connect(str(tmp_path / ".kpitree" / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    names = {r[0] for r in rows}
    assert MASTER_TABLE not in names


@pytest.mark.engine
@pytest.mark.postgres
def test_a_copied_master_enriches_accounts_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    from kpitree.data.warehouse import default_warehouse_path
    from kpitree.engines import copy_warehouse, open_engine

    project = _project(tmp_path)
    (tmp_path / "master.csv").write_text(MASTER, encoding="utf-8")
    assert project.import_company_master(tmp_path / "master.csv") == 5
    want = _points(project)
    assert want["A"][2] == "A"  # the master made A a tier-A account (the test can fail)
    copy_warehouse(default_warehouse_path(tmp_path), postgres_url)
    abm = project.tree.abm
    assert abm is not None
    with open_engine(postgres_url, timezone=project.tree.timezone) as pg:
        got = {
            a.account_id: (dict(a.points), set(a.missing), a.tier)
            for a in score_accounts(pg, abm, AS_OF).accounts
        }
    assert got == want
    # A server project reads the same (its definition names the database).
    text = (tmp_path / "kpitree.yaml").read_text(encoding="utf-8")
    (tmp_path / "kpitree.yaml").write_text(f"{text}data:\n  warehouse: {postgres_url}\n", "utf-8")
    assert _points(Project.load(tmp_path)) == want
