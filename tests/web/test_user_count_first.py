"""The user count is kept between requests, but never "no users" (everyone the
anonymous admin) once a first user exists: a user added by another process
(``kpitree users add``, another connection) is counted on the very next
request, however long a count is otherwise kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpitree.web import users
from kpitree.web.users import UserStore

from .conftest import PASSWORD


def test_a_first_user_added_elsewhere_ends_the_anonymous_admin_at_once(
    demo_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(users, "RECOUNT_SECONDS", 3600.0)  # however long counts are kept
    server = UserStore(demo_copy)
    elsewhere = UserStore(demo_copy)  # the file as another process writes it
    with elsewhere._connect():  # app.sqlite made, no user in it yet
        pass
    assert server.path.exists()
    assert server.count() == 0  # no users: everyone the anonymous admin
    elsewhere.add("admin", "admin", PASSWORD)
    assert server.count() == 1  # at once: sign-in is required from this request on


def test_no_users_is_kept_while_other_connections_only_read(
    demo_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from kpitree.notes import NoteStore

    monkeypatch.setattr(users, "RECOUNT_SECONDS", 3600.0)
    server = UserStore(demo_copy)
    with UserStore(demo_copy)._connect():  # app.sqlite made, no user in it
        pass
    NoteStore(demo_copy).list()  # its tables made
    # The server's other stores read the file: their connections come and go,
    # and SQLite makes and removes the write-ahead log with them.
    reader = sqlite3.connect(server.path)
    reader.execute("SELECT count(*) FROM sqlite_master").fetchall()
    assert server.count() == 0
    counted = server._counted
    reader.close()
    for _ in range(3):
        assert NoteStore(demo_copy).list() == []
        assert server.count() == 0
    assert server._counted is counted  # not counted again: nobody committed
    # A write by another connection is a change: the next request counts again.
    UserStore(demo_copy).add("admin", "admin", PASSWORD)
    assert server.count() == 1
