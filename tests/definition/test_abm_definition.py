"""The ``abm:`` scoring model: what it accepts, and every problem located."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpitree.definition import jsic
from kpitree.definition.resolve import check_definition

from .conftest import CLEAN, Check, only, where

TEMPLATE = Path(__file__).resolve().parents[2] / "src" / "kpitree" / "templates" / "the-model"

# CLEAN has 12 lines: abm starts at line 13.
GOOD = """\
abm:
  criteria:
    size:
      field: employees
      max_points: 30
      bands:
        - {min: 1000, points: 30}
        - {min: 100, max: 1000, points: 15}
    industry:
      field: industry
      match: jsic
      max_points: 25
      values: {"39": 25, E: 20}
    engagement:
      max_points: 45
      window_days: 90
      decay: half_life
      half_life_days: 30
      signals:
        - {activity: meeting, points: 10, cap: 20}
        - {lead_stage: mql, points: 5}
  tiers: {A: 70, B: 50, C: 30}
  targets: {tiers: [A, B]}
"""


def test_a_complete_model_resolves(check: Check) -> None:
    result = check(CLEAN + GOOD)
    assert result.ok, [d.message("en") for d in result.diagnostics]
    assert result.tree is not None and result.tree.abm is not None
    abm = result.tree.abm
    assert list(abm.criteria) == ["size", "industry", "engagement"]
    assert abm.criteria["engagement"].kind == "engagement"
    assert abm.criteria["size"].kind == "firmographic"
    assert abm.tiers == {"A": 70, "B": 50, "C": 30}


def test_the_template_ships_the_example_marked_as_one() -> None:
    result = check_definition(str(TEMPLATE))
    assert result.ok
    assert result.tree is not None and result.tree.abm is not None
    crit = result.tree.abm.criteria
    assert crit["company_size"].max_points == 30
    assert crit["industry_fit"].max_points == 25
    assert crit["engagement"].signals
    text = (TEMPLATE / "kpitree.yaml").read_text(encoding="utf-8")
    assert "例 / EXAMPLE" in text


@pytest.mark.parametrize(
    ("old", "new", "code", "message", "at"),
    [
        (
            "{min: 100, max: 1000, points: 15}",
            "{min: 100, max: 1000, points: 45}",
            "KT252",
            "ABM criterion 'size': 45 points exceed its max_points (30); keep it at or below "
            "max_points",
            "kpitree.yaml:20:41",
        ),
        (
            "{min: 100, max: 1000, points: 15}",
            "{min: 1000, max: 100, points: 15}",
            "KT253",
            "ABM criterion 'size': a band's min must be below its max (min is included, max "
            "is not)",
            "kpitree.yaml:20:11",
        ),
        (
            "field: employees",
            "field: employes",
            "KT251",
            "ABM criterion 'size': field 'employes' is not an account field (did you mean "
            "'employees'?); use one of employees, annual_revenue, industry, region, segment, "
            "country, or attributes.<key> (a custom field)",
            "kpitree.yaml:16:14",
        ),
        (
            'values: {"39": 25, E: 20}',
            'values: {"39": 25, U: 20}',
            "KT256",
            "ABM criterion 'industry': 'U' is not a Japan Standard Industrial Classification "
            "code; use a division letter (A-T) or 2 to 4 digits (E, 39, 391, 3911)",
            "kpitree.yaml:25:26",
        ),
        (
            "        - {lead_stage: mql, points: 5}\n",
            "        - {lead_stage: mql, deal_stage: won, points: 5}\n",
            "KT254",
            "ABM criterion 'engagement', signal 2: name exactly one of activity, lead_stage or "
            "deal_stage",
            "kpitree.yaml:33:11",
        ),
        (
            "      window_days: 90\n",
            "",
            "KT255",
            "ABM engagement criterion 'engagement' has no window_days; say how many days back "
            "activities count (e.g. 90)",
            "kpitree.yaml:27:7",
        ),
        (
            "      half_life_days: 30\n",
            "",
            "KT255",
            "ABM criterion 'engagement' decays by half_life: set half_life_days (days after "
            "which an event counts half)",
            "kpitree.yaml:29:14",
        ),
        (
            "  tiers: {A: 70, B: 50, C: 30}",
            "  tiers: {A: 170, B: 50, C: 30}",
            "KT257",
            "tier 'A': threshold 170 must be between 0 and the full score (the criteria's "
            "max_points add up to 100)",
            "kpitree.yaml:34:14",
        ),
        (
            "  tiers: {A: 70, B: 50, C: 30}",
            "  tiers: {A: 70, B: 50, C: 50}",
            "KT257",
            "tier 'C': threshold 50 is the same as tier 'B'; give each tier its own score",
            "kpitree.yaml:34:28",
        ),
        (
            "targets: {tiers: [A, B]}",
            "targets: {tiers: [A, Bee]}",
            "KT258",
            "target tier 'Bee' is not under abm.tiers; tiers: A, B, C",
            "kpitree.yaml:35:24",
        ),
    ],
)
def test_problems_are_located(
    check: Check, tmp_path: Path, old: str, new: str, code: str, message: str, at: str
) -> None:
    assert old in GOOD
    result = check(CLEAN + GOOD.replace(old, new))
    diag = only(result, code)
    assert diag.message("en") == message
    assert where(diag, tmp_path) == at
    assert diag.message("ja")  # Japanese first: every message has its Japanese text


def test_a_criterion_of_two_kinds_is_refused(check: Check, tmp_path: Path) -> None:
    text = GOOD.replace("      match: jsic\n", "      match: jsic\n      bands: [{points: 3}]\n")
    diag = only(check(CLEAN + text), "KT250")
    assert "'industry' needs exactly one of bands" in diag.message("en")
    assert where(diag, tmp_path) == "kpitree.yaml:22:7"


def test_engagement_keys_on_a_firmographic_criterion(check: Check, tmp_path: Path) -> None:
    text = GOOD.replace(
        "      field: employees\n", "      field: employees\n      window_days: 30\n"
    )
    diag = only(check(CLEAN + text), "KT255")
    assert diag.message("en") == (
        "ABM criterion 'size' is firmographic: window_days is a key of engagement criteria"
    )
    assert where(diag, tmp_path) == "kpitree.yaml:17:20"


def test_unknown_keys_say_did_you_mean(check: Check, tmp_path: Path) -> None:
    diag = only(check(CLEAN + GOOD.replace("max_points: 45", "max_point: 45")), "KT010")
    assert "did you mean 'max_points'" in diag.message("en")
    assert where(diag, tmp_path) == "kpitree.yaml:27:7"


def test_custom_fields_and_text_bands(check: Check) -> None:
    custom = GOOD.replace("field: employees", "field: attributes.headcount")
    assert check(CLEAN + custom).ok
    text = GOOD.replace("field: employees", "field: region")
    assert (
        only(check(CLEAN + text), "KT251")
        .message("en")
        .startswith("ABM criterion 'size': 'region' does not fit")
    )


@pytest.mark.parametrize(
    ("value", "division", "digits"),
    [("E2911", "E", "2911"), ("3911", "G", "3911"), ("３９", "G", "39"), ("g", "G", ""),
     ("IT", None, ""), ("", None, "")],
)  # fmt: skip
def test_jsic_values_are_read(value: str, division: str | None, digits: str) -> None:
    assert jsic.normalise(value) == (division, digits)
