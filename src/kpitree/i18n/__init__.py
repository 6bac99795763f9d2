"""Message catalogs (Japanese and English) and the current language.

Every user-facing text lives in ``catalogs/<lang>/<domain>.json`` as
``key -> template``; templates use ``str.format`` fields. Both languages must
have the same keys and fields (a test enforces it).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["LANGUAGES", "Msg", "current_lang", "detect_lang", "set_lang", "t", "value_label"]

LANGUAGES = ("ja", "en")
_lang: str | None = None


def detect_lang(environ: dict[str, str] | None = None) -> str:
    """The language from ``KPITREE_LANG`` or the POSIX locale; Japanese locales give
    ``ja``, anything else ``en``."""
    env = os.environ if environ is None else environ
    explicit = env.get("KPITREE_LANG", "").strip().lower()
    if explicit in LANGUAGES:
        return explicit
    for var in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = env.get(var, "")
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    return "en"


def set_lang(lang: str | None) -> None:
    """Fix the language for this process (``None`` goes back to detection)."""
    global _lang
    if lang is not None and lang not in LANGUAGES:
        raise ValueError(f"unsupported language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    _lang = lang


def current_lang() -> str:
    return _lang or detect_lang()


@cache
def catalog(lang: str) -> dict[str, str]:
    """All messages of one language, merged from its domain files."""
    merged: dict[str, str] = {}
    folder = resources.files("kpitree.i18n") / "catalogs" / lang
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            merged.update(json.loads(entry.read_text(encoding="utf-8")))
    return merged


@dataclass(frozen=True)
class Msg:
    """A message rendered lazily, so it can be a parameter of another message and
    still follow the language the outer message is rendered in."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)

    def render(self, lang: str | None = None) -> str:
        return t(self.key, lang=lang, **self.params)

    def __str__(self) -> str:
        return self.render()


def t(key: str, /, lang: str | None = None, **params: Any) -> str:
    """The message ``key`` in ``lang`` (default: the current language).

    A missing key falls back to English, then to the key itself, so a gap in a
    catalog never crashes a command.
    """
    lang = lang or current_lang()
    template = catalog(lang).get(key) or catalog("en").get(key) or key
    rendered = {k: v.render(lang) if isinstance(v, Msg) else v for k, v in params.items()}
    try:
        return template.format(**rendered)
    except (KeyError, IndexError, ValueError):
        return template


def value_label(dimension: str, value: str, lang: str | None = None) -> str:
    """A value of a dimension as people name it (``paid_search`` → 有料検索 /
    Paid search) where the catalogs name it (``value.channel.paid_search``),
    else the value as it is in the data."""
    key = f"value.{dimension}.{value}"
    lang = lang or current_lang()
    return catalog(lang).get(key) or catalog("en").get(key) or value
