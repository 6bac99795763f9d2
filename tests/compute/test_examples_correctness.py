"""kpitree's numbers on the example projects equal an independent computation.

Each example (examples/olist, examples/maven) is imported once per module, through
its own ``data.sources`` and mappings, into a warehouse in a temporary copy of the
project. The expected numbers are computed here with pandas straight from the raw
CSV files in ../shared/data (see each data set's SOURCE.md for its quirks), without
any kpitree code. Counts must be equal; money, rates and durations agree to 1e-9
(relative).

Olist (America/Sao_Paulo, fiscal year = calendar year): MQLs per month of
first_contact_date; won deals per local month of won_date; cohort conversion
MQL → won within 365 days (built-in ``mql_to_won_rate``) and within 30 days (the
project's ``mql_to_won_30d``) for the cohort of each month, by origin (channel),
the blank origin being its own (null) segment and ``unknown`` another.

Maven (America/New_York, fiscal year = calendar year): win rate won / (won + lost)
by close_date per month, quarter and year, overall, by regional office and by
manager; won revenue (close_value) by product; median days engage_date →
close_date of won deals (the project's ``median_sales_cycle_days``) and the
built-in average ``sales_cycle_days``.

Then the same numbers through ``Project.status`` (segments of additive metrics
add up to the company) and through ``kpitree status --json``.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest
from typer.testing import CliRunner

from kpitree.cli import app
from kpitree.compute.measure import measure
from kpitree.compute.periods import Period, parse_period, periods_between
from kpitree.data.mapping import load_mapping
from kpitree.data.readers import read_and_map
from kpitree.data.warehouse import Warehouse, default_warehouse_path
from kpitree.project import Project

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
OLIST_DATA = SHARED / "olist-marketing-funnel"
MAVEN_DATA = SHARED / "maven-crm-sales-opportunities"
# After every fact and every conversion window of both data sets: all complete.
AS_OF = dt.date(2020, 1, 31)
REL = 1e-9

Level = tuple[str, ...]
Values = dict[tuple[Any, ...], float]


# --- importing the examples ---------------------------------------------------------


def _imported(example: str, folder: Path) -> Project:
    """A copy of ``examples/<example>`` in ``folder`` with its data sources imported
    into ``folder``'s warehouse (the example's own folder is left untouched)."""
    source = REPO / "examples" / example
    tree = Project.load(source).tree
    assert tree.data_sources, example
    shutil.copyfile(source / "kpitree.yaml", folder / "kpitree.yaml")
    batches = []
    for file, mapping, sheet in tree.data_sources:
        assert (source / file).resolve().is_relative_to(SHARED.resolve()), file
        batch = read_and_map(
            source / file, load_mapping(source / mapping), sheet=sheet, tz=tree.timezone
        )
        assert batch.rejects == [], (file, batch.rejects[:3])
        batches.append(batch)
    Warehouse(default_warehouse_path(folder)).apply_many(batches, skip_invalid=False)
    return Project.load(folder)


@pytest.fixture(scope="module", autouse=True)
def _shared_data() -> None:
    if not SHARED.is_dir():
        pytest.fail(f"the shared data sets are missing: {SHARED}")


@pytest.fixture(scope="module")
def olist(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return _imported("olist", tmp_path_factory.mktemp("olist"))


@pytest.fixture(scope="module")
def maven(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return _imported("maven", tmp_path_factory.mktemp("maven"))


# --- the independent side: raw CSV files and pandas ---------------------------------


def _csv(path: Path) -> pd.DataFrame:
    """Every cell as text, blanks as empty strings (nothing guessed)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _key(value: Any) -> Any:
    """Segment values compared as text, a missing one as None."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return str(value)


def _grouped(frame: pd.DataFrame, keys: Sequence[str], series: pd.Series) -> Values:
    """``series`` (one value per group of ``frame`` by ``keys``) as a dict keyed by
    tuples of the group values, blanks as None."""
    out: Values = {}
    for k, v in series.items():
        parts = k if isinstance(k, tuple) else (k,)
        out[tuple(_key(p) for p in parts)] = float(v)
    assert len(out) == len(series), keys
    return out


@pytest.fixture(scope="module")
def olist_leads() -> pd.DataFrame:
    """One row per MQL with its (local) first contact month, channel (None when
    origin is blank) and, when won, the days from first contact to the won day."""
    mqls = _csv(OLIST_DATA / "olist_marketing_qualified_leads_dataset.csv")
    won = _csv(OLIST_DATA / "olist_closed_deals_dataset.csv")
    leads = mqls.merge(won[["mql_id", "won_date"]], on="mql_id", how="left", validate="1:1")
    leads["channel"] = leads["origin"].map(lambda o: o or None)
    leads["month"] = leads["first_contact_date"].str[:7]
    contact = pd.to_datetime(leads["first_contact_date"], format="%Y-%m-%d")
    won_at = pd.to_datetime(leads["won_date"], format="%Y-%m-%d %H:%M:%S")
    # First contact is a day (its local midnight); won_date a local clock time.
    leads["days_to_won"] = (won_at.dt.normalize() - contact).dt.days
    return leads


@pytest.fixture(scope="module")
def olist_won() -> pd.DataFrame:
    """One row per won deal with its local month and its MQL's channel."""
    mqls = _csv(OLIST_DATA / "olist_marketing_qualified_leads_dataset.csv")
    won = _csv(OLIST_DATA / "olist_closed_deals_dataset.csv")
    won = won.merge(mqls[["mql_id", "origin"]], on="mql_id", how="left", validate="1:1")
    # won_date is a clock time in Brazil, the project's time zone: its month is
    # the month written in the file.
    won["month"] = won["won_date"].str[:7]
    won["channel"] = won["origin"].map(lambda o: o or None)
    return won


