"""Projects for the report tests, built once per session.

``company``: the-model template on the tiny demo company (seed 7) for fiscal
years 2024 and 2025, planned for FY2025 from FY2024's actuals (+10%), so every
number is fixed: the reports are of October 2025 as of 2025-10-15.
``japanese``: the same data with Japanese-only labels and a Japanese name.
``smtp``: a real SMTP server (aiosmtpd) on loopback keeping what it receives.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kpitree.project import Project
from receivers import SmtpReceiver, free_port

FY = 2025
SEED = 7
PERIOD = "2025-10"
WEEK = "2025-W42"  # 2025-10-13 .. 2025-10-19
AS_OF = dt.date(2025, 10, 15)
JA_NAME = "2025年度 売上計画"

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")


def build_company(folder: Path) -> Path:
    from kpitree.data.demo.load import load_demo
    from kpitree.data.warehouse import Warehouse, warehouse_path

    Project.init(folder)
    project = Project.load(folder)
    warehouse = Warehouse(warehouse_path(folder, project.tree.warehouse))
    try:
        load_demo(warehouse, "tiny", seed=SEED, fiscal_year=FY)
    finally:
        close = getattr(warehouse, "close", None)
        if callable(close):
            close()
    project.plan_from_history(f"FY{FY - 1}", fiscal_year=FY, as_of=dt.date(FY + 1, 3, 31))
    return folder


def edit_definition(folder: Path, change: Any) -> None:
    file = folder / "kpitree.yaml"
    doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    change(doc)
    file.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")


@pytest.fixture(scope="session")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_company(tmp_path_factory.mktemp("company"))


def copy_project(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("app.sqlite*"))
    return target


@pytest.fixture(scope="session")
def japanese(company: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = copy_project(company, tmp_path_factory.mktemp("ja") / "project")

    def japanese_only(doc: dict[str, Any]) -> None:
        doc["name"] = JA_NAME
        for node in doc["nodes"].values():
            label = node.get("label")
            if isinstance(label, dict):
                node["label"] = label["ja"]
        for dept in doc.get("organisation", {}).values():
            if isinstance(dept.get("label"), dict):
                dept["label"] = dept["label"]["ja"]

    edit_definition(folder, japanese_only)
    return folder


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver(free_port())
    receiver.start()
    yield receiver
    receiver.stop()
