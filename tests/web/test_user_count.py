"""Every request asks how many users exist (none: the anonymous admin). The
count is kept, so a request opens no database for it, and a user added or
removed in another process counts within a second."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from kpitree.web.users import UserStore

from .conftest import PASSWORD, run_kpitree


def test_the_user_count_is_kept_until_the_file_changes(
    demo_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = UserStore(demo_copy)
    assert store.count() == 0  # no file yet: none created
    assert not store.path.exists()
    store.add("admin", "admin", PASSWORD)
    assert store.count() == 1
    opened: list[object] = []
    real = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: opened.append(a) or real(*a, **k))
    for _ in range(5):
        assert store.count() == 1
    assert opened == []  # kept: no database opened
    # Another process adds a user, then removes one: each counts within a second.
    run_kpitree(
        "users", "add", "editor", "--role", "editor", "--project", demo_copy,
        "--password-stdin", input=PASSWORD + "\n",
    )  # fmt: skip
    assert counted_soon(store, 2)
    run_kpitree("users", "remove", "editor", "--project", demo_copy)
    assert counted_soon(store, 1)
    assert len(opened) <= 10  # a few recounts, not one per call


def counted_soon(store: UserStore, expected: int) -> bool:
    deadline = time.monotonic() + 10
    while store.count() != expected:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