def _olist_converted(leads: pd.DataFrame, window: int) -> pd.Series:
    """Won on or after the first contact day and at most ``window`` days later."""
    days = leads["days_to_won"]
    return (days.notna() & (days >= 0) & (days <= window)).astype("int64")


def _quarter(month: str) -> str:
    year, m = int(month[:4]), int(month[5:7])
    return f"FY{year}-Q{(m - 1) // 3 + 1}"  # fiscal year starts in January


@pytest.fixture(scope="module")
def maven_closed() -> pd.DataFrame:
    """Won and lost opportunities with their office, manager, product (named as in
    products.csv), close month / quarter / year, value and days engaged → closed."""
    pipeline = _csv(MAVEN_DATA / "sales_pipeline.csv")
    teams = _csv(MAVEN_DATA / "sales_teams.csv")
    deals = pipeline.merge(teams, on="sales_agent", how="left", validate="m:1")
    assert deals["regional_office"].notna().all()
    deals["product"] = deals["product"].replace({"GTXPro": "GTX Pro"})
    closed = deals[deals["deal_stage"].isin(["Won", "Lost"])].copy()
    closed["month"] = closed["close_date"].str[:7]
    closed["quarter"] = closed["month"].map(_quarter)
    closed["year"] = "FY" + closed["close_date"].str[:4]
    closed["won"] = (closed["deal_stage"] == "Won").astype("int64")
    closed["value"] = closed["close_value"].astype("float64")
    cycle = pd.to_datetime(closed["close_date"]) - pd.to_datetime(closed["engage_date"])
    closed["cycle_days"] = cycle.dt.days.astype("float64")
    return closed


# --- the kpitree side -----------------------------------------------------------------


def _months(first: str, last: str, project: Project) -> list[Period]:
    fys = project.tree.fiscal_year_start
    return periods_between(parse_period(first, fys), parse_period(last, fys))


def _measure(
    project: Project, metric_ids: list[str], periods: list[Period], levels: list[Level]
) -> dict[Level, pd.DataFrame]:
    with project.engine() as engine:
        return measure(engine, project.catalogue, metric_ids, periods, levels=levels)


def _values(
    frame: pd.DataFrame, periods: Sequence[Period], level: Level, column: str, *, zeros: bool
) -> Values:
    """``column`` per (period key, *segment); unknown values (NaN) left out, and
    zeros too unless ``zeros``."""
    out: Values = {}
    for rec in frame.to_dict("records"):
        value = rec[column]
        if value != value or (value == 0 and not zeros):
            continue
        segment = tuple(_key(rec[f"dim__{d}"]) for d in level)
        out[(periods[int(rec["period"])].key, *segment)] = float(value)
    return out


