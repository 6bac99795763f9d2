"""The units the test files are shared out in (tests/scheduling.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from scheduling import SPARK_UNIT, unit

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = """
import json, os
def pytest_collection_finish(session):
    found = {i.nodeid: "spark_session" in i.fixturenames for i in session.items}
    with open(os.environ["KPITREE_TEST_UNITS_OUT"], "w") as out:
        json.dump(found, out)
"""


def test_every_test_on_spark_is_in_the_spark_unit_and_no_other(tmp_path: Path) -> None:
    """The controller sees only test ids: a file's text decides its unit. Every
    test whose fixtures include the Spark session must be in the Spark unit (or
    a second JVM starts in the other worker), and a file without one must not."""
    (tmp_path / "units_plugin.py").write_text(PLUGIN, "utf-8")
    out = tmp_path / "units.json"
    subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "units_plugin",
         "-p", "no:cacheprovider", "tests/engines"],
        cwd=ROOT, check=True, capture_output=True, timeout=600,
        env={**os.environ, "PYTHONPATH": f"{tmp_path}:{ROOT / 'src'}",
             "KPITREE_TEST_UNITS_OUT": str(out)},
    )  # fmt: skip
    found: dict[str, bool] = json.loads(out.read_text("utf-8"))
    on_spark = {nodeid.split("::")[0] for nodeid, spark in found.items() if spark}
    assert len(on_spark) >= 4
    for nodeid in found:
        file = nodeid.split("::")[0]
        assert (unit(nodeid) == SPARK_UNIT) == (file in on_spark), nodeid
    assert unit("tests/test_filter_text.py::test_x") == "tests/test_filter_text.py"
