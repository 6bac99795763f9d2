"""The KPI validity review on the planted company, whose verdicts are known
by construction: calls lead leads (and so the KGI, MQLs) by two months,
e-mails are noise."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from kpitree.project import Project
from kpitree.review.validity import lead, validity_review

from .planted import LEAD_LAG

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")

AS_OF = dt.date(2026, 4, 1)  # 24 complete months: April 2024 to March 2026


def _by_key(planted: Path, as_of: dt.date = AS_OF, **kw: Any) -> dict[tuple[str, str | None], Any]:
    found = validity_review(Project.load(planted), as_of, **kw)
    return {(v.node, v.link): v for v in found}


def test_planted_verdicts(planted: Path) -> None:
    found = _by_key(planted)
    calls = found[("calls", None)]
    assert calls.verdict == "keep" and "leads" in calls.reasons
    assert calls.lead is not None and calls.lead.lag == LEAD_LAG and calls.lead.significant
    assert calls.months == 24 and not calls.stale
    emails = found[("emails", None)]
    assert emails.verdict == "replace" and emails.reasons[0] == "no_lead"
    assert emails.lead is not None and not emails.lead.significant
    link = found[("leads", "calls")]
    assert link.verdict == "keep" and link.lead is not None and link.lead.lag == LEAD_LAG
    assert found[("leads", "emails")].verdict == "replace"
    # In the KGI's arithmetic: never replaced for a weak correlation.
    assert found[("leads", None)].in_formula and found[("leads", None)].verdict == "keep"


def test_not_enough_history_below_the_months_needed(planted: Path) -> None:
    found = _by_key(planted, months=4)
    assert {v.verdict for v in found.values()} == {"not_enough_history"}
    assert found[("calls", None)].reasons[0] == "few_months"
    found = _by_key(planted, months=8)  # months enough, but too few pairs for a lead
    assert found[("emails", None)].verdict == "not_enough_history"
    assert found[("emails", None)].reasons[0] == "few_pairs"


def test_a_target_always_met_is_re_targeted(planted: Path) -> None:
    file = planted / "kpitree.yaml"
    text = file.read_text(encoding="utf-8")
    file.write_text(text.replace("target: {monthly: 600}", "target: {monthly: 100}"), "utf-8")
    calls = _by_key(planted)[("calls", None)]
    assert calls.verdict == "re_target" and calls.reasons[0] == "always_green"
    assert calls.on_track_share == 1.0


def test_lead_finds_a_planted_lag_and_ignores_a_level_trend() -> None:
    import random

    rng = random.Random(3)
    driver = [rng.uniform(0, 10) for _ in range(30)]
    follower = [0.0, 0.0] + [2 * x for x in driver[:-2]]
    found = lead(driver, follower)
    assert found is not None and found.lag == 2 and found.r > 0.99
    # Two series that both grow month after month, with unrelated wiggles.
    up = [i + rng.uniform(-1, 1) for i in range(30)]
    also_up = [2 * i + rng.uniform(-1, 1) for i in range(30)]
    assert not lead(up, also_up).significant  # type: ignore[union-attr]
    # Histories shorter than the lags tried: only the lags they hold.
    assert lead([1.0, 2.0, 4.0], [1.0, 3.0, 2.0]) is None  # two changes: r needs three
    assert lead([1.0, 2.0, 4.0, 3.0], [1.0, 3.0, 2.0, 5.0]) is not None


def test_cli_prints_verdicts_with_their_evidence(planted: Path, cli: Any) -> None:
    out = cli("validity", planted, "--as-of", AS_OF.isoformat(), lang="ja")
    assert out.code == 0, out.err
    assert "架電数" in out.out and "KGI への先行 2か月" in out.out and "入れ替え検討" in out.out
    data = cli("validity", planted, "--as-of", AS_OF.isoformat(), "--json").json()
    assert data["start"] == "2024-04" and data["end"] == "2026-03"
    assert {r["label"]: r["verdict"] for r in data["rows"]}["E-mails → Leads"] == "replace"


def test_quarter_end_packs_carry_the_validity_review(planted: Path) -> None:
    from kpitree.reports import build_report, render

    project = Project.load(planted)
    march = build_report(project, "2026-03", lang="en", as_of=AS_OF)  # ends FY2025 Q4
    assert march.validity is not None and march.validity["end"] == "2026-03"
    verdicts = {r["label"]: r["verdict"] for r in march.validity["rows"]}
    assert verdicts["Calls"] == "keep" and verdicts["E-mails"] == "replace"
    md = render(march, "md").decode()
    assert "## KPI validity review" in md and "leads the KGI by 2 months" in md
    assert build_report(project, "2026-02", lang="en", as_of=AS_OF).validity is None


def _states(checks: list[dict[str, Any]]) -> dict[str, str]:
    return {c["code"]: c["state"] for c in checks}


def test_the_review_re_runs_the_smart_and_count_checks(planted: Path, cli: Any) -> None:
    from contextlib import closing

    from fastapi.testclient import TestClient

    from kpitree.reports import build_report, render
    from kpitree.web.app import create_app

    # The planted tree has no KSF (fewer than 3: KT106) and passes every other check.
    data = cli("validity", planted, "--as-of", AS_OF.isoformat(), "--json").json()
    expected = dict.fromkeys(
        ("KT102", "KT103", "KT104", "KT112", "KT105", "KT106", "KT107", "KT108", "KT109"), "ok"
    )
    assert _states(data["checks"]) == {**expected, "KT106": "findings"}
    # Take the owner off e-mails and silence the KSF count: the live definition is read.
    file = planted / "kpitree.yaml"
    text = file.read_text(encoding="utf-8")
    text = text.replace("    owner: inside_sales\n    indicator: leading\n    metric: emails\n",
                        "    indicator: leading\n    metric: emails\n")  # fmt: skip
    file.write_text(text + "checks:\n  ignore: [KT106]\n", encoding="utf-8")
    data = cli("validity", planted, "--as-of", AS_OF.isoformat(), "--json").json()
    states = _states(data["checks"])
    assert states == {**expected, "KT104": "findings", "KT106": "silenced"}
    (owner,) = next(c for c in data["checks"] if c["code"] == "KT104")["findings"]
    assert "emails" in owner["message"] and owner["line"] > 1
    words = cli("validity", planted, "--as-of", AS_OF.isoformat()).out
    assert "KT104" in words and "1 finding(s)" in words
    with closing(
        TestClient(
            create_app(planted), base_url="http://localhost", headers={"Accept-Language": "en"}
        )
    ) as client:
        page = client.get("/review/validity", params={"months": 12}).text
        assert 'data-code="KT104" data-state="findings"' in page
        assert 'data-code="KT106" data-state="silenced"' in page
    march = build_report(Project.load(planted), "2026-03", lang="en", as_of=AS_OF)
    md = render(march, "md").decode()
    assert "Design checks" in md and "silenced by checks.ignore" in md
    assert "silenced by checks.ignore" in render(march, "html").decode()
    assert render(march, "xlsx")[:2] == b"PK"


def test_flat_red_ownerless_stale_and_unreconciled_kpis_say_so(planted: Path) -> None:
    """Each check of the review on a KPI made to fail it: a ratio of leads to
    leads never moves (drop); a target no month reaches (always red); e-mails
    without an owner; leads computed from calls, which does not match
    what is measured (one lead a call); and a review run long after the data ends (stale)."""
    file = planted / "kpitree.yaml"
    text = file.read_text(encoding="utf-8")
    text = text.replace("target: {monthly: 600}", "target: {monthly: 5000}")
    text = text.replace(
        "    owner: inside_sales\n    indicator: leading\n    metric: emails\n",
        "    indicator: leading\n    metric: emails\n",
    )
    text = text.replace(
        "    metric: leads\n    drivers: [calls, emails]\n",
        "    metric: leads\n    formula: calls\n    drivers: [emails]\n"
        "  steady: {unit: ratio, owner: marketing, indicator: leading, metric: same}\n",
    )
    text = text.replace(
        "metrics:\n", "metrics:\n  same: {type: ratio, numerator: leads, denominator: leads}\n"
    )
    file.write_text(text, encoding="utf-8")
    found = _by_key(planted)
    steady = found[("steady", None)]
    assert steady.verdict == "drop" and steady.reasons[0] == "flat"
    assert steady.variation == pytest.approx(0.0)
    calls = found[("calls", None)]
    assert calls.verdict == "re_target" and calls.reasons[0] == "always_red"
    assert calls.off_track_share == 1.0
    emails = found[("emails", None)]
    assert "no_owner" in emails.reasons and emails.owner is None
    assert "no_owner" not in found[("calls", None)].reasons
    leads = found[("leads", None)]
    assert "reconciliation" in leads.reasons and leads.reconciliation > 0.1
    assert found[("calls", None)].reconciliation is None  # measured only: nothing to reconcile
    assert not any(v.stale for k, v in found.items() if k[0] in ("calls", "emails", "leads"))
    late = _by_key(planted, as_of=dt.date(2026, 9, 1))[("calls", None)]
    assert late.stale and "stale" in late.reasons and late.data_until < dt.date(2026, 4, 1)
    # Red in every month it has data: the months after the data ends do not dilute that.
    assert late.verdict == "re_target" and late.reasons[0] == "always_red"
    assert late.months == 19 and late.off_track_share == 1.0
