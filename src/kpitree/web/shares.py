"""Shared read-only links: one wall-screen view (the tree, or one department)
with its filters, for people without an account, until it expires or an admin
revokes it.

A link's address is ``/s/<token>``. The token is signed with a secret kept in
``app.sqlite`` (:meth:`~kpitree.web.users.UserStore.secret`, via
``itsdangerous``) and carries the link's id and a random key; the database
keeps only the key's SHA-256, so neither a copy of the database nor the list on
the Settings page can rebuild a working address (it is shown once, when the
link is made). Every request checks the row: a revoked or expired link is
refused at once, its live-update stream included.

Table ``web_shares``: id, view (``tree`` or ``department``), department,
params (the view's period and filters, JSON), lang, label, created_by,
created_at, expires_at, revoked_at, revoked_by (instants are Unix seconds).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kpitree.errors import UserError
from kpitree.web.users import UserStore

__all__ = ["MAX_DAYS", "VIEWS", "Share", "ShareStore"]

VIEWS = ("tree", "department")
"""What a link can show: the tree, or one department (its KPIs by team)."""
MAX_DAYS = 365
_SALT = "kpitree.share"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS web_shares (
    id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL,
    view TEXT NOT NULL,
    department TEXT,
    params TEXT NOT NULL,
    lang TEXT NOT NULL,
    label TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    revoked_at REAL,
    revoked_by TEXT
);
"""


@dataclass(frozen=True)
class Share:
    """A stored link (never its token)."""

    id: str
    view: str
    department: str | None
    params: dict[str, str]
    lang: str
    label: str
    created_by: str
    created_at: float
    expires_at: float
    revoked_at: float | None
    revoked_by: str | None

    def state(self, now: float | None = None) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if (now or time.time()) >= self.expires_at else "active"

    def to_json(self) -> dict[str, Any]:
        import datetime as dt

        def at(value: float | None) -> str | None:
            if value is None:
                return None
            return dt.datetime.fromtimestamp(value, dt.UTC).isoformat(timespec="seconds")

        return {
            "id": self.id,
            "view": self.view,
            "department": self.department,
            "params": self.params,
            "lang": self.lang,
            "label": self.label,
            "created_by": self.created_by,
            "created_at": at(self.created_at),
            "expires_at": at(self.expires_at),
            "revoked_at": at(self.revoked_at),
            "revoked_by": self.revoked_by,
            "state": self.state(),
        }


_COLUMNS = (
    "id, view, department, params, lang, label, created_by, created_at, expires_at, "
    "revoked_at, revoked_by"
)


def _share(row: tuple[Any, ...]) -> Share:
    return Share(
        row[0], row[1], row[2], json.loads(row[3]), row[4], row[5], row[6],
        float(row[7]), float(row[8]),
        None if row[9] is None else float(row[9]), row[10],
    )  # fmt: skip


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ShareStore:
    """The shared links of one project (tables in the users' ``app.sqlite``)."""

    def __init__(self, users: UserStore) -> None:
        self.users = users
        self._ready = False

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        with self.users._connect() as con:
            if not self._ready:
                con.executescript(_SCHEMA)
                self._ready = True
            yield con

    def _serializer(self) -> Any:
        from itsdangerous import URLSafeSerializer

        return URLSafeSerializer(self.users.secret("share"), salt=_SALT)

    def create(
        self,
        view: str,
        department: str | None,
        params: Mapping[str, str],
        lang: str,
        label: str,
        days: float,
        by: str,
    ) -> tuple[Share, str]:
        """A new link and its token (shown once). ``days``: how long it works
        (at most :data:`MAX_DAYS`; KT688 otherwise)."""
        if view not in VIEWS:
            raise UserError.of("KT687", "share.error.bad_view", None, view=view)
        if not 0 < days <= MAX_DAYS:
            raise UserError.of("KT688", "share.error.bad_expiry", None, maximum=MAX_DAYS)
        share_id = secrets.token_hex(8)
        key = secrets.token_urlsafe(24)
        now = time.time()
        with self._connect() as con:
            con.execute(
                f"INSERT INTO web_shares ({_COLUMNS}, key_hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?)",
                (
                    share_id,
                    view,
                    department,
                    json.dumps(dict(params), ensure_ascii=False, sort_keys=True),
                    lang,
                    label.strip()[:200],
                    by,
                    now,
                    now + days * 86400,
                    _digest(key),
                ),
            )
        token: str = self._serializer().dumps([share_id, key])
        return self.get(share_id), token

    def get(self, share_id: str) -> Share:
        with self._connect() as con:
            row = con.execute(
                f"SELECT {_COLUMNS} FROM web_shares WHERE id = ?", (share_id,)
            ).fetchone()
        if row is None:
            raise UserError.of("KT686", "share.error.unknown", None, id=share_id)
        return _share(row)

    def list(self) -> list[Share]:
        if not self.users.path.exists():
            return []
        with self._connect() as con:
            rows = con.execute(
                f"SELECT {_COLUMNS} FROM web_shares ORDER BY created_at DESC"
            ).fetchall()
        return [_share(r) for r in rows]

    def revoke(self, share_id: str, by: str) -> Share:
        """Stop a link for good (KT686 when there is none)."""
        with self._connect() as con:
            changed = con.execute(
                "UPDATE web_shares SET revoked_at = ?, revoked_by = ? "
                "WHERE id = ? AND revoked_at IS NULL",
                (time.time(), by, share_id),
            ).rowcount
        found = self.get(share_id)
        if not changed and found.revoked_at is None:
            raise UserError.of("KT686", "share.error.unknown", None, id=share_id)
        return found

    def resolve(self, token: str) -> Share | None:
        """The active link of ``token``; ``None`` when the signature is wrong,
        the link unknown, revoked or expired (the same answer for all, so a
        token cannot be probed)."""
        from itsdangerous import BadSignature

        if not token or len(token) > 300 or not self.users.path.exists():
            return None
        try:
            share_id, key = self._serializer().loads(token)
        except (BadSignature, ValueError, TypeError):
            return None
        if not isinstance(share_id, str) or not isinstance(key, str):
            return None
        with self._connect() as con:
            row = con.execute(
                f"SELECT {_COLUMNS}, key_hash FROM web_shares WHERE id = ?", (share_id,)
            ).fetchone()
        if row is None or not hmac.compare_digest(row[-1], _digest(key)):
            return None
        share = _share(row[:-1])
        return share if share.state() == "active" else None
