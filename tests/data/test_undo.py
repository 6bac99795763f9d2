"""Undo: exactly what one import added or changed, and only when no later import
depends on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpitree.data.warehouse import Warehouse, default_warehouse_path
from kpitree.errors import DataError

from .warehouse_support import arrow_table, batch, lead, rows, snapshot, ts


@pytest.fixture
def wh(tmp_path: Path) -> Warehouse:
    return Warehouse(default_warehouse_path(tmp_path))


def _deals(amount: float, stage: str, *, extra: bool = False) -> dict[str, list[dict[str, object]]]:
    deals = [
        {
            "deal_id": "D1",
            "created_at": ts(3),
            "status": "open",
            "amount": amount,
            "stage": stage,
            "attributes": '{"source": "sfa"}',
        },
        {"deal_id": "D2", "created_at": ts(4), "status": "won", "amount": 500.0, "stage": "won"},
    ]
    if extra:
        deals.append({"deal_id": "D3", "created_at": ts(8), "status": "open", "amount": 1.5})
    return {
        "deals": deals,
        "deal_stage_history": [
            {"deal_id": "D1", "stage": stage, "entered_at": ts(10)},
            {"deal_id": "D2", "stage": "won", "entered_at": ts(11)},
        ],
        "accounts": [{"account_id": "A1", "name": "株式会社テスト", "employees": 120}],
    }


def test_undo_restores_every_table_exactly(wh: Warehouse) -> None:
    first = wh.apply(batch(_deals(1000.0, "proposal"), file="deals-jan.csv"), skip_invalid=False)
    after_first = snapshot(wh)
    second = wh.apply(
        batch(_deals(1200.0, "negotiation", extra=True), file="deals-feb.csv"),
        skip_invalid=False,
    )
    assert (second.inserted, second.updated) == (2, 1)  # D3 + D1's new stage; D1 changed
    assert snapshot(wh) != after_first

    undone = wh.undo(second.import_id)
    assert (undone.deleted, undone.restored) == (2, 1)
    assert snapshot(wh) == after_first

    wh.undo(first.import_id)
    assert all(not content for content in snapshot(wh).values())
    assert [(r.import_id, r.status) for r in wh.imports()] == [(1, "undone"), (2, "undone")]
    assert all(r.undone_at is not None for r in wh.imports())


def test_undo_is_refused_while_a_later_import_changed_the_same_rows(wh: Warehouse) -> None:
    wh.apply(batch({"leads": [lead("L1"), lead("L2")]}), skip_invalid=False)
    wh.apply(batch({"leads": [lead("L3")]}, file="other.csv"), skip_invalid=False)
    wh.apply(batch({"leads": [lead("L2", channel="event")]}, file="fix.csv"), skip_invalid=False)
    before = snapshot(wh)

    with pytest.raises(DataError) as err:
        wh.undo(1)
    diag = err.value.diagnostics[0]
    assert diag.key == "warehouse.undo_conflict"
    assert diag.params == {"import_id": 1, "later": 3, "table": "leads"}
    assert "3" in diag.message("en") and "3" in diag.message("ja")
    assert snapshot(wh) == before

    wh.undo(3)  # the later import first...
    wh.undo(1)  # ...then the earlier one is allowed
    assert rows(wh, "SELECT lead_id FROM leads") == [("L3",)]


def test_an_unrelated_later_import_does_not_block_undo(wh: Warehouse) -> None:
    wh.apply(batch({"leads": [lead("L1")]}), skip_invalid=False)
    wh.apply(batch({"leads": [lead("L2")]}, file="b.csv"), skip_invalid=False)
    # Re-importing L1 unchanged does not count as touching it.
    wh.apply(batch({"leads": [lead("L1")]}), skip_invalid=False)
    wh.undo(1)
    assert rows(wh, "SELECT lead_id FROM leads") == [("L2",)]


@pytest.mark.parametrize(
    ("setup", "key"),
    [
        ("undone", "warehouse.undo_undone"),
        ("failed", "warehouse.undo_failed"),
        ("none", "warehouse.no_such_import"),
    ],
)
def test_undo_refuses_what_cannot_be_undone(wh: Warehouse, setup: str, key: str) -> None:
    from kpitree.data.batch import Reject

    if setup == "undone":
        wh.apply(batch({"leads": [lead("L1")]}), skip_invalid=False)
        wh.undo(1)
    elif setup == "failed":
        with pytest.raises(DataError):
            wh.apply(
                batch({"leads": [lead("L1")]}, rejects=[Reject("x.csv", 2, "ID", "", "empty")]),
                skip_invalid=False,
            )
    with pytest.raises(DataError) as err:
        wh.undo(1)
    assert err.value.diagnostics[0].key == key


def test_bulk_load_is_an_import_that_can_be_undone(wh: Warehouse) -> None:
    wh.apply(batch({"leads": [lead("L0")]}), skip_invalid=False)
    before = snapshot(wh)
    result = wh.bulk_load(
        {
            "leads": arrow_table("leads", [lead(f"L{i}", 1 + i % 20) for i in range(1, 50)]),
            "reps": arrow_table("reps", [{"rep_id": "R1", "name": "佐藤"}]),
        },
        label="demo seed 7",
    )
    assert (result.inserted, result.rows_read) == (50, 50)
    (record,) = [r for r in wh.imports() if r.kind == "bulk_load"]
    assert (record.source_file, record.status) == ("demo seed 7", "applied")
    wh.undo(result.import_id)
    assert snapshot(wh) == before


def test_two_updates_of_one_row_undo_in_reverse_order_only(wh: Warehouse) -> None:
    wh.apply(batch({"leads": [lead("L1", channel="web")]}), skip_invalid=False)
    original = snapshot(wh)
    wh.apply(batch({"leads": [lead("L1", channel="ads")]}), skip_invalid=False)
    after_second = snapshot(wh)
    wh.apply(batch({"leads": [lead("L1", channel="event")]}), skip_invalid=False)
    with pytest.raises(DataError) as err:
        wh.undo(2)
    assert err.value.diagnostics[0].params["later"] == 3
    wh.undo(3)
    assert snapshot(wh) == after_second
    wh.undo(2)
    assert snapshot(wh) == original


def test_every_row_names_the_import_that_inserted_it(wh: Warehouse) -> None:
    wh.apply(batch({"leads": [lead("L1")]}), skip_invalid=False)
    wh.apply(batch({"leads": [lead("L1", channel="ads"), lead("L2")]}), skip_invalid=False)
    assert rows(wh, "SELECT lead_id, _import_id FROM leads ORDER BY 1") == [("L1", 1), ("L2", 2)]
