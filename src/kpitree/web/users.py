"""Local users of the web app: names, roles and argon2 password hashes, kept in
``<project>/.kpitree/app.sqlite`` (SQLite in WAL mode, so the CLI can add a user
while the server runs).

Only the tables of users and their sessions (``web_users``, ``web_secrets``,
``web_sessions``, see :mod:`kpitree.web.sessions`) are created here, with
``CREATE TABLE IF NOT EXISTS``; other parts of the app keep their own tables in
the same file.

>>> store = UserStore(Path("my-project"))                      # doctest: +SKIP
>>> store.add("sato", "editor", "correct horse battery")       # doctest: +SKIP
>>> store.verify("sato", "correct horse battery").role         # doctest: +SKIP
'editor'
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kpitree.appdb import APP_DB
from kpitree.errors import UserError

__all__ = [
    "APP_DB",
    "MIN_PASSWORD",
    "ROLES",
    "User",
    "UserRecord",
    "UserStore",
    "login_key",
    "normalize_name",
]

ROLES = ("viewer", "editor", "admin")
"""Roles from least to most allowed: viewers read, editors also import and plan,
admins also manage users."""
MIN_PASSWORD = 8
RECOUNT_SECONDS = 1.0  # how long the user count is kept without asking the file again

_SCHEMA = """
CREATE TABLE IF NOT EXISTS web_users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    session_epoch INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS web_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS web_sessions (
    token_hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_seen REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS web_sessions_name ON web_sessions (name);
"""


@dataclass(frozen=True, slots=True)
class User:
    """Who is making a request. ``anonymous`` is the implicit admin of a server
    with no users configured (it binds to 127.0.0.1 only)."""

    name: str
    role: str
    anonymous: bool = False
    epoch: int = 0

    def can(self, role: str) -> bool:
        """Whether this user has ``role`` or a higher one."""
        return ROLES.index(self.role) >= ROLES.index(role)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "anonymous": self.anonymous}


ANONYMOUS = User("", "admin", anonymous=True)


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A stored user as listed by ``kpitree users list``."""

    name: str
    role: str
    created_at: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "created_at": self.created_at}


def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()


def normalize_name(name: str) -> str:
    """A user name as stored and looked up: NFKC-normalised (full-width letters and
    half-width kana become their usual forms), surrounding white space removed."""
    return unicodedata.normalize("NFKC", name).strip()


def login_key(name: str) -> str:
    """The key failed logins are counted under: :func:`normalize_name`, case-folded,
    so spacing, width or case cannot spread failures over several counters."""
    return normalize_name(name).casefold()


def check_name(name: str) -> str:
    """A user name as stored (:func:`normalize_name`): printable, no spaces, at
    most 64 characters (Japanese names are fine)."""
    clean = normalize_name(name)
    bad = not clean or len(clean) > 64
    bad = bad or any(ch.isspace() or not ch.isprintable() for ch in clean)
    if bad:
        raise UserError.of("KT619", "web.users.bad_name", None, name=name)
    return clean


def check_role(role: str) -> str:
    if role not in ROLES:
        from kpitree.source import did_you_mean

        raise UserError.of(
            "KT612",
            "web.users.bad_role",
            None,
            role=role,
            roles=", ".join(ROLES),
            hint=did_you_mean(role, ROLES),
        )
    return role


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError.of("KT613", "web.users.short_password", None, minimum=MIN_PASSWORD)
    return password


