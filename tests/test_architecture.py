"""The layer fence: lower layers never import higher ones, and the public
surface is what ``__all__`` says."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import kpitree

PACKAGE = Path(kpitree.__file__).parent

# Layer -> the kpitree modules it may import (besides itself).
ALLOWED = {
    "errors": {"i18n"},  # messages are rendered from the catalogs
    "i18n": set(),
    "source": {"errors", "i18n"},
    "calendar": {"sealed", "installed"},
    # Files kept for the user's later commands, sealed with the user's own key.
    "sealed": set(),
    # Versions of installed libraries, which name what those kept files depend on.
    "installed": set(),
    # Escaping of text that leaves the product (CSV, XLSX, Markdown, Slack).
    "escaping": set(),
    # How a chart looks, for the web pages and the reports alike.
    "chartstyle": set(),
    # Filter values written as one URL parameter (pages and report links alike).
    "filter_text": set(),
    "definition": {"errors", "i18n", "source", "sealed"},
    "planning": {"errors", "i18n", "source", "definition", "calendar"},
    "data": {"errors", "i18n", "source", "calendar", "escaping"},
    "engines": {"errors", "i18n", "data"},
    # Connectors read sources into the same mapping layer as files (know nothing of KPIs).
    "connectors": {"errors", "i18n", "source", "definition", "data", "calendar"},
    "compute": {
        "errors",
        "i18n",
        "source",
        "definition",
        "planning",
        "data",
        "calendar",
        "engines",
        "business_hours",
        "sealed",
        "installed",
    },
    "business_hours": set(),
    # The app database (users, alert history, actions, notes): beside the project.
    "appdb": set(),
    # Notes on the timeline: app state beside users and alerts, never in the warehouse.
    "notes": {"appdb", "errors", "i18n", "filter_text"},
    # Account-based marketing: scores and target accounts over the compute layer.
    "abm": {
        "errors",
        "i18n",
        "source",
        "definition",
        "data",
        "calendar",
        "engines",
        "compute",
        "sealed",
        "installed",
    },
    "alerts": {
        "appdb",
        "errors",
        "i18n",
        "source",
        "definition",
        "calendar",
        "business_hours",
        "engines",
        "compute",
        "escaping",
        "filter_text",
        "abm",
    },
    "sla": {"errors", "i18n", "source", "definition", "business_hours", "compute", "engines"},
    # The review loop (actions and their measured outcomes) consumes compute results.
    "review": {
        "appdb",
        "errors",
        "i18n",
        "source",
        "definition",
        "planning",
        "calendar",
        "data",
        "engines",
        "compute",
        "escaping",
        "filter_text",
    },
    # Review reports consume compute, alerts and SLA results (not the web app or the CLI).
    "reports": {
        "appdb",
        "errors",
        "i18n",
        "source",
        "definition",
        "planning",
        "calendar",
        "data",
        "engines",
        "compute",
        "business_hours",
        "alerts",
        "sla",
        "escaping",
        "notes",
        "review",
        "abm",
        "chartstyle",
        "filter_text",
    },
    # The web app is an adapter over the façade: anything below it, never the CLI.
    "web": {
        "appdb",
        "errors",
        "i18n",
        "source",
        "calendar",
        "definition",
        "planning",
        "data",
        "engines",
        "compute",
        "alerts",
        "sla",
        "reports",
        "project",
        "escaping",
        "connectors",
        "notes",
        "review",
        "chartstyle",
        "filter_text",
    },
}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kpitree."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("kpitree."):
                    found.add(alias.name.split(".")[1])
    return found


def test_lower_layers_do_not_import_higher_ones() -> None:
    problems = []
    for layer, allowed in ALLOWED.items():
        files = [PACKAGE / f"{layer}.py"] if (PACKAGE / f"{layer}.py").exists() else []
        files += sorted((PACKAGE / layer).rglob("*.py")) if (PACKAGE / layer).is_dir() else []
        assert files, layer
        for file in files:
            for imported in _imports(file) - allowed - {layer}:
                problems.append(f"{file.relative_to(PACKAGE)} imports kpitree.{imported}")
    assert not problems, "\n".join(problems)


def test_public_surface() -> None:
    assert set(kpitree.__all__) == {
        "DataError",
        "DefinitionError",
        "KpitreeError",
        "PlanError",
        "Project",
        "UserError",
        "__version__",
    }
    for name in kpitree.__all__:
        assert getattr(kpitree, name) is not None


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys; from kpitree.cli import app; "
        "names = ('pydantic', 'duckdb', 'pandas', 'pyarrow', 'ibis'); "
        "heavy = [m for m in names if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
