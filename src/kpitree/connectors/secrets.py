"""Reading a source's secrets, and keeping them out of every text kpitree writes.

A secret is read only from the environment (``token_env: HUBSPOT_TOKEN``) or
from a file outside the project (``token_file``). Every secret read is
remembered for the life of the process, and :func:`redact` replaces it with
``***`` in any text: connector errors, the sync log line, the JSON of
``kpitree sources``, and every record of the connectors', the web server's and httpx's loggers (a
logging filter), so a token that slips into a vendor's error message or a URL is never
shown, stored or logged.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path

from kpitree.errors import DataError

__all__ = ["RedactingFilter", "read_secret", "read_secret_file", "redact", "remember_secret"]

_SECRETS: set[str] = set()
_LOCK = threading.Lock()
_MIN_LENGTH = 4  # shorter values would redact ordinary words


def remember_secret(value: str) -> None:
    """Redact ``value`` (and its stripped form) from now on."""
    with _LOCK:
        for text in (value, value.strip()):
            if len(text) >= _MIN_LENGTH:
                _SECRETS.add(text)


def redact(text: str) -> str:
    """``text`` with every secret read so far replaced by ``***``."""
    with _LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def read_secret(
    env_name: str, *, source: str, key: str, environ: Mapping[str, str] | None = None
) -> str:
    """The secret in environment variable ``env_name`` (named by ``key`` of
    source ``source``); KT903 when it is unset or blank."""
    env = os.environ if environ is None else environ
    value = env.get(env_name, "").strip()
    if not value:
        raise DataError.of("KT903", "sources.env_unset", source=source, field=key, env=env_name)
    remember_secret(value)
    return value


def read_secret_file(path_text: str, *, source: str, project_dir: Path) -> str:
    """The secret in the file ``path_text`` (``~`` expanded; relative to the
    project folder): refused inside the project folder (KT904), where it would
    be committed with the definitions; KT904 too when unreadable or empty."""
    path = Path(path_text).expanduser()
    if not path.is_absolute():
        path = project_dir / path
    resolved = path.resolve()
    project = project_dir.resolve()
    if resolved == project or project in resolved.parents:
        raise DataError.of("KT904", "sources.secret_in_project", source=source, path=str(path))
    try:
        value = resolved.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError.of(
            "KT904",
            "sources.secret_unreadable",
            source=source,
            path=str(path),
            error=type(exc).__name__,
        ) from None
    if not value:
        raise DataError.of(
            "KT904", "sources.secret_unreadable", source=source, path=str(path), error="empty"
        )
    remember_secret(value)
    return value


class RedactingFilter(logging.Filter):
    """Redacts secrets from log records (installed on the ``kpitree`` logger)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


# Logger filters do not reach child loggers: every logger that may see a
# request or a vendor's answer gets its own.
for _name in ("kpitree.connectors", "kpitree.web", "httpx", "httpcore"):
    _logger = logging.getLogger(_name)
    if not any(isinstance(f, RedactingFilter) for f in _logger.filters):
        _logger.addFilter(RedactingFilter())