def _nonzero(values: Values) -> Values:
    return {k: v for k, v in values.items() if v != 0}


# --- Olist -------------------------------------------------------------------------


def test_olist_data_has_the_traps_the_checks_rely_on(
    olist_leads: pd.DataFrame, olist_won: pd.DataFrame
) -> None:
    """Sanity of the fixture: the checks below can tell a wrong time zone (deals
    won late on a month's last day move to the next month in UTC), an off-by-one
    window (deals won exactly 30 days after first contact), a missing window
    (deals won after 365 days) and a missing 'after' rule (won before contact)."""
    won_at = pd.to_datetime(olist_won["won_date"])
    late = won_at.dt.is_month_end & (won_at.dt.hour >= 21)
    assert late.sum() >= 5
    days = olist_leads["days_to_won"]
    assert (days == 30).sum() >= 5
    assert (days > 365).sum() >= 1
    assert (days < 0).sum() == 1
    assert len(olist_leads) == 8000 and olist_leads["days_to_won"].notna().sum() == 842


def test_olist_mqls_per_month(olist: Project, olist_leads: pd.DataFrame) -> None:
    # Every month of the data, with an empty month on either side.
    periods = _months("2017-05", "2018-12", olist)
    got = _measure(olist, ["mqls"], periods, [()])[()]
    expected = _grouped(olist_leads, ["month"], olist_leads.groupby("month").size())
    assert len(expected) == 12  # 2017-06 .. 2018-05
    assert _nonzero(_values(got, periods, (), "mqls", zeros=True)) == expected
    assert got["mqls"].sum() == 8000


def test_olist_won_deals_per_local_month(olist: Project, olist_won: pd.DataFrame) -> None:
    periods = _months("2017-11", "2018-12", olist)
    got = _measure(olist, ["won_deals"], periods, [()])[()]
    expected = _grouped(olist_won, ["month"], olist_won.groupby("month").size())
    assert len(expected) == 12  # 2017-12 .. 2018-11
    assert _nonzero(_values(got, periods, (), "won_deals", zeros=True)) == expected
    assert got["won_deals"].sum() == 842


@pytest.mark.parametrize(("metric", "window"), [("mql_to_won_rate", 365), ("mql_to_won_30d", 30)])
def test_olist_cohort_conversion_by_channel(
    olist: Project, olist_leads: pd.DataFrame, metric: str, window: int
) -> None:
    """Cohort of each month (MQLs by first contact), converted when won within the
    window; for the company and each origin, blank and 'unknown' included."""
    assert olist.catalogue[metric].spec.window_days == window
    periods = _months("2017-05", "2018-06", olist)
    got = _measure(olist, [metric], periods, [(), ("channel",)])
    leads = olist_leads.assign(converted=_olist_converted(olist_leads, window))
    for level, keys in (((), ["month"]), (("channel",), ["month", "channel"])):
        groups = leads.groupby(keys, dropna=False)["converted"]
        num = _grouped(leads, keys, groups.sum())
        den = _grouped(leads, keys, groups.size())
        rate = {k: num[k] / den[k] for k in den}
        frame = got[level]
        assert _values(frame, periods, level, f"{metric}#den", zeros=True) == den
        assert _values(frame, periods, level, f"{metric}#num", zeros=True) == num
        assert _values(frame, periods, level, metric, zeros=True) == pytest.approx(rate, rel=REL)
    # 12 monthly cohorts x 11 origins (blank included): 124 are not empty.
    assert len(den) == 124 and sum(num.values()) == leads["converted"].sum() > 0


