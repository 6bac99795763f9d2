"""A tiny company whose organisation (``kpitree.yaml``) names its reps
differently from its deal export: spaces, width, honorifics, a family name
alone, a typo and an owner nobody knows."""

from __future__ import annotations

PROJECT = """\
kpitree: 1
name: People
fiscal_year: 2026
nodes:
  opportunities: {kind: kgi, unit: count, metric: opportunities, target: {monthly: 10}}
organisation:
  field_sales:
    teams:
      east: {share: 0.5, reps: {"佐々木": 0.5, "山田　太郎": 0.5}}
      west: {share: 0.5, reps: {"ＴＡＮＡＫＡ Ｈａｎａｋｏ": 0.5, "鈴木花子様": 0.5}}
sla:
  deal_touch: {entity: deals, from: created_at, to: first_activity, within_hours: 24}
"""

MAPPING = """\
mapping: 1
tables:
  deals:
    deal_id: 商談ID
    created_at: 作成日
    stage: フェーズ
    status: {column: フェーズ, map: {受注: won, 失注: lost}, else: open}
    owner_id: 担当者
  reps:
    rep_id: 担当者
    name: 担当者
"""

# export owner -> (team, the organisation's rep) it must land in; None: unmatched
EXPECTED = {
    "佐々木 健": ("east", "佐々木"),
    "山田太郎": ("east", "山田　太郎"),
    "tanaka hanako": ("west", "ＴＡＮＡＫＡ Ｈａｎａｋｏ"),
    "鈴木 花子 さん": ("west", "鈴木花子様"),
    "不明 次郎": None,
    "山田 太朗": None,  # a typo: reported with the closest name, never guessed
}
OWNERS = ["佐々木 健"] * 5 + ["山田太郎"] * 4 + ["tanaka hanako"] * 3 + ["鈴木 花子 さん"] * 2
OWNERS += ["不明 次郎", "山田 太朗", "山田 太朗"]