class UserStore:
    """The users of one project (a thin layer over SQLite; every call opens and
    closes its own connection, so threads and processes can share the file)."""

    def __init__(self, project_dir: Path) -> None:
        self.path = Path(project_dir) / APP_DB
        # The last count and the file's stamp then (every request asks it).
        self._counted: tuple[tuple[Any, ...], int, float] | None = None
        # A connection kept open on the file (its inode, the connection) only
        # to ask whether another connection has committed since.
        self._watch: tuple[int, sqlite3.Connection] | None = None
        self._watch_lock = threading.Lock()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=10)) as con:
            if self.path not in _READY:  # once per file and process: every request checks users
                con.execute("PRAGMA journal_mode=WAL")
                con.executescript(_SCHEMA)
                _READY.add(self.path)
            with con:  # one transaction: committed on success, rolled back on an error
                yield con

    def count(self) -> int:
        """How many users exist (0 without creating the file when it is absent).

        Every request asks (no users: the anonymous admin), so the answer is
        kept for :data:`RECOUNT_SECONDS`, and after that while users exist and
        the file is unchanged: the same file, and no connection of any process
        has committed to it since (SQLite's ``data_version``, asked of a
        connection this store keeps open). A user added or
        removed by ``kpitree users`` in another process counts within a second,
        a first user at once (a changed file ends "no users"); one added or
        removed through this store, on the next call."""
        stamp = self._stamp()
        if stamp is None:
            return 0
        now = time.monotonic()
        found = self._counted
        if found is not None:
            same, fresh = found[0] == stamp, now - found[2] < RECOUNT_SECONDS
            # "No users" (everyone the anonymous admin) only while the file is
            # unchanged too: a first user added elsewhere counts at once.
            if (same and fresh) or (found[1] > 0 and (same or fresh)):
                return found[1]
        with self._connect() as con:
            counted = int(con.execute("SELECT count(*) FROM web_users").fetchone()[0])
        self._counted = (stamp, counted, now)
        return counted

    def _stamp(self) -> tuple[Any, ...] | None:
        """The file's inode, size, modification and change times, and how
        often other connections have committed to it (None: no file)."""
        try:
            st = self.path.stat()
        except OSError:
            self._unwatch()
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, self._data_version(st))

    def _data_version(self, st: os.stat_result) -> object:
        """``PRAGMA data_version`` of the kept connection: it changes whenever
        another connection, of this process or another, commits to the file
        (when it cannot be asked: a value equal to no other, so a count is
        kept only while fresh)."""
        with self._watch_lock:
            try:
                if self._watch is None or self._watch[0] != st.st_ino:
                    self._unwatch_locked()
                    con = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
                    self._watch = (st.st_ino, con)
                return int(self._watch[1].execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.Error:
                self._unwatch_locked()
                return object()

    def _unwatch(self) -> None:
        with self._watch_lock:
            self._unwatch_locked()

    def _unwatch_locked(self) -> None:
        if self._watch is not None:
            self._watch[1].close()
            self._watch = None

    def list(self) -> list[UserRecord]:
        if not self.path.exists():
            return []
        with self._connect() as con:
            rows = con.execute("SELECT name, role, created_at FROM web_users ORDER BY name")
            return [UserRecord(*row) for row in rows.fetchall()]

    def add(self, name: str, role: str, password: str) -> UserRecord:
        """Create a user; raises KT610 when the name is taken."""
        self._counted = None  # counted again after this change
        name, role, password = check_name(name), check_role(role), check_password(password)
        digest = _hasher().hash(password)
        created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._connect() as con:
            if role != "admin" and _admins(con) == 0:
                # Someone must be able to manage users once logins are required.
                raise UserError.of("KT624", "web.users.first_admin", None, name=name)
            try:
                con.execute(
                    "INSERT INTO web_users (name, role, password_hash, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    (name, role, digest, created),
                )
            except sqlite3.IntegrityError:
                raise UserError.of("KT610", "web.users.exists", None, name=name) from None
        return UserRecord(name, role, created)

    def remove(self, name: str) -> None:
        """Delete a user (their sessions end with it); raises KT611 when unknown."""
        self._counted = None  # counted again after this change
        name = normalize_name(name)
        with self._connect() as con:
            if con.execute("DELETE FROM web_users WHERE name = ?", (name,)).rowcount == 0:
                raise UserError.of("KT611", "web.users.unknown", None, name=name)
            _end_sessions(con, name)
            if _admins(con) == 0:
                raise UserError.of("KT625", "web.users.last_admin", None, name=name)

    def set_role(self, name: str, role: str) -> None:
        """Change a user's role; their sessions end, so the new role applies at once."""
        name = normalize_name(name)
        role = check_role(role)
        with self._connect() as con:
            changed = con.execute(
                "UPDATE web_users SET role = ?, session_epoch = session_epoch + 1 WHERE name = ?",
                (role, name),
            ).rowcount
            if changed == 0:
                raise UserError.of("KT611", "web.users.unknown", None, name=name)
            if _admins(con) == 0:
                raise UserError.of("KT625", "web.users.last_admin", None, name=name)
            _end_sessions(con, name)

    def set_password(self, name: str, password: str) -> None:
        """Change a password; the user's other sessions end."""
        name = normalize_name(name)
        digest = _hasher().hash(check_password(password))
        with self._connect() as con:
            changed = con.execute(
                "UPDATE web_users SET password_hash = ?, session_epoch = session_epoch + 1 "
                "WHERE name = ?",
                (digest, name),
            ).rowcount
            if changed == 0:
                raise UserError.of("KT611", "web.users.unknown", None, name=name)
            _end_sessions(con, name)

    def get(self, name: str) -> User | None:
        """The user ``name`` as a session sees it (``None`` when unknown)."""
        name = normalize_name(name)
        if not self.path.exists():
            return None
        with self._connect() as con:
            row = con.execute(
                "SELECT name, role, session_epoch FROM web_users WHERE name = ?", (name,)
            ).fetchone()
        return None if row is None else User(row[0], row[1], epoch=int(row[2]))

    def verify(self, name: str, password: str) -> User | None:
        """The user when ``password`` is right, else ``None``. A wrong name costs
        the same hashing time as a wrong password, so names cannot be probed."""
        from argon2.exceptions import InvalidHashError, VerificationError

        hasher = _hasher()
        clean = normalize_name(name)
        legacy = unicodedata.normalize("NFC", name).strip()  # names stored before NFKC
        row = None
        if self.path.exists():
            with self._connect() as con:
                row = con.execute(
                    "SELECT name, role, session_epoch, password_hash FROM web_users "
                    "WHERE name IN (?, ?) ORDER BY name = ? DESC",
                    (clean, legacy, clean),
                ).fetchone()
        digest = row[3] if row else _dummy_hash()
        try:
            hasher.verify(digest, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if hasher.check_needs_rehash(digest):
            with self._connect() as con:
                con.execute(
                    "UPDATE web_users SET password_hash = ? WHERE name = ?",
                    (hasher.hash(password), row[0]),
                )
        return User(row[0], row[1], epoch=int(row[2]))

    def secret(self, name: str = "session") -> str:
        """A random secret kept in the file (created on first use), so sessions
        survive a restart of the server."""
        with self._connect() as con:
            row = con.execute("SELECT value FROM web_secrets WHERE name = ?", (name,)).fetchone()
            if row:
                return str(row[0])
            value = secrets.token_urlsafe(32)
            con.execute(
                "INSERT OR IGNORE INTO web_secrets (name, value) VALUES (?, ?)", (name, value)
            )
            again = con.execute("SELECT value FROM web_secrets WHERE name = ?", (name,))
            return str(again.fetchone()[0])


def _end_sessions(con: sqlite3.Connection, name: str) -> None:
    con.execute("DELETE FROM web_sessions WHERE name = ?", (name,))


def _admins(con: sqlite3.Connection) -> int:
    return int(con.execute("SELECT count(*) FROM web_users WHERE role = 'admin'").fetchone()[0])


_READY: set[Path] = set()
_DUMMY: list[str] = []


def _dummy_hash() -> str:
    if not _DUMMY:
        _DUMMY.append(_hasher().hash(secrets.token_urlsafe(16)))
    return _DUMMY[0]