def test_olist_blank_origin_is_its_own_segment(
    olist: Project, olist_leads: pd.DataFrame, olist_won: pd.DataFrame
) -> None:
    fy = [parse_period("FY2017", 1), parse_period("FY2018", 1)]
    got = _measure(olist, ["mqls", "won_deals"], fy, [("channel",)])[("channel",)]
    mqls = _nonzero(_values(got, fy, ("channel",), "mqls", zeros=True))
    won = _nonzero(_values(got, fy, ("channel",), "won_deals", zeros=True))
    leads = olist_leads.assign(year="FY" + olist_leads["first_contact_date"].str[:4])
    keys = ["year", "channel"]
    assert mqls == _grouped(leads, keys, leads.groupby(keys, dropna=False).size())
    deals = olist_won.assign(year="FY" + olist_won["won_date"].str[:4])
    assert won == _grouped(deals, keys, deals.groupby(keys, dropna=False).size())
    channels = {k[1] for k in mqls}
    assert None in channels and "unknown" in channels and "" not in channels
    assert sum(v for k, v in mqls.items() if k[1] is None) == 60
    assert sum(v for k, v in mqls.items() if k[1] == "unknown") == 1099
    assert sum(v for k, v in won.items() if k[1] is None) == 14
    assert sum(v for k, v in won.items() if k[1] == "unknown") == 179


# --- Maven -------------------------------------------------------------------------

# kpitree dimension -> column of the independent frame
_MAVEN_DIMS = {"region": "regional_office", "manager": "manager", "product": "product"}


def _maven_periods(grain: str, project: Project) -> list[Period]:
    fys = project.tree.fiscal_year_start
    first, last = {
        "month": ("2017-02", "2018-01"),  # closes run 2017-03 .. 2017-12
        "quarter": ("FY2016-Q4", "FY2018-Q1"),
        "year": ("FY2016", "FY2018"),
    }[grain]
    return periods_between(parse_period(first, fys), parse_period(last, fys))


class _MavenMeasured:
    """kpitree's Maven numbers, measured once per grain (periods of one grain do not
    overlap) for the company, each office, each manager and each product."""

    IDS: ClassVar[list[str]] = ["win_rate", "won_deals", "lost_deals", "revenue"]
    DURATIONS: ClassVar[list[str]] = ["median_sales_cycle_days", "sales_cycle_days"]
    LEVELS: ClassVar[list[Level]] = [(), ("region",), ("manager",), ("product",)]

    def __init__(self, project: Project) -> None:
        self.project = project
        self.cache: dict[str, tuple[list[Period], dict[Level, pd.DataFrame]]] = {}

    def __call__(self, grain: str) -> tuple[list[Period], dict[Level, pd.DataFrame]]:
        if grain not in self.cache:
            periods = _maven_periods(grain, self.project)
            ids = self.IDS + self.DURATIONS
            self.cache[grain] = (periods, _measure(self.project, ids, periods, self.LEVELS))
        return self.cache[grain]


@pytest.fixture(scope="module")
def maven_measured(maven: Project) -> _MavenMeasured:
    return _MavenMeasured(maven)


def _maven_expected(closed: pd.DataFrame, grain: str, level: Level) -> dict[str, Values]:
    keys = [grain, *(_MAVEN_DIMS[d] for d in level)]
    by = closed.groupby(keys)
    won = closed[closed["won"] == 1].groupby(keys)
    return {
        "won": _grouped(closed, keys, by["won"].sum()),
        "closed": _grouped(closed, keys, by.size()),
        "revenue": _grouped(closed, keys, won["value"].sum()),
        "median_cycle": _grouped(closed, keys, won["cycle_days"].median()),
        "mean_cycle": _grouped(closed, keys, won["cycle_days"].mean()),
    }


@pytest.mark.parametrize("grain", ["month", "quarter", "year"])
@pytest.mark.parametrize("level", [(), ("region",), ("manager",)], ids=["all", "office", "manager"])
def test_maven_win_rate(
    maven_measured: _MavenMeasured, maven_closed: pd.DataFrame, grain: str, level: Level
) -> None:
    periods, frames = maven_measured(grain)
    frame = frames[level]
    exp = _maven_expected(maven_closed, grain, level)
    assert _nonzero(_values(frame, periods, level, "won_deals", zeros=True)) == exp["won"]
    lost = {k: exp["closed"][k] - exp["won"].get(k, 0) for k in exp["closed"]}
    assert _nonzero(_values(frame, periods, level, "lost_deals", zeros=True)) == _nonzero(lost)
    assert _values(frame, periods, level, "win_rate#den", zeros=False) == exp["closed"]
    rate = {k: exp["won"][k] / exp["closed"][k] for k in exp["closed"]}
    assert _values(frame, periods, level, "win_rate", zeros=True) == pytest.approx(rate, rel=REL)
    segments = {k[1:] for k in exp["closed"]}
    assert len(segments) == {(): 1, ("region",): 3, ("manager",): 6}[level]
    assert len(exp["closed"]) == {"month": 10, "quarter": 4, "year": 1}[grain] * len(segments)
    if grain == "year" and not level:
        assert rate == pytest.approx({("FY2017",): 4238 / 6711}, rel=REL)


