"""A generated deal-management app (案件管理) in a fake kintone domain, whose true
deals are known, and the mapping a user would write for it."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fakes.kintone import Domain

__all__ = ["APP_ID", "DEAL_FIELDS", "MAPPING", "DealsApp"]

APP_ID = 12
DEAL_FIELDS = {
    "会社名": "SINGLE_LINE_TEXT",
    "案件名": "SINGLE_LINE_TEXT",
    "金額": "NUMBER",
    "商談ステージ": "DROP_DOWN",
    "受注予定日": "DATE",
    "担当者": "USER_SELECT",
    "製品": "CHECK_BOX",
    "明細": "SUBTABLE",
}
STAGES = ["ヒアリング", "提案", "見積提示", "受注", "失注"]
OWNERS = ["tanaka", "suzuki", "takahashi", "ito"]
MAPPING = """\
mapping: 1
name: kintone-deals-app
values:
  deal_status: {受注: won, 失注: lost}
tables:
  deals:
    deal_id: {column: $id}
    created_at: {column: 作成日時}
    stage: {column: 商談ステージ}
    status: {column: 商談ステージ, map: deal_status, else: open}
    close_date: {column: 受注予定日, optional: true}
    amount: {column: 金額, optional: true}
    owner_id: {column: 担当者, optional: true}
    account_id: {column: 会社名, optional: true}
    product: {column: 製品, optional: true}
"""


class DealsApp:
    """``deals`` deals created between April 2025 and March 2026 in app 12."""

    def __init__(self, domain: Domain, *, deals: int, seed: int = 5) -> None:
        self.domain = domain
        self.rng = random.Random(seed)
        domain.add_app(APP_ID, DEAL_FIELDS)
        self.token = domain.new_token(APP_ID)
        start = datetime(2025, 4, 1, tzinfo=UTC)
        for _ in range(deals):
            created = start + timedelta(minutes=self.rng.randrange(0, 365 * 24 * 60))
            domain.add_record(APP_ID, self._values(created.date()), at=created)

    def _values(self, around: date) -> dict[str, Any]:
        stage = self.rng.choice(STAGES)
        owner = self.rng.choice(OWNERS)
        return {
            "会社名": f"株式会社{self.rng.choice(['青空', '山田商事', 'ミライ'])}",
            "案件名": "導入案件",
            "金額": str(self.rng.randrange(10, 500) * 10000),
            "商談ステージ": stage,
            "受注予定日": (around + timedelta(days=self.rng.randrange(10, 90))).isoformat(),
            "担当者": [{"code": owner, "name": owner.title()}],
            "製品": [self.rng.choice(["Cloud", "Support"])],
            "明細": [{"id": "1", "value": {"品目": {"type": "SINGLE_LINE_TEXT", "value": "x"}}}],
        }

    @property
    def records(self) -> dict[int, dict[str, Any]]:
        return self.domain.apps[APP_ID].records

    def advance(self, n: int) -> list[int]:
        """Move ``n`` open deals to their next stage (now)."""
        with self.domain.lock:
            open_ = [i for i, r in self.records.items() if r["商談ステージ"]["value"] in STAGES[:3]]
            chosen = self.rng.sample(open_, min(n, len(open_)))
            for rid in chosen:
                stage = self.records[rid]["商談ステージ"]["value"]
                nxt = STAGES[STAGES.index(stage) + 1]
                self.domain.update_record(APP_ID, rid, {"商談ステージ": nxt, "金額": "990000"})
            return chosen

    def create(self, n: int) -> list[int]:
        with self.domain.lock:
            today = self.domain.now().date()
            return [self.domain.add_record(APP_ID, self._values(today)) for _ in range(n)]

    def delete(self, n: int) -> list[int]:
        with self.domain.lock:
            chosen = self.rng.sample(sorted(self.records), min(n, len(self.records)))
            for rid in chosen:
                self.domain.delete_record(APP_ID, rid)
            return chosen

    def truth(self) -> dict[str, tuple[Any, ...]]:
        """deal_id -> (created_at as ISO UTC, stage, status, close_date, amount, owner,
        account, product), as kpitree must hold them."""
        out = {}
        for rid, r in self.records.items():
            stage = r["商談ステージ"]["value"]
            out[str(rid)] = (
                r["作成日時"]["value"],
                stage,
                {"受注": "won", "失注": "lost"}.get(stage, "open"),
                r["受注予定日"]["value"],
                float(r["金額"]["value"]),
                ",".join(u["code"] for u in r["担当者"]["value"]),
                r["会社名"]["value"],
                ", ".join(r["製品"]["value"]),
            )
        return out

    def created_per_month(self, tz: str = "Asia/Tokyo") -> dict[str, int]:
        from zoneinfo import ZoneInfo

        counts: dict[str, int] = {}
        for r in self.records.values():
            at = datetime.fromisoformat(r["作成日時"]["value"].replace("Z", "+00:00"))
            month = at.astimezone(ZoneInfo(tz)).strftime("%Y-%m")
            counts[month] = counts.get(month, 0) + 1
        return counts
