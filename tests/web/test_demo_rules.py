"""The demo company's example alert rules and SLAs, and keys shown by their
labels: the SLA page and ``kpitree sla`` name departments by their labels, the
SLA page's period is the selector of the other pages, and an alert about a
department says which one by its label (terminal, Slack, e-mail, webhook)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from fastapi.testclient import TestClient


def test_the_demo_has_alert_rules_and_slas(demo_project: Path) -> None:
    doc = yaml.safe_load((demo_project / "kpitree.yaml").read_text("utf-8"))
    assert set(doc["sla"]) == {"mql_first_call", "sql_first_meeting"}
    assert len(doc["alerts"]) >= 3
    assert doc["notifications"]["channels"]["dashboard"] == {"type": "in_app"}


def test_the_sla_page_shows_departments_by_label_and_the_period_selector(
    client: TestClient,
) -> None:
    view = client.get("/api/sla?by=team").json()
    assert view["rules"] and view["rules"][0]["rows"]
    assert view["departments"]["inside_sales"]["ja"] == "インサイドセールス"
    page = client.get("/sla?by=team&lang=ja").text
    assert "インサイドセールス /" in page
    # Shown by its label; the key stays only inside links to the cases (/sla/cases?department=…).
    visible = re.sub(r"<script.*?</script>|<[^>]+>", " ", page, flags=re.S)
    assert "inside_sales" not in visible
    assert 'data-testid="period-select"' in page
    assert f'<option value="{view["period"]}" selected>' in page


def _run(*args: str | Path, lang: str) -> str:
    env = {**os.environ, "KPITREE_LANG": lang}
    result = subprocess.run(
        [sys.executable, "-m", "kpitree", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    )
    return result.stdout


def test_alerts_and_sla_tables_name_departments_by_label(demo_copy: Path) -> None:
    sla = _run("sla", demo_copy, "--by", "department", "--json", lang="ja")
    assert "inside_sales" in sla  # the JSON keeps the ids
    table = _run("sla", demo_copy, "--by", "department", lang="ja")
    assert "インサイド" in table and "inside_sales" not in table
    events = json.loads(_run("alerts", "run", demo_copy, "--json", "--dry-run", lang="ja"))
    text = json.dumps(events, ensure_ascii=False)
    assert "部門: インサイドセールス" in text, text[:2000]
    assert "部門: inside_sales" not in text


def test_a_review_pack_names_alert_severity_and_departments_in_its_language(
    demo_copy: Path, tmp_path: Path
) -> None:
    _run("alerts", "run", demo_copy, lang="ja")
    out = tmp_path / "pack.md"
    _run("report", demo_copy, "--format", "md", "--lang", "ja", "--out", out, lang="ja")
    text = out.read_text("utf-8")
    alerts = text[text.index("アラート") :]
    assert "インサイドセールス" in alerts
    assert "inside_sales" not in alerts
    assert "| warning |" not in alerts and "| critical |" not in alerts
    assert "| 重大 | MQL初回架電" in alerts and "sla:mql_first_call" not in alerts
