"""The ABM metrics, scores and target membership on PostgreSQL equal DuckDB's,
on the same data (a warehouse copied to a throwaway cluster)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kpitree.abm import score_accounts
from kpitree.abm.daily import DailyScores

from .test_account_kpis import AS_OF, METRICS, _company, _project

pytestmark = [pytest.mark.engine, pytest.mark.postgres]


def test_abm_metrics_are_the_same_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    import pandas as pd

    from kpitree.abm.facts import install_account_facts
    from kpitree.data.warehouse import default_warehouse_path
    from kpitree.engines import copy_warehouse, open_engine

    project = _project(tmp_path, _company(2))
    abm = project.tree.abm
    assert abm is not None
    copy_warehouse(default_warehouse_path(tmp_path), postgres_url)
    expected = project.status("2026-06", as_of=AS_OF, compare=False, explain=False)
    with project.engine() as duck:
        duck_scores = score_accounts(duck, abm, AS_OF)
        june = [dt.date(2026, 6, 1) + dt.timedelta(days=i) for i in range(30)]
        duck_days = duck.abm_scores.rows(june)
    with open_engine(postgres_url, timezone=project.tree.timezone) as pg:
        pg.roster = project.roster()
        install_account_facts(pg, abm, project.path, AS_OF, tmp_path / "cache")
        got = project.status("2026-06", as_of=AS_OF, compare=False, explain=False, engine=pg)
        pg_scores = score_accounts(pg, abm, AS_OF)
        store = pg.abm_scores
        assert isinstance(store, DailyScores) and store.path is not None  # on disk too
        pg_days = store.rows(june)
    want = {r.node: r.actual for r in expected.rows if not r.segment}
    have = {r.node: r.actual for r in got.rows if not r.segment}
    for metric in METRICS:
        assert have[metric] == pytest.approx(want[metric], nan_ok=True), metric
    assert any(want[m] for m in METRICS)  # the test can fail
    pd.testing.assert_frame_equal(got.frame, expected.frame)
    assert [(a.account_id, a.tier) for a in pg_scores.accounts] == [
        (a.account_id, a.tier) for a in duck_scores.accounts
    ]
    for a, b in zip(pg_scores.accounts, duck_scores.accounts, strict=True):
        assert a.score == pytest.approx(b.score, abs=1e-9)
    cols = ["day", "account_id", "tier", "target_account", "by_tier", "by_list"]
    assert pg_days.select(cols).to_pylist() == duck_days.select(cols).to_pylist()


def test_postgres_days_are_kept_on_disk_for_the_servers_data_version(
    tmp_path: Path, postgres_url: str
) -> None:
    """Like the pages: the days computed on a server are kept in the project's
    folder under its data version (``server:<n>``, moving every 300 s), read
    back by a later engine within those seconds and computed again after."""
    from kpitree.data.warehouse import default_warehouse_path
    from kpitree.engines import copy_warehouse, open_engine
    from kpitree.engines.freshness import SERVER_DATA_TTL

    project = _project(tmp_path, _company(2))
    abm = project.tree.abm
    assert abm is not None
    copy_warehouse(default_warehouse_path(tmp_path), postgres_url)
    folder = tmp_path / "cache" / "abm"
    june = [dt.date(2026, 6, 1) + dt.timedelta(days=i) for i in range(30)]
    start = 1_000 * SERVER_DATA_TTL
    with open_engine(postgres_url, timezone=project.tree.timezone) as pg:
        first = DailyScores(pg, abm, project.path, folder, clock=lambda: start)
        computed = first.rows(june)
        assert first.path is not None and first.path.is_file()
    with project.engine() as duck:
        want = duck.abm_scores.rows(june)
    with open_engine(postgres_url, timezone=project.tree.timezone) as pg:
        later = DailyScores(pg, abm, project.path, folder, clock=lambda: start + 299)
        assert later.path == first.path
        kept = later._load()  # read from the file the first engine wrote
        assert kept is not None and kept.equals(computed)
        cols = ["day", "account_id", "tier", "target_account", "by_tier", "by_list"]
        assert kept.select(cols).to_pylist() == want.select(cols).to_pylist()
        assert kept.num_rows > 0
        after = DailyScores(pg, abm, project.path, folder, clock=lambda: start + SERVER_DATA_TTL)
        assert after.path is not None and after.path != first.path
        assert after._load() is None  # a new period: computed again
        assert after.rows(june).select(cols).to_pylist() == kept.select(cols).to_pylist()
    assert [p.name for p in folder.glob("daily-*.parquet")] == [after.path.name]
