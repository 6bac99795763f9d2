"""A generated company in a fake HubSpot portal, whose true funnel is known.

Owners (one archived), companies, contacts moving through the lifecycle, and a
deal for every contact that became an opportunity, in one of two pipelines:
HubSpot's default one (English labels, stage ids such as ``closedwon``) and a
Japanese one with numeric stage ids (``初回商談``, ``提案``, ``受注``, ``失注``).
Stage entry times are HubSpot's ``hs_v2_date_entered_<stage>`` properties.
``truth()`` is what kpitree must hold after syncing, computed from the records
directly; the methods below change the portal between syncs.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from fakes.hubspot import SCOPES, Portal, Record, iso, ms_of

LIFECYCLE = ["subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead",
             "opportunity", "customer"]  # fmt: skip
CANONICAL = {"subscriber": "subscriber", "lead": "lead",
             "marketingqualifiedlead": "mql",
             "salesqualifiedlead": "sql", "opportunity": "opportunity",
             "customer": "won"}  # fmt: skip
SOURCES = {"ORGANIC_SEARCH": "organic_search", "PAID_SEARCH": "paid_search",
           "EMAIL_MARKETING": "email", "REFERRALS": "referral", "DIRECT_TRAFFIC": "direct",
           "OFFLINE": "offline"}  # fmt: skip
PIPELINES = [
    {"id": "default", "label": "Sales Pipeline", "stages": [
        ("appointmentscheduled", "Appointment Scheduled", False, "0.2"),
        ("qualifiedtobuy", "Qualified To Buy", False, "0.4"),
        ("contractsent", "Contract Sent", False, "0.9"),
        ("closedwon", "Closed Won", True, "1.0"),
        ("closedlost", "Closed Lost", True, "0.0")]},
    {"id": "12345678", "label": "新規営業パイプライン", "stages": [
        ("1001", "初回商談", False, "0.2"),
        ("1002", "提案", False, "0.6"),
        ("1005", "Contract Sent", False, "0.8"),
        ("1003", "受注", True, "1.0"),
        ("1004", "失注", True, "0.0")]},
]  # fmt: skip
_DAY = 86400_000


def _pipelines_json() -> list[dict[str, Any]]:
    return [
        {"id": p["id"], "label": p["label"], "displayOrder": n, "archived": False,
         "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-01T00:00:00.000Z",
         "stages": [{"id": sid, "label": label, "displayOrder": i, "archived": False,
                     "metadata": {"isClosed": str(closed).lower(), "probability": prob},
                     "createdAt": "2024-01-01T00:00:00.000Z",
                     "updatedAt": "2024-01-01T00:00:00.000Z"}
                    for i, (sid, label, closed, prob) in enumerate(p["stages"])]}
        for n, p in enumerate(PIPELINES)
    ]  # fmt: skip


def _stage_ids() -> list[str]:
    return [s[0] for p in PIPELINES for s in p["stages"]]


class Company:
    """The company; ``contacts`` contacts, a fifth as many companies."""

    def __init__(
        self, portal: Portal, *, contacts: int, seed: int = 7, deals: int | None = None
    ) -> None:
        self.portal = portal
        self._deals_left = deals
        self.rng = random.Random(seed)
        self._next = 1001
        portal.pipelines = _pipelines_json()
        portal.properties = {
            "contacts": ["hs_object_id", "createdate", "lastmodifieddate", "lifecyclestage",
                         "hs_analytics_source", "hubspot_owner_id", "industry", "country",
                         "associatedcompanyid", "email", "firstname", "lastname",
                         *(f"hs_v2_date_entered_{s}" for s in LIFECYCLE)],
            "companies": ["hs_object_id", "createdate", "hs_lastmodifieddate", "name",
                          "domain", "industry", "numberofemployees", "annualrevenue",
                          "country", "state", "hubspot_owner_id"],
            "deals": ["hs_object_id", "createdate", "hs_lastmodifieddate", "dealname", "amount",
                      "closedate", "dealstage", "pipeline", "hubspot_owner_id",
                      "deal_currency_code", *(f"hs_v2_date_entered_{s}" for s in _stage_ids())],
        }  # fmt: skip
        names = [("佐藤", "健"), ("鈴木", "花子"), ("高橋", "翔"), ("田中", "美咲"),
                 ("Smith", "John"), ("伊藤", "大輔"), ("渡辺", "直子")]  # fmt: skip
        portal.owners = [
            {"id": str(70000 + i), "email": f"rep{i}@example.co.jp", "type": "PERSON",
             "firstName": given, "lastName": family, "userId": 900 + i,
             "userIdIncludingInactive": 900 + i, "createdAt": "2024-01-01T00:00:00.000Z",
             "updatedAt": "2024-01-01T00:00:00.000Z", "archived": i == 6, "teams": []}
            for i, (family, given) in enumerate(names)
        ]  # fmt: skip
        self.owner_ids = [o["id"] for o in portal.owners]
        start = int(datetime(2025, 4, 1, tzinfo=UTC).timestamp() * 1000)
        for _ in range(max(contacts // 5, 1)):
            self._add_company(start + self.rng.randrange(0, 200 * _DAY))
        for _ in range(contacts):
            self._add_contact(start + self.rng.randrange(0, 540 * _DAY), modified=None)

    # -- records ------------------------------------------------------------------

    def _id(self) -> str:
        self._next += 1
        return str(self._next)

    def _add_company(self, created: int) -> Record:
        rid = self._id()
        props: dict[str, str | None] = dict.fromkeys(self.portal.properties["companies"])
        props.update(
            hs_object_id=rid, createdate=iso(created), hs_lastmodifieddate=iso(created + 1000),
            name=f"株式会社サンプル{rid}", domain=f"c{rid}.example.co.jp",
            industry=self.rng.choice(["SaaS", "製造業", None]),
            numberofemployees=str(self.rng.choice([12, 250, 3000])),
            annualrevenue=self.rng.choice(["120000000", "5500000000.5", None]),
            country="Japan", state=self.rng.choice(["東京都", "大阪府", None]),
            hubspot_owner_id=self.rng.choice(self.owner_ids),
        )  # fmt: skip
        record = Record(rid, props, created)
        self.portal.objects["companies"][rid] = record
        return record

    def _add_contact(self, created: int, modified: int | None) -> Record:
        rid = self._id()
        reach = self.rng.choices(range(1, 6), weights=[40, 25, 15, 12, 8])[0]
        props: dict[str, str | None] = dict.fromkeys(self.portal.properties["contacts"])
        at = last = created
        for i, stage in enumerate(LIFECYCLE[1 : reach + 1], start=1):
            if i > 1:
                at += self.rng.randrange(1, 40) * _DAY + self.rng.randrange(0, _DAY)
            props[f"hs_v2_date_entered_{stage}"] = iso(at)
            last = at
        company = self.rng.choice(list(self.portal.objects["companies"]))
        props.update(
            hs_object_id=rid, createdate=iso(created), lifecyclestage=LIFECYCLE[reach],
            hs_analytics_source=self.rng.choice(list(SOURCES)),
            hubspot_owner_id=self.rng.choice(self.owner_ids),
            industry=self.rng.choice(["SaaS", "製造業", None]),
            country=self.rng.choice(["Japan", "日本", None]), associatedcompanyid=company,
            email=f"person{rid}@example.co.jp", firstname="太郎", lastname=f"山田{rid}",
        )  # fmt: skip
        props["lastmodifieddate"] = iso(modified if modified is not None else last + 60_000)
        record = Record(rid, props, created)
        self.portal.objects["contacts"][rid] = record
        if reach >= 4 and (self._deals_left is None or self._deals_left > 0):
            if self._deals_left is not None:
                self._deals_left -= 1
            self._add_deal(record, ms_of(str(props["hs_v2_date_entered_opportunity"])), company)
        return record

    def _add_deal(self, contact: Record, created: int, company: str) -> Record:
        rid = self._id()
        pipeline = PIPELINES[0] if self.rng.random() < 0.7 else PIPELINES[1]
        stages = pipeline["stages"]
        props: dict[str, str | None] = dict.fromkeys(self.portal.properties["deals"])
        at = created
        opened = [s for s in stages if not s[2]]
        # The open stages it went through, in the pipeline's order (each entered
        # after the one before; HubSpot records when it entered each).
        current = opened[0][0]
        props[f"hs_v2_date_entered_{current}"] = iso(at)
        for stage in opened[1 : self.rng.randrange(1, len(opened) + 1)]:
            at += self.rng.randrange(1, 20) * _DAY + self.rng.randrange(0, _DAY)
            current = stage[0]
            props[f"hs_v2_date_entered_{current}"] = iso(at)
        outcome = self.rng.choice(["open", "won", "lost"])
        if outcome != "open":
            at += self.rng.randrange(5, 60) * _DAY
            current = next(s[0] for s in stages if s[2] and (s[3] == "1.0") == (outcome == "won"))
            props[f"hs_v2_date_entered_{current}"] = iso(at)
        props.update(
            hs_object_id=rid, createdate=iso(created), hs_lastmodifieddate=iso(at + 1000),
            dealname=f"商談 {rid}", amount=str(self.rng.choice([480000, 1200000, 3600000])),
            closedate=iso(at), dealstage=current, pipeline=pipeline["id"],
            hubspot_owner_id=self.rng.choice(self.owner_ids),
            deal_currency_code=self.rng.choice(["JPY", None]),
        )  # fmt: skip
        record = Record(rid, props, created)
        record.associations = {"companies": [company], "contacts": [contact.id]}
        self.portal.objects["deals"][rid] = record
        return record

    # -- changes between syncs ----------------------------------------------------

    def _live(self, obj: str) -> list[Record]:
        return [r for r in self.portal.objects[obj].values() if not r.archived]

    def live(self) -> list[Record]:
        return self._live("contacts")

    def _touch(self, record: Record, at: int, prop: str = "lastmodifieddate") -> None:
        record.properties[prop] = iso(at)

    def advance(self, n: int, *, at: int | None = None) -> list[str]:
        """Move ``n`` live contacts one lifecycle stage on (now)."""
        with self.portal.lock:
            self.portal.changed()
            movable = [r for r in self.live() if r.properties["lifecyclestage"] != "customer"]
            chosen = self.rng.sample(movable, min(n, len(movable)))
            for record in chosen:
                nxt = LIFECYCLE[LIFECYCLE.index(str(record.properties["lifecyclestage"])) + 1]
                now = at if at is not None else self.portal.now_ms()
                record.properties["lifecyclestage"] = nxt
                record.properties[f"hs_v2_date_entered_{nxt}"] = iso(now)
                self._touch(record, now)
            return [r.id for r in chosen]

    def close_deals(self, n: int) -> list[str]:
        """Close ``n`` open deals (won or lost, now)."""
        with self.portal.lock:
            self.portal.changed()
            open_ = [d for d in self._live("deals") if not self._closed(d)]
            chosen = self.rng.sample(open_, min(n, len(open_)))
            for deal in chosen:
                pipeline = next(p for p in PIPELINES if p["id"] == deal.properties["pipeline"])
                won = self.rng.random() < 0.5
                stage = next(s[0] for s in pipeline["stages"] if s[2] and (s[3] == "1.0") == won)
                now = self.portal.now_ms()
                deal.properties.update(dealstage=stage, closedate=iso(now))
                deal.properties[f"hs_v2_date_entered_{stage}"] = iso(now)
                self._touch(deal, now, "hs_lastmodifieddate")
            return [d.id for d in chosen]

    def advance_deals(self, n: int) -> list[str]:
        """Move ``n`` open deals to their pipeline's next open stage (now)."""
        with self.portal.lock:
            self.portal.changed()
            movable = [d for d in self._live("deals") if self._next_open(d) is not None]
            chosen = self.rng.sample(movable, min(n, len(movable)))
            for deal in chosen:
                stage = self._next_open(deal)
                now = self.portal.now_ms()
                deal.properties["dealstage"] = stage
                deal.properties[f"hs_v2_date_entered_{stage}"] = iso(now)
                self._touch(deal, now, "hs_lastmodifieddate")
            return [d.id for d in chosen]

    def _next_open(self, deal: Record) -> str | None:
        pipeline = next(p for p in PIPELINES if p["id"] == deal.properties["pipeline"])
        ids = [s[0] for s in pipeline["stages"] if not s[2]]
        current = deal.properties["dealstage"]
        if current not in ids or ids.index(current) + 1 == len(ids):
            return None
        return ids[ids.index(current) + 1]

    def _closed(self, deal: Record) -> bool:
        pipeline = next(p for p in PIPELINES if p["id"] == deal.properties["pipeline"])
        return any(s[0] == deal.properties["dealstage"] and s[2] for s in pipeline["stages"])

    def rename_owner(self, n: int) -> list[str]:
        with self.portal.lock:
            self.portal.changed()
            chosen = self.rng.sample(self.live(), min(n, len(self.live())))
            for record in chosen:
                record.properties["hubspot_owner_id"] = self.rng.choice(self.owner_ids)
                record.properties["country"] = "Singapore"
                self._touch(record, self.portal.now_ms())
            return [r.id for r in chosen]

    def create(self, n: int) -> list[str]:
        with self.portal.lock:
            self.portal.changed()
            return [
                self._add_contact(self.portal.now_ms(), self.portal.now_ms()).id for _ in range(n)
            ]

    def archive(self, n: int, obj: str = "contacts") -> list[str]:
        with self.portal.lock:
            self.portal.changed()
            live = self._live(obj)
            chosen = self.rng.sample(live, min(n, len(live)))
            for record in chosen:
                record.archived = True
                record.archived_ms = self.portal.now_ms()
            return [r.id for r in chosen]

    def purge(self, n: int) -> list[str]:
        """Delete ``n`` contacts for good (gone from listings and archive alike)."""
        with self.portal.lock:
            self.portal.changed()
            chosen = self.rng.sample(self.live(), min(n, len(self.live())))
            for record in chosen:
                del self.portal.objects["contacts"][record.id]
            return [r.id for r in chosen]

    # -- the truth ----------------------------------------------------------------

    def truth(self) -> tuple[dict[str, dict[str, Any]], set[tuple[str, str, str]]]:
        """Leads (id -> canonical values) and stage entries (id, stage, epoch ms)
        of every live contact."""
        leads: dict[str, dict[str, Any]] = {}
        history: set[tuple[str, str, str]] = set()
        for r in self.live():
            p = r.properties
            leads[r.id] = {
                "created_at": ms_of(str(p["createdate"])),
                "channel": SOURCES[str(p["hs_analytics_source"])],
                "owner_id": p["hubspot_owner_id"],
                "current_stage": CANONICAL[str(p["lifecyclestage"])],
                "industry": p["industry"],
                "region": p["country"],
            }
            for stage in LIFECYCLE:
                entered = p[f"hs_v2_date_entered_{stage}"]
                if entered is not None:
                    history.add((r.id, CANONICAL[stage], str(ms_of(entered))))
        return leads, history

    def deal_truth(self) -> tuple[dict[str, dict[str, Any]], set[tuple[str, str, str]]]:
        """Deals (id -> canonical values) and their stage entries."""
        deals: dict[str, dict[str, Any]] = {}
        history: set[tuple[str, str, str]] = set()
        for d in self._live("deals"):
            p = d.properties
            pipeline = next(x for x in PIPELINES if x["id"] == p["pipeline"])
            stage = next(s for s in pipeline["stages"] if s[0] == p["dealstage"])
            status = "open" if not stage[2] else ("won" if stage[3] == "1.0" else "lost")
            deals[d.id] = {
                "created_at": ms_of(str(p["createdate"])),
                "amount": float(str(p["amount"])),
                "currency": p["deal_currency_code"] or "JPY",
                "status": status,
                "stage": stage[1],
                "pipeline": pipeline["label"],
                "owner_id": p["hubspot_owner_id"],
                "account_id": d.associations["companies"][0],
                "lead_id": d.associations["contacts"][0],
            }
            history.add((d.id, "opportunity", str(ms_of(str(p["createdate"])))))
            for sid, label, closed, _ in pipeline["stages"]:
                entered = p[f"hs_v2_date_entered_{sid}"]
                if not closed and entered is not None:
                    history.add((d.id, label, str(ms_of(entered))))
            if status != "open":
                history.add((d.id, status, str(ms_of(str(p[f"hs_v2_date_entered_{stage[0]}"])))))
        return deals, history

    def reps(self) -> dict[str, tuple[str, str]]:
        return {
            o["id"]: (f"{o['lastName']} {o['firstName']}", o["email"]) for o in self.portal.owners
        }


__all__ = ["CANONICAL", "LIFECYCLE", "PIPELINES", "SCOPES", "SOURCES", "Company"]
