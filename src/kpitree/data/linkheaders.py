"""Which source columns hold the match keys of the cross-source links
(:mod:`kpitree.data.links`): the built-in headers per key and table, and the
keys of the company's own that ``data.links`` of kpitree.yaml adds
(:mod:`kpitree.data.linksettings`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kpitree.data.links import Relation

__all__ = ["BUILT_IN_KEYS", "LINKED_TABLES", "METHODS", "RESERVED_KEYS", "LinkKeys"]

LINKED_TABLES = ("leads", "deals", "accounts")
"""Canonical tables whose writes rebuild the links."""

METHODS: tuple[str, ...] = ("id", "email", "corporate_number", "domain", "name")
"""Built-in link methods in confidence order (``rank`` = position + 1 without
keys of the company's own, see :meth:`LinkKeys.methods`)."""
BUILT_IN_KEYS: tuple[str, ...] = ("email", "name", "corporate_number", "website")
"""Key kinds whose headers ``data.links`` may add to."""
RESERVED_KEYS: tuple[str, ...] = ("id", "domain")
"""Names a key of the company's own cannot take (methods of their own)."""


def _headers(*names: str) -> tuple[str, ...]:
    return names


@dataclass(frozen=True)
class LinkKeys:
    """Which source columns (``attributes`` keys: the file's headers, a sync's
    field names) hold each match key, per table. The first one present in a
    record is used. ``data.links`` in ``kpitree.yaml`` adds headers in front."""

    email: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "leads": _headers(
                "Email", "E-mail", "E-Mail", "Email Address", "Eメール", "Eメールアドレス",
                "メール", "メールアドレス", "email",
            ),
            "deals": _headers(
                "Contact Email", "Contact: Email", "取引先責任者: メール",
                "取引先責任者 メール", "Email", "メール", "メールアドレス", "email",
            ),
        }
    )  # fmt: skip
    name: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "leads": _headers("Company Name", "Company", "会社名", "企業名", "company"),
            "deals": _headers("Account Name", "取引先名", "Company Name", "会社名", "company"),
            "accounts": _headers("Company Name", "会社名", "取引先名", "Account Name"),
        }
    )
    corporate_number: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            t: _headers("法人番号", "Corporate Number", "corporate_number") for t in LINKED_TABLES
        }
    )
    website: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "accounts": _headers(
                "Company Domain Name", "会社ドメイン名", "Website", "Webサイト", "Web サイト",
                "Website URL", "ウェブサイト", "domain", "website",
            ),
        }
    )  # fmt: skip
    # The company's own keys: name -> table -> headers, in declaration order.
    custom: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)

    def with_extra(self, extra: Mapping[str, Mapping[str, Sequence[str]]]) -> LinkKeys:
        """These keys with ``extra`` headers (kind -> table -> headers) first;
        a kind that is not built in (:data:`BUILT_IN_KEYS`) is a key of the
        company's own, compared as a code (:mod:`kpitree.data.linkkeys`)."""
        merged: dict[str, dict[str, tuple[str, ...]]] = {}
        for kind in BUILT_IN_KEYS:
            mine: Mapping[str, tuple[str, ...]] = getattr(self, kind)
            more = extra.get(kind, {})
            merged[kind] = {
                t: tuple(dict.fromkeys([*more.get(t, ()), *mine.get(t, ())]))
                for t in LINKED_TABLES
                if more.get(t) or mine.get(t)
            }
        custom = {k: dict(v) for k, v in self.custom.items()}
        for kind, tables in extra.items():
            if kind in BUILT_IN_KEYS or kind in RESERVED_KEYS:
                continue
            mine = custom.get(kind, {})
            custom[kind] = {
                t: tuple(dict.fromkeys([*tables.get(t, ()), *mine.get(t, ())]))
                for t in LINKED_TABLES
                if tables.get(t) or mine.get(t)
            }
        return LinkKeys(**merged, custom=custom)

    def methods(self) -> tuple[str, ...]:
        """Every link method in confidence order: ``id``, ``email``, the
        company's own keys, then ``corporate_number``, ``domain``, ``name``."""
        return (*METHODS[:2], *self.custom, *METHODS[2:])

    def methods_of(self, rel: Relation) -> tuple[str, ...]:
        """The methods linking ``rel``: its own, and the company's keys unless
        it links one person to another."""
        own = rel.name != "lead_lead"
        return tuple(m for m in self.methods() if m in rel.methods or (own and m in self.custom))

    def fingerprint(self) -> str:
        """A short text that changes whenever these keys do."""
        import hashlib
        import json

        text = json.dumps({k: getattr(self, k) for k in (*BUILT_IN_KEYS, "custom")}, sort_keys=True)
        return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:16]