@pytest.mark.parametrize("grain", ["month", "quarter", "year"])
def test_maven_won_revenue_by_product(
    maven_measured: _MavenMeasured, maven_closed: pd.DataFrame, grain: str
) -> None:
    periods, frames = maven_measured(grain)
    level: Level = ("product",)
    exp = _maven_expected(maven_closed, grain, level)["revenue"]
    got = _nonzero(_values(frames[level], periods, level, "revenue", zeros=True))
    assert got == pytest.approx(exp, rel=REL)
    assert {k[1] for k in exp} == {
        "GTX Basic",
        "GTX Pro",
        "GTX Plus Basic",
        "GTX Plus Pro",
        "GTK 500",
        "MG Special",
        "MG Advanced",
    }
    total = _nonzero(_values(frames[()], periods, (), "revenue", zeros=True))
    assert sum(total.values()) == pytest.approx(sum(exp.values()), rel=REL)
    assert sum(exp.values()) == 10_005_534


@pytest.mark.parametrize("grain", ["month", "quarter", "year"])
@pytest.mark.parametrize("level", [(), ("region",), ("manager",)], ids=["all", "office", "manager"])
def test_maven_sales_cycle(
    maven_measured: _MavenMeasured, maven_closed: pd.DataFrame, grain: str, level: Level
) -> None:
    """Median (project metric) and mean (built-in) days engage → close of won deals,
    placed in the period of the close."""
    periods, frames = maven_measured(grain)
    frame = frames[level]
    exp = _maven_expected(maven_closed, grain, level)
    median = _values(frame, periods, level, "median_sales_cycle_days", zeros=True)
    assert median == pytest.approx(exp["median_cycle"], rel=REL)
    mean = _values(frame, periods, level, "sales_cycle_days", zeros=True)
    assert mean == pytest.approx(exp["mean_cycle"], rel=REL)
    assert _values(frame, periods, level, "median_sales_cycle_days#n", zeros=False) == exp["won"]


# --- status through the façade -------------------------------------------------------


def _segment_rows(result: Any, node: str, level: Level) -> dict[tuple[Any, ...], float | None]:
    return {
        tuple(v for _, v in r.segment): r.actual
        for r in result.rows
        if r.node == node and tuple(d for d, _ in r.segment) == level
    }


def _assert_segments_add_up(result: Any, nodes: Sequence[str]) -> None:
    for level in result.levels:
        if not level:
            continue
        for node in nodes:
            rows = _segment_rows(result, node, level)
            assert len(rows) > 1, (node, level)
            company = result.row(node).actual
            assert sum(v or 0.0 for v in rows.values()) == pytest.approx(company, rel=REL), (
                node,
                level,
            )


def test_olist_status(olist: Project, olist_leads: pd.DataFrame, olist_won: pd.DataFrame) -> None:
    result = olist.status("2018-03", by=["channel", "team"], as_of=AS_OF)
    assert [p.key for p in result.periods] == ["2018-03"]
    march = olist_leads[olist_leads["month"] == "2018-03"]
    won = olist_won[olist_won["month"] == "2018-03"]
    converted = _olist_converted(march, 365)
    assert result.row("mqls").actual == len(march) == 1174
    assert result.row("won_deals").actual == len(won) == 147
    rate = result.row("mql_to_won_rate")
    assert rate.actual == pytest.approx(converted.sum() / len(march), rel=REL)
    assert rate.volume == len(march) and not rate.incomplete
    # Each channel, the blank one included, against the raw files.
    mqls = _segment_rows(result, "mqls", ("channel",))
    assert mqls == _grouped(march, ["channel"], march.groupby("channel", dropna=False).size())
    assert (None,) in mqls and ("unknown",) in mqls
    won_by = _segment_rows(result, "won_deals", ("channel",))
    expected_won = _grouped(won, ["channel"], won.groupby("channel", dropna=False).size())
    assert _nonzero({k: v or 0.0 for k, v in won_by.items()}) == expected_won
    rates = _segment_rows(result, "mql_to_won_rate", ("channel",))
    by_channel = march.assign(c=converted).groupby("channel", dropna=False)["c"].mean()
    assert rates == pytest.approx(_grouped(march, ["channel"], by_channel), rel=REL)
    _assert_segments_add_up(result, ["mqls", "won_deals"])
    # Deals belong to their SR, who is in the SR team of field sales.
    teams = _segment_rows(result, "won_deals", ("department", "team"))
    assert teams[("field_sales", "SR")] == 147
    # The 365-day window of the March 2018 cohort is still open at the end of 2018.
    assert olist.status("2018-03", as_of=dt.date(2018, 12, 31)).row("mql_to_won_rate").incomplete


