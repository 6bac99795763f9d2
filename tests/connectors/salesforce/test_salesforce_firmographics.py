"""A Salesforce sync stores each account's firmographics as the org holds them:
employees and annual revenue (what ABM scores read)."""

from __future__ import annotations

from pathlib import Path

import duckdb
from salesforce_project import environ, write_project

from fakes.salesforce import FakeSalesforce
from kpitree.connectors.sync import sync_project


def test_employees_and_annual_revenue_are_synced(
    salesforce: FakeSalesforce, tmp_path: Path
) -> None:
    project = write_project(tmp_path / "p", salesforce)
    (result,) = sync_project(project, environ=environ(salesforce))
    assert result.error is None, result.to_json()
    with salesforce.changing() as org:
        want = {r["Id"]: (r["NumberOfEmployees"], r["AnnualRevenue"]) for r in org.live("Account")}
    con = duckdb.connect(str(project / ".kpitree" / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT account_id, employees, annual_revenue FROM accounts").fetchall()
    finally:
        con.close()
    got = {a: (e, r) for a, e, r in rows}
    assert got == want
    assert any(r is not None for _, r in want.values())  # the test can fail
