"""Match keys of companies, so that a target list written by hand finds the
accounts the CRM holds: 法人番号 (corporate number), web domain and company
name, normalised the same way on both sides.

- 法人番号: NFKC, every non-digit removed; 13 digits whose check digit (the
  first) is right, else no key.
- domain: NFKC, lower case, without scheme, ``www.``, path or port
  (``https://www.example.co.jp/ja/`` -> ``example.co.jp``).
- name: NFKC, lower case, legal forms removed (株式会社, (株), 有限会社, 合同会社,
  Co., Ltd., Inc., ...), spaces and ``. , ・ ' " - _ / &`` removed.

>>> company_name("株式会社 アルファ") == company_name("ｱﾙﾌｧ㈱")
True
>>> corporate_number("7000-0120-50002")
'7000012050002'
>>> domain("https://www.example.co.jp/ja/")
'example.co.jp'
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["LEGAL_FORMS", "company_name", "corporate_number", "domain"]

LEGAL_FORMS = (
    "株式会社",
    "有限会社",
    "合同会社",
    "合資会社",
    "合名会社",
    "一般社団法人",
    "一般財団法人",
    "(株)",
    "(有)",
    "(同)",
)
_ENGLISH = re.compile(
    r"(?:[\s,]+(?:co\.?,?\s*ltd\.?|co\.?|ltd\.?|limited|inc\.?|corp\.?|corporation"
    r"|k\.?\s?k\.?|llc|g\.?k\.?))+\s*$"
)
_PUNCT = re.compile(r"[\s.,・'\"\-_/&]+")
_HOST = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")


def _text(value: object) -> str:
    return unicodedata.normalize("NFKC", str(value)).strip().lower()


def corporate_number(value: object) -> str | None:
    """The 13-digit 法人番号 of ``value``, or ``None`` when it is not one."""
    if value is None:
        return None
    digits = re.sub(r"\D", "", _text(value))
    if len(digits) != 13:
        return None
    base = digits[1:]
    # Check digit: 9 - (sum of the base's digits, weighted 1 and 2 from the
    # right, modulo 9).
    total = sum(int(d) * (1 if i % 2 == 0 else 2) for i, d in enumerate(reversed(base)))
    return digits if int(digits[0]) == 9 - total % 9 else None


def domain(value: object) -> str | None:
    """The host of a web address or domain, without ``www.``."""
    if value is None:
        return None
    host = _text(value)
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", host)
    host = re.sub(r"^[^@/]*@", "", host)
    host = re.sub(r"[/?#:].*$", "", host)
    host = re.sub(r"^www\.", "", host).rstrip(".")
    return host if _HOST.match(host) else None


def company_name(value: object) -> str | None:
    """The name with legal forms, spaces and punctuation removed."""
    if value is None:
        return None
    name = _text(value)
    for form in LEGAL_FORMS:
        name = name.replace(form, " ")
    name = _PUNCT.sub("", _ENGLISH.sub("", name))
    return name or None
