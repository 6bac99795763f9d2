"""Server-side sessions: the cookie holds a random token, ``app.sqlite`` only
its SHA-256 (``web_sessions``), so a copied database does not log anyone in
and ending a session is deleting its row.

A session ends when its user logs out, when the user's password or role
changes or the user is removed (:class:`~kpitree.web.users.UserStore` deletes
their rows in the same transaction), when it has not been used for
``session_idle`` seconds, or ``session_lifetime`` seconds after the login.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from kpitree.web.users import User, UserStore

__all__ = ["create", "lookup", "revoke", "token_hash"]

_TOUCH_EVERY = 60.0
"""Seconds between updates of a session's last use (not a write per request)."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def create(store: UserStore, user: User, *, idle: float, lifetime: float) -> str:
    """A new session of ``user``; returns the token for the cookie. Sessions
    that have ended on their own are removed on the way."""
    token = secrets.token_urlsafe(32)
    now = time.time()
    with store._connect() as con:
        con.execute(
            "DELETE FROM web_sessions WHERE last_seen < ? OR created_at < ?",
            (now - idle, now - lifetime),
        )
        con.execute(
            "INSERT INTO web_sessions (token_hash, name, created_at, last_seen) "
            "VALUES (?, ?, ?, ?)",
            (token_hash(token), user.name, now, now),
        )
    return token


def lookup(store: UserStore, token: str, *, idle: float, lifetime: float) -> User | None:
    """The user of a live session, or ``None`` (unknown, revoked, idle too long,
    or too old: such a session is removed)."""
    if not token or len(token) > 256 or not store.path.exists():
        return None
    digest = token_hash(token)
    now = time.time()
    with store._connect() as con:
        row = con.execute(
            "SELECT u.name, u.role, u.session_epoch, s.created_at, s.last_seen "
            "FROM web_sessions s JOIN web_users u ON u.name = s.name WHERE s.token_hash = ?",
            (digest,),
        ).fetchone()
        if row is None:
            return None
        name, role, epoch, created, seen = row
        if now - seen > idle or now - created > lifetime:
            con.execute("DELETE FROM web_sessions WHERE token_hash = ?", (digest,))
            return None
        if now - seen > min(_TOUCH_EVERY, idle / 10):
            con.execute("UPDATE web_sessions SET last_seen = ? WHERE token_hash = ?", (now, digest))
    return User(name, role, epoch=int(epoch))


def revoke(store: UserStore, token: str) -> None:
    """End the session of ``token`` (logout); nothing happens for an unknown one."""
    if not token or not store.path.exists():
        return
    with store._connect() as con:
        con.execute("DELETE FROM web_sessions WHERE token_hash = ?", (token_hash(token),))
