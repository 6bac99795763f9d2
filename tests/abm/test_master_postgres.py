"""A company master and PostgreSQL: on a project whose warehouse is
PostgreSQL (which imports write), ``kpitree import-master`` replaces the
master there in one transaction and the accounts are enriched exactly as on
DuckDB; on Spark or ClickHouse (no transaction across tables) it is refused
with the way to do it (KT285), showing no password; a master imported into a
DuckDB file goes along with ``copy_warehouse``."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpitree import Project
from kpitree.abm import score_accounts
from kpitree.cli import main
from kpitree.errors import UserError

from .test_master import AS_OF, MASTER, _points, _project


def test_import_master_without_transactions_says_how(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(tmp_path)
    text = (tmp_path / "kpitree.yaml").read_text(encoding="utf-8")
    url = "clickhouse://kpitree:s3cret@127.0.0.1:1/crm"
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


def _kept_path(project: Project) -> Path:
    with project.engine() as engine:
        path = engine.abm_scores.path
    assert path is not None
    return Path(path)


def _fresh_database(postgres_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute(f"DROP DATABASE IF EXISTS {name}")
        con.execute(f"CREATE DATABASE {name}")
    return postgres_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.mark.engine
@pytest.mark.postgres
def test_import_master_on_a_postgres_warehouse(tmp_path: Path, postgres_url: str) -> None:
    import duckdb

    from kpitree.data.pgwarehouse import PgWarehouse
    from kpitree.data.warehouse import default_warehouse_path

    duck = tmp_path / "duck"
    duck.mkdir()
    project = _project(duck)
    (duck / "master.csv").write_text(MASTER, encoding="utf-8")
    assert project.import_company_master(duck / "master.csv") == 5
    want = _points(project)
    assert want["A"][2] == "A"  # the master made A a tier-A account (the test can fail)

    # The same accounts in a PostgreSQL warehouse, written as imports write it.
    url = _fresh_database(postgres_url, "abm_master")
    server = tmp_path / "pg"
    server.mkdir()
    text = (duck / "kpitree.yaml").read_text(encoding="utf-8")
    (server / "kpitree.yaml").write_text(f"{text}data:\n  warehouse: {url}\n", "utf-8")
    with duckdb.connect(str(default_warehouse_path(duck)), read_only=True) as con:
        accounts = con.sql("SELECT * EXCLUDE (_import_id) FROM accounts").to_arrow_table()
    PgWarehouse(url, rejects_dir=server / "rejects").bulk_load({"accounts": accounts}, label="crm")
    (server / "master.csv").write_text(MASTER, encoding="utf-8")
    before = _kept_path(Project.load(server))
    with pytest.raises(SystemExit) as done:
        main(["import-master", str(server / "master.csv"), "-p", str(server)])
    assert done.value.code in (0, None)
    assert _points(Project.load(server)) == want
    # The write's table versions make new kept scores at once (not after 300 s),
    # computed by the command: the Accounts page reads A in tier A.
    after = _kept_path(Project.load(server))
    assert after != before and after.is_file()
    top = Project.load(server).accounts(as_of=AS_OF).rows[0].score
    assert (top.account_id, top.tier) == ("A", "A")
    # A file with a problem writes nothing: the master stays the one imported.
    (server / "bad.csv").write_text("法人番号,従業員数\n123,many\n", encoding="utf-8")
    with pytest.raises(UserError):
        Project.load(server).import_company_master(server / "bad.csv")
    assert _points(Project.load(server)) == want


@pytest.mark.engine
@pytest.mark.postgres
def test_a_copied_master_enriches_accounts_on_postgres(
    tmp_path: Path, postgres_database: str
) -> None:
    postgres_url = postgres_database
    from kpitree.data.warehouse import default_warehouse_path
    from kpitree.engines import copy_warehouse, open_engine

    project = _project(tmp_path)
    (tmp_path / "master.csv").write_text(MASTER, encoding="utf-8")
    assert project.import_company_master(tmp_path / "master.csv") == 5
    want = _points(project)
    copy_warehouse(default_warehouse_path(tmp_path), postgres_url)
    abm = project.tree.abm
    assert abm is not None
    with open_engine(postgres_url, timezone=project.tree.timezone) as pg:
        got = {
            a.account_id: (dict(a.points), set(a.missing), a.tier)
            for a in score_accounts(pg, abm, AS_OF).accounts
        }
    assert got == want


@pytest.mark.engine
@pytest.mark.postgres
def test_a_copy_without_master_empties_the_older_master(tmp_path: Path, postgres_url: str) -> None:
    from kpitree.data.warehouse import default_warehouse_path
    from kpitree.engines import copy_warehouse, open_engine

    url = _fresh_database(postgres_url, "abm_master_gone")
    with_master, without = tmp_path / "with", tmp_path / "without"
    with_master.mkdir()
    without.mkdir()
    project = _project(with_master)
    (with_master / "master.csv").write_text(MASTER, encoding="utf-8")
    assert project.import_company_master(with_master / "master.csv") == 5
    plain = _project(without)
    want = _points(plain)
    assert want != _points(project)  # the master changes the scores (the test can fail)
    abm = project.tree.abm
    assert abm is not None

    def scored() -> dict[str, tuple[dict[str, float], set[str], str | None]]:
        with open_engine(url, timezone=project.tree.timezone) as pg:
            return {
                a.account_id: (dict(a.points), set(a.missing), a.tier)
                for a in score_accounts(pg, abm, AS_OF).accounts
            }

    copy_warehouse(default_warehouse_path(with_master), url)
    assert scored() == _points(project)
    copy_warehouse(default_warehouse_path(without), url)
    assert scored() == want
