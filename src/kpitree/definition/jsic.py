"""The Japan Standard Industrial Classification (日本標準産業分類): its code
shapes and the divisions (大分類, a letter) that its major groups (中分類, two
digits) belong to.

An industry criterion of ``abm:`` may name codes at any level: a division
(``E`` 製造業), a major group (``39`` 情報サービス業), a group (``391``) or an
industry (``3911``). An account's value may be written ``3911``, ``E3911`` or
``E``; the longest code of the criterion that the value falls under decides.
"""

from __future__ import annotations

import re

__all__ = ["DIVISIONS", "division_of", "is_code", "normalise", "specificity"]

# Division letter -> its major groups (first, last), as the classification
# numbers them (13th and 14th revisions).
DIVISIONS: dict[str, tuple[int, int]] = {
    "A": (1, 2),  # 農業，林業
    "B": (3, 4),  # 漁業
    "C": (5, 5),  # 鉱業，採石業，砂利採取業
    "D": (6, 8),  # 建設業
    "E": (9, 32),  # 製造業
    "F": (33, 36),  # 電気・ガス・熱供給・水道業
    "G": (37, 41),  # 情報通信業
    "H": (42, 49),  # 運輸業，郵便業
    "I": (50, 61),  # 卸売業，小売業
    "J": (62, 67),  # 金融業，保険業
    "K": (68, 70),  # 不動産業，物品賃貸業
    "L": (71, 74),  # 学術研究，専門・技術サービス業
    "M": (75, 77),  # 宿泊業，飲食サービス業
    "N": (78, 80),  # 生活関連サービス業，娯楽業
    "O": (81, 82),  # 教育，学習支援業
    "P": (83, 85),  # 医療，福祉
    "Q": (86, 87),  # 複合サービス事業
    "R": (88, 96),  # サービス業（他に分類されないもの）
    "S": (97, 98),  # 公務（他に分類されるものを除く）
    "T": (99, 99),  # 分類不能の産業
}

_CODE = re.compile(r"^(?:[A-T]|[0-9]{2,4})$")
_VALUE = re.compile(r"^([A-T])?([0-9]{2,4})?$")


def is_code(code: str) -> bool:
    """Whether ``code`` is a division letter or a 2- to 4-digit code whose major
    group exists.

    >>> is_code("E"), is_code("391"), is_code("00"), is_code("U")
    (True, True, False, False)
    """
    if not _CODE.match(code):
        return False
    return code.isalpha() or division_of(code) is not None


def division_of(digits: str) -> str | None:
    """The division letter of a numeric code (from its first two digits)."""
    if len(digits) < 2 or not digits[:2].isdigit():
        return None
    group = int(digits[:2])
    for letter, (first, last) in DIVISIONS.items():
        if first <= group <= last:
            return letter
    return None


def normalise(value: str) -> tuple[str | None, str]:
    """An account's industry value as (division letter, digits): ``"E2911"``,
    ``"3911"`` and ``" e "`` are read; anything else gives ``(None, "")``.

    >>> normalise("E2911"), normalise("3911"), normalise("e")
    (('E', '2911'), ('G', '3911'), ('E', ''))
    """
    import unicodedata

    text = unicodedata.normalize("NFKC", value).strip().upper()
    m = _VALUE.match(text)
    if not m or not text:
        return None, ""
    letter, digits = m.group(1), m.group(2) or ""
    return (letter or division_of(digits)), digits


def specificity(code: str) -> int:
    """How narrow a code is: a division 1, else its number of digits."""
    return 1 if code.isalpha() else len(code)