def test_maven_status(maven: Project, maven_closed: pd.DataFrame) -> None:
    result = maven.status("2017-Q2", by=["region", "team", "product"], as_of=AS_OF)
    q2 = maven_closed[maven_closed["quarter"] == "FY2017-Q2"]
    won = q2[q2["won"] == 1]
    assert result.row("won_deals").actual == len(won) == 1254
    assert result.row("revenue").actual == pytest.approx(won["value"].sum(), rel=REL)
    assert result.row("win_rate").actual == pytest.approx(len(won) / len(q2), rel=REL)
    assert result.row("win_rate").volume == len(q2)
    assert result.row("avg_deal_size").actual == pytest.approx(won["value"].mean(), rel=REL)
    # Opportunities are created when engaged (Prospecting ones: the snapshot's end).
    pipeline = _csv(MAVEN_DATA / "sales_pipeline.csv")
    engaged = pipeline["engage_date"].replace("", "2017-12-31").str[:7].map(_quarter)
    assert result.row("opportunities").actual == (engaged == "FY2017-Q2").sum()
    offices = _segment_rows(result, "won_deals", ("region",))
    assert offices == _grouped(won, ["office"], won.groupby("regional_office").size())
    managers = _segment_rows(result, "win_rate", ("department", "team"))
    by_manager = q2.groupby("manager")["won"].mean()
    assert managers == pytest.approx(
        {("field_sales", k[0]): v for k, v in _grouped(q2, ["m"], by_manager).items()}, rel=REL
    )
    products = _segment_rows(result, "revenue", ("product",))
    by_product = won.groupby("product")["value"].sum()
    assert _nonzero({k: v or 0.0 for k, v in products.items()}) == pytest.approx(
        _grouped(won, ["product"], by_product), rel=REL
    )
    _assert_segments_add_up(result, ["won_deals", "revenue", "opportunities"])
    frame = result.to_pandas()
    company = frame[(frame["node"] == "revenue") & frame["segment.region"].isna()]
    company = company[company["segment.team"].isna() & company["segment.product"].isna()]
    assert company["actual"].tolist() == pytest.approx([won["value"].sum()], rel=REL)


# --- the command line ----------------------------------------------------------------


