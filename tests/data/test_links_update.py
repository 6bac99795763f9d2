"""Links brought up to date by an import (:mod:`kpitree.data.links_update`)
equal links rebuilt from every record, after each of a series of small
writes chosen to move keys and candidates every way: a new record matching
others, a second candidate making a link ambiguous, an updated e-mail taking
a link away, an account written after the leads and deals that name it (by
id and by name), an account renamed under its leads, a lead arriving after
the deal naming it, and a new source of leads (which changes what is linked
at all, so everything is rebuilt). Only that last write rebuilds."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from kpitree.data import links_update
from kpitree.data.links import KEYS_TABLE, LINKS_TABLE, rebuild_links
from kpitree.data.schema import arrow_schema
from kpitree.data.warehouse import Warehouse

AT = dt.datetime(2026, 4, 1, 1, tzinfo=dt.UTC)


def _lead(lead_id: str, account_id: str | None = None, **attributes: str) -> dict[str, Any]:
    return {"lead_id": lead_id, "created_at": AT, "account_id": account_id,
            "attributes": json.dumps(attributes, ensure_ascii=False)}  # fmt: skip


def _deal(deal_id: str, lead_id: str | None = None, account_id: str | None = None,
          **attributes: str) -> dict[str, Any]:  # fmt: skip
    return {"deal_id": deal_id, "lead_id": lead_id, "account_id": account_id, "status": "open",
            "created_at": AT + dt.timedelta(days=10),
            "attributes": json.dumps(attributes, ensure_ascii=False)}  # fmt: skip


# (source, tables, rebuilt): each write in turn, and whether it must rebuild everything.
WRITES: list[tuple[str, dict[str, list[dict[str, Any]]], bool]] = [
    ("hs", {"leads": [_lead("L1", Email="a@one.co.jp", Company="株式会社ワン"),
                      _lead("L2", Email="b@two.co.jp", Company="Two Inc."),
                      _lead("L3", "A9", Email="c@three.co.jp"),
                      _lead("L4", Company="ファイブ")],
            "accounts": [{"account_id": "A1", "name": "株式会社テン"}]}, True),
    ("sf", {"deals": [_deal("D1", **{"Contact Email": "A@ONE.CO.JP"}),
                      _deal("D2", account_id="A9"),
                      _deal("D3", 取引先名="ファイブ 株式会社"),
                      _deal("D4", lead_id="L7")],
            "accounts": [{"account_id": "S1", "name": "TWO"}]}, True),
    # A second hs lead of ファイブ: D3's name now has two candidates.
    ("hs", {"leads": [_lead("L5", Company="ファイブ(株)")]}, False),
    # L1's e-mail changes: D1 loses its link, by e-mail and by domain.
    ("hs", {"leads": [_lead("L1", Email="z@elsewhere.co.jp", Company="株式会社ワン")]}, False),
    # The account L3 and D2 name arrives (hs), named as an sf account is.
    ("hs", {"accounts": [{"account_id": "A9", "name": "テン"}]}, False),
    # Renamed: L3 and D2 take the new name, which no sf account has.
    ("hs", {"accounts": [{"account_id": "A9", "name": "ナイン"}]}, False),
    # The lead D4 names, after it; and a deal matching L2 by e-mail.
    ("hs", {"leads": [_lead("L7", Email="q@seven.co.jp")]}, False),
    ("sf", {"deals": [_deal("D5", **{"Contact Email": "b@two.co.jp"})]}, False),
    # Leads from a second source: the same person is now looked for (lead_lead).
    ("sf-leads", {"leads": [_lead("L9", Email="B@two.co.jp")]}, True),
    ("sf-leads", {"leads": [_lead("L10", Email="c@three.co.jp")]}, False),
]  # fmt: skip


def _table(name: str, rows: list[dict[str, Any]]) -> Any:
    import pyarrow as pa

    schema = arrow_schema(name)
    return pa.Table.from_pylist([{c: r.get(c) for c in schema.names} for r in rows], schema=schema)


def _snapshot(con: Any) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    return (
        sorted(con.execute(f"SELECT * FROM {LINKS_TABLE}").fetchall(), key=repr),
        sorted(con.execute(f"SELECT * FROM {KEYS_TABLE}").fetchall(), key=repr),
    )


@pytest.fixture
def rebuilds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times the update rebuilt everything (it still does so)."""
    calls: list[int] = []

    def counted(con: Any, keys: Any = None) -> None:
        calls.append(1)
        rebuild_links(con, keys)

    monkeypatch.setattr(links_update, "rebuild_links", counted)
    return calls


def test_updated_links_equal_links_rebuilt_after_every_write(
    tmp_path: Path, rebuilds: list[int]
) -> None:
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    for step, (source, tables, rebuilt) in enumerate(WRITES):
        before = len(rebuilds)
        arrow = {name: _table(name, rows) for name, rows in tables.items()}
        wh.bulk_load(arrow, label=f"{source}-{step}.csv", source=source)
        assert len(rebuilds) - before == int(rebuilt), (step, source)
        with wh.writing() as con:
            updated = _snapshot(con)
            con.execute("BEGIN TRANSACTION")
            rebuild_links(con)
            rebuilt_rows = _snapshot(con)
            con.execute("ROLLBACK")
        assert updated == rebuilt_rows, step
    with wh.connect() as con:
        rows = con.execute(
            f"SELECT relation, from_id, to_id, method, status FROM {LINKS_TABLE} "
            "WHERE from_id IN ('D1', 'D2', 'D3', 'D4', 'D5', 'L3', 'L9', 'L10') "
            "ORDER BY relation, from_id"
        ).fetchall()
    # The writes did move links (the comparison above is not of empty tables).
    assert ("deal_lead", "D3", None, "name", "ambiguous") in rows
    assert ("deal_lead", "D4", "L7", "id", "linked") in rows
    assert ("deal_lead", "D5", None, "email", "ambiguous") in rows
    assert ("deal_account", "D2", "A9", "id", "linked") in rows
    assert ("deal_lead", "D2", "L3", "name", "linked") in rows  # by their account's new name
    assert ("lead_lead", "L10", "L3", "email", "linked") in rows
    assert ("deal_lead", "D1", None, None, "unmatched") in rows
