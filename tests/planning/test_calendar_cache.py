"""Public holidays are computed by the ``holidays`` library once per country,
year and library version, then read from the user's cache folder: a later
command neither imports the library nor computes them again."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import holidays

_PROBE = """
import json, sys
from kpitree.calendar import business_days
days = [business_days(2026, m, "JP") for m in range(1, 13)]
print(json.dumps({"days": days, "imported": "holidays" in sys.modules}))
"""


def _run(folder: Path) -> dict[str, object]:
    env = {**os.environ, "KPITREE_CACHE_DIR": str(folder)}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=False, env=env
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def _expected() -> list[int]:
    off = set(holidays.country_holidays("JP", years=2026))
    counts = []
    for month in range(1, 13):
        day = dt.date(2026, month, 1)
        n = 0
        while day.month == month:
            n += day.weekday() < 5 and day not in off
            day += dt.timedelta(days=1)
        counts.append(n)
    return counts


def test_the_second_command_reads_the_kept_calendar(tmp_path: Path) -> None:
    first = _run(tmp_path)
    assert first == {"days": _expected(), "imported": True}
    kept = list(tmp_path.glob(f"holidays-{holidays.__version__}/JP-2026.json"))
    assert len(kept) == 1
    second = _run(tmp_path)
    assert second == {"days": _expected(), "imported": False}


def test_a_damaged_or_unwritable_cache_only_means_computing_again(tmp_path: Path) -> None:
    _run(tmp_path)
    kept = next(tmp_path.glob("holidays-*/JP-2026.json"))
    kept.write_text("[not json", encoding="utf-8")
    assert _run(tmp_path) == {"days": _expected(), "imported": True}
    assert json.loads(kept.read_text(encoding="utf-8"))  # written again, whole
    blocked = tmp_path / "a-file"
    blocked.write_text("", encoding="utf-8")  # a folder cannot be made here
    assert _run(blocked) == {"days": _expected(), "imported": True}