def _cli_status(project: Project, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(
        app, ["status", str(project.path), *args, "--as-of", AS_OF.isoformat(), "--json"]
    )
    assert result.exit_code == 0, result.output
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


def _cli_actual(payload: dict[str, Any], node: str, **segment: str | None) -> Any:
    found = [r for r in payload["rows"] if r["node"] == node and r["segment"] == segment]
    assert len(found) == 1, (node, segment)
    return found[0]["actual"]


def test_olist_cli_status(olist: Project, olist_leads: pd.DataFrame) -> None:
    payload = _cli_status(olist, "--period", "2018-04", "--by", "channel")
    april = olist_leads[olist_leads["month"] == "2018-04"]
    assert _cli_actual(payload, "mqls") == len(april)
    rate = _olist_converted(april, 365).sum() / len(april)
    assert _cli_actual(payload, "mql_to_won_rate") == pytest.approx(rate, rel=REL)
    blank = april[april["channel"].isna()]
    assert _cli_actual(payload, "mqls", channel=None) == len(blank) > 0


def test_maven_cli_status(maven: Project, maven_closed: pd.DataFrame) -> None:
    payload = _cli_status(maven, "--period", "2017-09", "--by", "region")
    sept = maven_closed[maven_closed["month"] == "2017-09"]
    won = sept[sept["won"] == 1]
    assert _cli_actual(payload, "won_deals") == len(won)
    assert _cli_actual(payload, "revenue") == pytest.approx(won["value"].sum(), rel=REL)
    assert _cli_actual(payload, "win_rate") == pytest.approx(len(won) / len(sept), rel=REL)
    west = sept[sept["regional_office"] == "West"]
    assert _cli_actual(payload, "win_rate", region="West") == pytest.approx(
        west["won"].mean(), rel=REL
    )


# --- as-of, overlapping periods and open-ended team moves ----------------------


def test_status_year_to_date_last_year(olist: Project, olist_leads: pd.DataFrame) -> None:
    row = olist.status("FY2018", as_of=dt.date(2018, 11, 14)).row("mqls")
    contact = olist_leads["first_contact_date"]
    assert contact.str.startswith("2017").sum() == 2002
    # While the year runs, both compare the same days of the year before (not its
    # 2,002 MQLs of the whole year).
    assert row.previous == contact.between("2017-01-01", "2017-11-14").sum() == 1552
    assert row.last_year == 1552


def test_status_quarter_and_one_of_its_months(maven: Project, maven_closed: pd.DataFrame) -> None:
    result = maven.status(["2017-Q2", "2017-05"], as_of=AS_OF)
    won = maven_closed[maven_closed["won"] == 1]
    assert result.row("won_deals", "FY2017-Q2").actual == (won["quarter"] == "FY2017-Q2").sum()
    assert result.row("won_deals", "2017-05").actual == (won["month"] == "2017-05").sum() == 438


def test_status_period_after_as_of_reports_nothing(maven: Project) -> None:
    actual = maven.status("2017-06", as_of=dt.date(2017, 5, 15)).row("won_deals").actual
    assert actual in (None, 0.0)


def test_status_conversion_counts_nothing_after_as_of(
    olist: Project, olist_leads: pd.DataFrame
) -> None:
    row = olist.status("2018-03", as_of=dt.date(2018, 3, 31)).row("mql_to_won_rate")
    march = olist_leads[olist_leads["month"] == "2018-03"]
    won_at = pd.to_datetime(march["won_date"], format="%Y-%m-%d %H:%M:%S")
    by_as_of = _olist_converted(march, 365).astype(bool) & (won_at < pd.Timestamp("2018-04-01"))
    assert row.incomplete
    assert row.actual == pytest.approx(by_as_of.sum() / len(march), rel=REL)


def test_team_move_without_end_date_does_not_double_count(
    olist: Project, olist_won: pd.DataFrame, tmp_path: Path
) -> None:
    shutil.copyfile(olist.path / "kpitree.yaml", tmp_path / "kpitree.yaml")
    warehouse = default_warehouse_path(tmp_path)
    warehouse.parent.mkdir(parents=True)
    shutil.copyfile(default_warehouse_path(olist.path), warehouse)
    march = olist_won[olist_won["month"] == "2018-03"]
    mover = march["sr_id"].value_counts().index[0]
    moved = int((march["sr_id"] == mover).sum())
    (tmp_path / "moves.csv").write_text(f"sr_id,team,since\n{mover},SR2,2018-03-01\n")
    (tmp_path / "moves.yaml").write_text(
        "mapping: 1\ntables:\n  rep_assignments:\n    rep_id: sr_id\n    valid_from: since\n"
        "    department: {value: field_sales}\n    team: team\n"
    )
    batch = read_and_map(tmp_path / "moves.csv", load_mapping(tmp_path / "moves.yaml"))
    Warehouse(warehouse).apply_many([batch], skip_invalid=False)
    project = Project.load(tmp_path)
    assert project.status("2018-03", as_of=AS_OF).row("won_deals").actual == len(march) == 147
    result = project.status("2018-03", by="team", as_of=AS_OF)
    teams = _segment_rows(result, "won_deals", ("department", "team"))
    assert teams[("field_sales", "SR2")] == moved == 22
    assert result.row("won_deals").actual == len(march)
    assert teams[("field_sales", "SR")] == len(march) - moved
