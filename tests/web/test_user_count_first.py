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
