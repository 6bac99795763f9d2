"""How ``bash scripts/test`` shares the test files between its workers
(pytest-xdist, ``--dist loadfile``), imported by conftest.py.

Each test file is one unit of work, run whole by one worker, so that its
module fixtures are built once; the files with tests on Spark (those that ask
for ``spark_session``) are one unit together, so that one JVM serves them all
and stops when they are done (:func:`on_spark_done`) instead of one idling in
each worker to the end of the run. The Spark unit goes out first (it is the
longest), then the units holding the most slow tests, so that no worker starts
a long file when the other is nearly done.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

SPARK = "spark_session"
SPARK_UNIT = "spark"
_ROOT = Path(__file__).resolve().parent.parent
# Set by the controller in each worker's input when the files are shared by units.
_BY_UNITS = "kpitree_units"


@cache
def _uses_spark(file: str) -> bool:
    path = _ROOT / file
    return path.suffix == ".py" and SPARK in path.read_text("utf-8")


def unit(nodeid: str) -> str:
    """The unit of work of a test: its file, or the Spark unit."""
    file = nodeid.split("::", 1)[0]
    return SPARK_UNIT if _uses_spark(file) else file


def _by_units(config: pytest.Config) -> bool:
    workerinput: dict[str, Any] = getattr(config, "workerinput", {})
    return bool(workerinput.get(_BY_UNITS))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class ByUnits(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit(nodeid)

    return ByUnits(config, log)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    node.workerinput[_BY_UNITS] = node.config.getvalue("dist") == "loadfile"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In a worker sharing by units: the Spark unit first, then the units with
    the most slow tests, the most tests (the order of tests within a unit kept).
    The controller hands the units out in this order (``--no-loadscope-reorder``)."""
    if not _by_units(config):
        return
    slow: Counter[str] = Counter()
    size: Counter[str] = Counter()
    first: dict[str, int] = {}
    for n, item in enumerate(items):
        name = unit(item.nodeid)
        size[name] += 1
        slow[name] += item.get_closest_marker("slow") is not None
        first.setdefault(name, n)

    def rank(item: pytest.Item) -> tuple[bool, int, int, int]:
        name = unit(item.nodeid)
        return (name != SPARK_UNIT, -slow[name], -size[name], first[name])

    items[:] = sorted(items, key=rank)


_stoppers: list[Callable[[], None]] = []


def on_spark_done(stop: Callable[[], None]) -> None:
    """Call ``stop`` once this worker has run its last Spark test (when the
    files are shared by units; otherwise the session's end does)."""
    _stoppers.append(stop)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    result = yield
    # The Spark unit runs whole on one worker: after its last test no other
    # comes to this worker. Run any other way (-n 0, --dist load), a later
    # test may still need the session.
    last = nextitem is None or unit(nextitem.nodeid) != SPARK_UNIT
    if _stoppers and _by_units(item.config) and unit(item.nodeid) == SPARK_UNIT and last:
        while _stoppers:
            _stoppers.pop()()
    return result
