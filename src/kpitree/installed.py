"""The version of an installed distribution, as the keys of kept files (compiled
SQL, account scores, holiday calendars) name the libraries they depend on.

:func:`importlib.metadata.version` parses the whole metadata file with the
e-mail parser (Ibis's is long: a few milliseconds each, on every command); the
version is one header near the top, so it is read from there."""

from __future__ import annotations

from functools import cache
from importlib import metadata

__all__ = ["installed_version"]


@cache
def installed_version(name: str) -> str:
    """The version of the installed distribution ``name`` (what
    :func:`importlib.metadata.version` gives); raises
    :class:`importlib.metadata.PackageNotFoundError` when it is not installed."""
    found = metadata.distribution(name)
    text = found.read_text("METADATA") or found.read_text("PKG-INFO") or ""
    for line in text.splitlines():
        if not line.strip():
            break  # the end of the headers
        key, _, value = line.partition(":")
        if key.strip().lower() == "version":
            return value.strip()
    return found.version  # no Version header up there: the library's own reading
