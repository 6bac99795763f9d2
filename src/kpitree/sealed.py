"""Files kept for later commands, sealed with a key of the user's own.

A project's ``.kpitree/cache`` holds compiled SQL that later commands run as
written, a checked definition they use without validating it again, query
results and account scores they show as computed. A project folder can come
from someone else (a shared drive, a repository, an archive): a file planted
there must neither run SQL nor change a figure. So every such file starts with
an HMAC-SHA256 of its contents under a key kept outside the project, in the
user's cache folder (``$KPITREE_CACHE_DIR``, else ``$XDG_CACHE_HOME/kpitree``
or ``~/.cache/kpitree``; made on first use, readable by its owner only). A file
whose seal does not verify is ignored and computed again: a project copied to
another user or machine simply starts cold.

When the key cannot be kept (no writable cache folder), a key of the process
is used: files written then are good for that process only.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
import threading
from pathlib import Path

__all__ = ["KEY_FILE", "cache_folder", "seal", "unseal"]

KEY_FILE = "seal.key"
_KEY_BYTES = 32
_TAG = 64  # hex digits of an HMAC-SHA256
_key: bytes | None = None
_lock = threading.Lock()


def cache_folder() -> Path:
    """Where kpitree keeps what it computed for the user (not for a project)."""
    chosen = os.environ.get("KPITREE_CACHE_DIR")
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kpitree"


def _read_key(path: Path) -> bytes | None:
    try:
        key = path.read_bytes()
    except OSError:
        return None
    return key if len(key) == _KEY_BYTES else None


def _make_key() -> bytes:
    folder = cache_folder()
    path = folder / KEY_FILE
    found = _read_key(path)
    if found is not None:
        return found
    key = secrets.token_bytes(_KEY_BYTES)
    temp = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".seal-", dir=folder)
        with os.fdopen(fd, "wb") as out:  # mkstemp: mode 0600
            out.write(key)
        try:
            os.link(temp, path)  # the first process to make it wins
        except FileExistsError:
            found = _read_key(path)
            return found if found is not None else key
        return key
    except OSError:
        return key  # no cache folder: this process's own key
    finally:
        if temp is not None:
            Path(temp).unlink(missing_ok=True)


def _the_key() -> bytes:
    global _key
    with _lock:
        if _key is None:
            _key = _make_key()
        return _key


def seal(body: bytes) -> bytes:
    """``body`` with its seal in front (what :func:`unseal` checks)."""
    tag = hmac.new(_the_key(), body, hashlib.sha256).hexdigest().encode("ascii")
    return tag + b"\n" + body


def unseal(data: bytes) -> memoryview | None:
    """The body of a sealed file, or ``None`` when its seal does not verify
    (planted, damaged, written under another user's key or in an older format)."""
    if len(data) <= _TAG or data[_TAG : _TAG + 1] != b"\n":
        return None
    view = memoryview(data)
    body = view[_TAG + 1 :]
    tag = hmac.new(_the_key(), body, hashlib.sha256).hexdigest().encode("ascii")
    return body if hmac.compare_digest(tag, bytes(view[:_TAG])) else None
