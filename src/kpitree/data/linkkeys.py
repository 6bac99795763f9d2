"""Match keys of leads, deals and accounts, normalised so that the same person or
company written by two systems gives the same text.

- e-mail: NFKC, trimmed, lower case; one ``@`` with text on both sides.
- domain: the e-mail's domain (or an account's web site host, without ``www.``);
  free-mail domains (gmail.com, yahoo.co.jp, docomo.ne.jp, ...) say nothing
  about a company and are left out.
- 法人番号 (corporate number): NFKC, every non-digit removed; exactly 13 digits
  whose check digit is right, else no key.
- company name: NFKC (full-width letters and digits, ㈱ -> (株)), lower case,
  legal forms removed wherever they stand (株式会社, (株), 有限会社, 合同会社, ...,
  Co., Ltd., Inc., K.K., ...), then every space and the punctuation
  ``. , ・ ･ ' " - _ / &`` removed. A name that is only a legal form gives no key.
- code (a company's own key, ``data.links`` of kpitree.yaml: a customer code,
  a contract number): NFKC, trimmed, lower case; nothing else is changed.

Everything here works on whole Arrow columns (one call per column, no Python
loop over rows), so rebuilding the keys of a million leads stays cheap.

>>> company_name("株式会社 アルファ")
'アルファ'
>>> company_name("ｱﾙﾌｧ(株)") == company_name("アルファ㈱")
True
>>> corporate_number("7000-0120-50002")
'7000012050002'
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "FREE_MAIL_DOMAINS",
    "LEGAL_FORMS",
    "company_name",
    "corporate_number",
    "corporate_number_valid",
    "email",
    "email_domain",
    "normalised_column",
    "normalised_value",
    "web_domain",
]

# Legal-form words, after NFKC and lower case. Parenthesised abbreviations
# ((株) and ㈱ after NFKC) are matched with their parentheses.
LEGAL_FORMS: tuple[str, ...] = (
    "株式会社",
    "有限会社",
    "合同会社",
    "合資会社",
    "合名会社",
    "一般社団法人",
    "一般財団法人",
    "公益社団法人",
    "公益財団法人",
    "特定非営利活動法人",
    "npo法人",
    "医療法人社団",
    "医療法人財団",
    "医療法人",
    "社会福祉法人",
    "学校法人",
    "(株)",
    "(有)",
    "(同)",
    "(資)",
    "(名)",
    "(社)",
    "(財)",
    "(医)",
    "(学)",
)
# English legal forms, as whole words at the end of a name (after NFKC, lower case).
_ENGLISH = (
    r"(?:[\s,]+(?:co\.?,?\s*ltd\.?|co\.?|ltd\.?|limited|inc\.?|incorporated|corp\.?"
    r"|corporation|k\.?\s?k\.?|llc|g\.?k\.?))+\s*$"
)
_PUNCT = r"[\s.,・･'\"\-_/&＆　]+"

FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.co.jp",
        "yahoo.com",
        "ymail.ne.jp",
        "outlook.com",
        "outlook.jp",
        "hotmail.com",
        "hotmail.co.jp",
        "live.jp",
        "live.com",
        "msn.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "docomo.ne.jp",
        "ezweb.ne.jp",
        "au.com",
        "softbank.ne.jp",
        "i.softbank.jp",
        "ybb.ne.jp",
        "nifty.com",
        "biglobe.ne.jp",
        "ocn.ne.jp",
        "so-net.ne.jp",
        "excite.co.jp",
        "infoseek.jp",
        "goo.jp",
        "mail.goo.ne.jp",
        "protonmail.com",
        "proton.me",
    }
)


def _nfkc_lower(values: pa.Array) -> pa.Array:
    import pyarrow.compute as pc

    return pc.utf8_lower(pc.utf8_trim_whitespace(pc.utf8_normalize(values, form="NFKC")))


def _blank_to_null(values: pa.Array) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


def normalised_column(kind: str, values: pa.Array) -> pa.Array:
    """``values`` (text, nulls allowed) as match keys of ``kind`` (``email``,
    ``domain`` from an e-mail, ``website`` -> domain, ``corporate_number``,
    ``name``, ``code``); null where a value gives no key."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = pc.cast(values, pa.string())
    if len(values) == 0:
        return values
    text = _nfkc_lower(values)
    if kind == "code":
        return _blank_to_null(text)
    if kind == "email":
        ok = pc.match_substring_regex(text, r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
        return pc.if_else(ok, text, pa.scalar(None, pa.string()))
    if kind == "domain":
        mail = normalised_column("email", values)
        domain = pc.replace_substring_regex(mail, r"^.*@", "")
        return _without_free_mail(domain)
    if kind == "website":
        host = pc.replace_substring_regex(text, r"^[a-z][a-z0-9+.-]*://", "")
        host = pc.replace_substring_regex(host, r"^[^@/]*@", "")
        host = pc.replace_substring_regex(host, r"[/?#:].*$", "")
        host = pc.replace_substring_regex(host, r"^www\.", "")
        host = pc.replace_substring_regex(host, r"\.$", "")
        ok = pc.match_substring_regex(host, r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")
        return _without_free_mail(pc.if_else(ok, host, pa.scalar(None, pa.string())))
    if kind == "corporate_number":
        digits = pc.replace_substring_regex(text, r"\D", "")
        checked = [
            d if d is not None and corporate_number_valid(d) else None for d in digits.to_pylist()
        ]
        return pa.array(checked, pa.string())
    if kind == "name":
        name = text
        for form in LEGAL_FORMS:
            name = pc.replace_substring(name, form, " ")
        name = pc.replace_substring_regex(name, _ENGLISH, "")
        name = pc.replace_substring_regex(name, _PUNCT, "")
        return _blank_to_null(name)
    raise ValueError(kind)


def _without_free_mail(domains: pa.Array) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    free = pc.is_in(domains, value_set=pa.array(sorted(FREE_MAIL_DOMAINS)))
    return _blank_to_null(pc.if_else(free, pa.scalar(None, pa.string()), domains))


# The same rules for one value, in plain Python (no Arrow array per value): the
# patterns are those above, whose classes (``\s`` and ``\d`` as ASCII) mean
# the same to Python's ``re`` with ASCII matching as to Arrow's RE2.
_PY_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", re.ASCII)
_PY_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.ASCII)
_PY_USER = re.compile(r"^[^@/]*@", re.ASCII)
_PY_TAIL = re.compile(r"[/?#:].*$", re.ASCII)
_PY_HOST = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$", re.ASCII)
_PY_ENGLISH = re.compile(_ENGLISH, re.ASCII)
_PY_PUNCT = re.compile(_PUNCT, re.ASCII)
_PY_NON_DIGIT = re.compile(r"\D", re.ASCII)


def _py_text(value: object) -> str:
    import unicodedata

    return unicodedata.normalize("NFKC", str(value)).strip().lower()


def _py_host(text: str) -> str | None:
    host = _PY_SCHEME.sub("", text, count=1)
    host = _PY_USER.sub("", host, count=1)
    host = _PY_TAIL.sub("", host, count=1)
    host = host.removeprefix("www.").removesuffix(".")
    return host if _PY_HOST.match(host) and host not in FREE_MAIL_DOMAINS else None


def normalised_value(kind: str, value: object) -> str | None:
    """One value as a match key of ``kind`` (the kinds of
    :func:`normalised_column`, with the same result), in plain Python."""
    if value is None:
        return None
    text = _py_text(value)
    if kind == "code":
        return text or None
    if kind == "email":
        return text if _PY_EMAIL.match(text) else None
    if kind == "domain":
        mail = normalised_value("email", value)
        if mail is None:
            return None
        domain = mail.rsplit("@", 1)[1]
        return domain if domain and domain not in FREE_MAIL_DOMAINS else None
    if kind == "website":
        return _py_host(text)
    if kind == "corporate_number":
        digits = _PY_NON_DIGIT.sub("", text)
        return digits if corporate_number_valid(digits) else None
    if kind == "name":
        name = text
        for form in LEGAL_FORMS:
            name = name.replace(form, " ")
        name = _PY_PUNCT.sub("", _PY_ENGLISH.sub("", name, count=1))
        return name or None
    raise ValueError(kind)


def _one(kind: str, value: str | None) -> str | None:
    return normalised_value(kind, value)


def email(value: str | None) -> str | None:
    """The e-mail match key of ``value``."""
    return _one("email", value)


def email_domain(value: str | None) -> str | None:
    """The company domain of an e-mail address (``None`` for free mail)."""
    return _one("domain", value)


def web_domain(value: str | None) -> str | None:
    """The domain of a web site address (``https://www.example.co.jp/`` ->
    ``example.co.jp``)."""
    return _one("website", value)


def corporate_number(value: str | None) -> str | None:
    """The 13-digit 法人番号 in ``value``, or ``None`` when it is not one."""
    return _one("corporate_number", value)


def company_name(value: str | None) -> str | None:
    """The company-name match key of ``value``."""
    return _one("name", value)


_DIGITS13 = re.compile(r"^\d{13}$")


def corporate_number_valid(digits: str) -> bool:
    """Whether ``digits`` is a 法人番号: 13 digits, the first being the check
    digit of the other twelve (9 minus the sum of the digits weighted 1 and 2
    alternately from the right, modulo 9)."""
    if not _DIGITS13.match(digits):
        return False
    base = digits[1:]
    total = sum(int(d) * (1 if i % 2 == 0 else 2) for i, d in enumerate(reversed(base)))
    return int(digits[0]) == 9 - total % 9
