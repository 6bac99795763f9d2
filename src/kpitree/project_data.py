"""A project's data (behind :class:`kpitree.project.Project`): where its
warehouse is, the engine that reads it (with what the ELT tool landed, the
organisation's roster, the compiled-SQL cache and the account facts), and the
company master stored beside the facts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kpitree.errors import UserError

if TYPE_CHECKING:
    from kpitree.definition.tree import Tree
    from kpitree.engines import Engine
    from kpitree.project import Project

__all__ = ["import_company_master", "open_project_engine", "warehouse_target"]


def warehouse_target(tree: Tree, folder: Path) -> str:
    """Where the data is: the DuckDB file (absolute path) or a database URL."""
    from kpitree.data.paths import warehouse_path

    configured = tree.warehouse
    if configured and "://" in configured and not configured.startswith("duckdb://"):
        return configured  # a database the engines read (PostgreSQL, ...)
    return str(warehouse_path(folder, configured).resolve())


def open_project_engine(project: Project) -> Engine:
    """An engine on ``project``'s data (close it when done)."""
    from kpitree.engines import open_engine

    tree = project.tree
    engine = open_engine(project.warehouse_target, timezone=tree.timezone)
    landed = tree.landed
    if landed is not None:  # data.landed: read what the ELT tool landed
        from kpitree.engines.landed import attach_landed

        try:
            attach_landed(
                engine,
                landed.preset,
                database=landed.database,
                lead_statuses=landed.lead_statuses,
                deal_stages=landed.deal_stages,
            )
        except BaseException:
            engine.close()
            raise
    engine.roster = project.roster()
    engine.sql_cache = project.query_cache()
    if tree.abm is not None:
        from kpitree.abm.facts import install_account_facts
        from kpitree.data.paths import WAREHOUSE_DIR

        folder = project.path / WAREHOUSE_DIR / "cache"
        install_account_facts(engine, tree.abm, project.path, project.today(), folder)
    return engine


def import_company_master(project: Project, file: Path, encoding: str | None = None) -> int:
    """Replace the warehouse's company master by ``file`` (see
    :mod:`kpitree.data.company_master`); the number of companies stored."""
    from kpitree.data.company_master import read_company_master, store_company_master
    from kpitree.data.pgwarehouse import is_postgres_url, warehouse_for

    target = project.warehouse_target
    if "://" in target and not target.startswith("duckdb://"):
        if not is_postgres_url(target):  # Spark, ClickHouse: no transaction
            from kpitree.data.paths import without_password

            where = without_password(target)
            raise UserError.of("KT285", "abm.master.server", None, where=where)
        master = read_company_master(file, encoding)
        return store_company_master(warehouse_for(project.path, target), master)
    master = read_company_master(file, encoding)
    return store_company_master(Path(target.removeprefix("duckdb://")), master)
