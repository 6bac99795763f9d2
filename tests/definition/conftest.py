"""Helpers for writing small definitions into ``tmp_path`` and checking them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kpitree.definition.resolve import CheckResult, check_definition
from kpitree.errors import Diagnostic

# A definition with no diagnostic at all: one KGI, three KSFs, owners, units, a
# period and a leading indicator. Tests append lines to it (nodes start at line 13).
CLEAN = """\
kpitree: 1
name: Test plan
period: month
nodes:
  revenue: {kind: kgi, unit: currency, formula: new_revenue + renewal_revenue + upsell_revenue, target: 1000}
  new_revenue: {kind: ksf, unit: currency, formula: deals * price}
  renewal_revenue: {kind: ksf, unit: currency, assume: 100}
  upsell_revenue: {kind: ksf, unit: currency, assume: 100}
  deals: {unit: count, owner: field_sales, formula: leads * win_rate, indicator: lagging}
  leads: {unit: count, owner: marketing, indicator: leading}
  win_rate: {unit: ratio, owner: field_sales, assume: 0.2}
  price: {unit: currency, owner: field_sales, assume: 10}
"""  # noqa: E501

ISSUE_EXAMPLE = """\
kpitree: 1
name: FY2026 revenue plan
fiscal_year_start: 4        # April
currency: JPY
nodes:
  revenue:
    label: {ja: 売上, en: Revenue}
    kind: kgi
    unit: currency
    formula: won_deals * avg_deal_size
    target: 300000000       # for the plan horizon (one fiscal year)
  won_deals:
    label: {ja: 受注件数, en: Won deals}
    kind: kpi
    unit: count
    owner: field_sales
    formula: opportunities * win_rate
  win_rate: {label: 受注率, kind: kpi, unit: ratio, owner: field_sales, assume: 0.25}
  opportunities: {label: 商談数, kind: kpi, unit: count, owner: inside_sales, formula: sqls * opportunity_rate}
  opportunity_rate: {label: 商談化率, kind: kpi, unit: ratio, owner: inside_sales, assume: 0.2}
  sqls: {label: SQL数, kind: kpi, unit: count, owner: inside_sales}
  avg_deal_size: {label: 平均受注単価, kind: kpi, unit: currency, owner: field_sales, assume: 1500000}
"""  # noqa: E501

Check = Callable[..., CheckResult]


@pytest.fixture
def check(tmp_path: Path) -> Check:
    """``check(text, files)`` writes ``kpitree.yaml`` plus ``files`` (relative path ->
    text) into ``tmp_path`` and checks the folder."""

    def run(text: str, files: dict[str, str] | None = None) -> CheckResult:
        (tmp_path / "kpitree.yaml").write_text(text, encoding="utf-8")
        for name, content in (files or {}).items():
            target = tmp_path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
        return check_definition(str(tmp_path))

    return run


def where(diag: Diagnostic, root: Path) -> str:
    """``file:line:col`` with the file relative to ``root``."""
    assert diag.span is not None
    return str(diag.span).removeprefix(f"{root}/")


def only(result: CheckResult, code: str) -> Diagnostic:
    """The single diagnostic with ``code``; fails when there are none or several."""
    found = [d for d in result.diagnostics if d.code == code]
    assert len(found) == 1, [f"{d.code} {d.message('en')}" for d in result.diagnostics]
    return found[0]
