"""The code version that keys compiled SQL and kept results follows the code:
any edit of a file, as in an editable install, gives another version."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kpitree.compute import querycache
from kpitree.compute.querycache import _code_digest


def _write(path: Path, text: str, mtime_ns: int) -> None:
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_an_edit_of_the_code_gives_another_version(tmp_path: Path) -> None:
    compute, engines = tmp_path / "compute", tmp_path / "engines"
    compute.mkdir()
    engines.mkdir()
    second = 1_700_000_000 * 10**9
    _write(compute / "metrics.py", "A = 1\n", second)
    _write(engines / "engine.py", "B = 2\n", second)
    _write(compute / "notes.txt", "not code\n", second)
    first = _code_digest(compute, engines)
    assert _code_digest(compute, engines) == first

    # Not Python: not code.
    _write(compute / "notes.txt", "still not code\n", second + 10**9)
    assert _code_digest(compute, engines) == first

    # Same size, another text, written a second later (an editor's save).
    _write(compute / "metrics.py", "A = 2\n", second + 10**9)
    edited = _code_digest(compute, engines)
    assert edited != first

    # A new module, and one removed.
    _write(engines / "other.py", "", second + 2 * 10**9)
    added = _code_digest(compute, engines)
    assert added not in (first, edited)
    (engines / "other.py").unlink()
    assert _code_digest(compute, engines) == edited

    # The same file in the other folder is other code.
    (engines / "engine.py").rename(compute / "engine.py")
    assert _code_digest(compute, engines) not in (first, edited, added)


def test_another_kpitree_version_is_another_code_version(monkeypatch: pytest.MonkeyPatch) -> None:
    """An upgrade whose files keep their sizes and times (a reproducible build
    gives every file one time) still gives another version."""
    import kpitree.installed

    real = kpitree.installed.installed_version

    def versions(kpitree_version: str) -> str:
        monkeypatch.setattr(
            kpitree.installed,
            "installed_version",
            lambda name: kpitree_version if name == "kpitree" else real(name),
        )
        querycache._code_version.cache_clear()
        return querycache._code_version()

    try:
        assert versions("1.4.0") != versions("1.4.1")
        assert versions("1.4.0") == versions("1.4.0")
    finally:
        monkeypatch.undo()
        querycache._code_version.cache_clear()
