"""A dimension some metrics lack (renewals have no lead channel) splits and
filters the metrics that have it; the others are not applicable there (no
value, never an unfiltered one), and the status is still computed."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from kpitree.compute.measure import measure
from kpitree.compute.periods import parse_period
from kpitree.data.demo import generate
from kpitree.data.warehouse import Warehouse
from kpitree.errors import UserError
from kpitree.project import Project

AS_OF = dt.date(2025, 11, 18)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Project:
    folder = tmp_path_factory.mktemp("apart")
    Warehouse(folder / "warehouse.duckdb").bulk_load(generate("tiny", seed=8).tables, label="d")
    definition = Project.init(folder / "project")
    doc = yaml.safe_load(definition.read_text(encoding="utf-8"))
    doc["data"] = {"warehouse": str(folder / "warehouse.duckdb")}
    definition.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    return Project.load(folder / "project")


def test_a_breakdown_by_channel_splits_what_has_a_channel(demo: Project) -> None:
    whole = demo.status("2025-10", as_of=AS_OF, explain=False)
    split = demo.status("2025-10", by="channel", as_of=AS_OF, explain=False)
    for node in ("leads", "renewable_arr", "won_deals", "revenue"):
        assert split.row(node, "2025-10").actual == whole.row(node, "2025-10").actual, node
    channels = split.select(node="leads", level=("channel",))
    assert len(channels) >= 2
    assert sum(r.actual or 0 for r in channels) == whole.row("leads", "2025-10").actual
    deals = split.select(node="won_deals", level=("channel",))
    assert sum(r.actual or 0 for r in deals) == whole.row("won_deals", "2025-10").actual
    renewals = split.select(node="renewable_arr", level=("channel",))
    assert renewals and all(r.actual is None and r.status is None for r in renewals)


def test_a_channel_filter_leaves_out_what_has_no_channel(demo: Project) -> None:
    split = demo.status("2025-10", by="channel", as_of=AS_OF, explain=False)
    busiest = max(split.select(node="leads", level=("channel",)), key=lambda r: r.actual or 0)
    channel = dict(busiest.segment)["channel"]
    assert channel is not None
    kept = demo.status("2025-10", filters={"channel": [channel]}, as_of=AS_OF, explain=False)
    assert kept.row("leads", "2025-10").actual == busiest.actual
    assert kept.row("renewable_arr", "2025-10").actual is None  # not the unfiltered sum
    assert kept.row("revenue", "2025-10").actual is None  # renewals are part of it
    absent = kept.not_applicable[()]
    assert absent["renewable_arr"] == ("channel",) and "renewal_rate" in absent
    assert "leads" not in absent


def test_measure_says_what_is_not_applicable(demo: Project) -> None:
    with demo.engine() as engine:
        frames = measure(
            engine,
            demo.catalogue,
            ["leads", "due_arr"],
            [parse_period("2025-10", 4)],
            [(), ("channel",)],
            as_of=AS_OF,
        )
    assert frames[()].attrs["not_applicable"] == {}
    assert frames[("channel",)].attrs["not_applicable"] == {"due_arr": ("channel",)}
    assert frames[("channel",)]["due_arr"].isna().all()
    assert frames[("channel",)]["leads"].notna().all()


def test_a_dimension_no_metric_has_is_still_an_error(demo: Project) -> None:
    with pytest.raises(UserError) as caught:
        demo.status("2025-10", by="chanel", as_of=AS_OF, explain=False)
    assert caught.value.diagnostics[0].code == "KT530"
    assert "channel" in caught.value.diagnostics[0].message("en")
