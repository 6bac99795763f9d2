"""Match keys of companies, so that a target list or a company master written
by hand finds the accounts the CRM holds: 法人番号 (corporate number), web
domain and company name, normalised exactly as the cross-source links
normalise them (:mod:`kpitree.data.linkkeys`): one company is one key
whichever feature of kpitree matches it.

>>> company_name("株式会社 アルファ") == company_name("ｱﾙﾌｧ㈱")
True
>>> corporate_number("7000-0120-50002")
'7000012050002'
>>> domain("https://www.example.co.jp/ja/")
'example.co.jp'
"""

from __future__ import annotations

from collections.abc import Mapping

from kpitree.data.linkkeys import LEGAL_FORMS, normalised_value

__all__ = [
    "LEGAL_FORMS",
    "account_keys_of",
    "company_name",
    "corporate_number",
    "domain",
]


def account_keys_of(name: object, attributes: Mapping[str, object]) -> dict[str, str | None]:
    """An account's keys (``corporate_number``, ``domain``, ``name``) from its
    name and the ``attributes`` the cross-source links read them from (the
    first non-blank of their headers: 法人番号, Corporate Number, Website, ...)."""
    from kpitree.data.links import LinkKeys

    headers = LinkKeys()

    def first(candidates: tuple[str, ...]) -> object:
        for h in candidates:
            value = attributes.get(h)
            if value is not None and str(value).strip():
                return value
        return None

    if name is None or not str(name).strip():
        name = first(headers.name.get("accounts", ()))
    return {
        "corporate_number": corporate_number(first(headers.corporate_number["accounts"])),
        "domain": domain(first(headers.website["accounts"])),
        "name": company_name(name),
    }


def corporate_number(value: object) -> str | None:
    """The 13-digit 法人番号 of ``value``, or ``None`` when it is not one."""
    return normalised_value("corporate_number", value)


def domain(value: object) -> str | None:
    """The host of a web address or domain, without ``www.`` (``None`` for a
    free-mail domain, which says nothing about a company)."""
    return normalised_value("website", value)


def company_name(value: object) -> str | None:
    """The name with legal forms, spaces and punctuation removed."""
    return normalised_value("name", value)
