"""The data of a fake Salesforce org: a generated company whose true funnel is known.

Records are kept as Salesforce stores them (standard objects, standard field API
names, Python values); :class:`Org` changes them the way users and Salesforce do
(status changes with LeadHistory rows, lead conversion creating an account and an
opportunity, stage moves with OpportunityHistory rows, deletions to the recycle
bin), stamping ``SystemModstamp`` with the org's clock. Next to the records it keeps
the funnel as it truly happened, in canonical terms (:meth:`Org.truth`), written at
the moment each thing happens and never derived from the records, so a test can
compare what a sync stored with what is true.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

UTC = dt.UTC

LEAD_STATUSES = (
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
)
# What each status means in the funnel, as the company defines it.
STATUS_STAGE = {
    "Open - Not Contacted": "lead",
    "Working - Contacted": "mql",
    "Closed - Converted": "opportunity",
    "Closed - Not Converted": "disqualified",
}
OPEN_STAGES = ("Prospecting", "Qualification", "Proposal/Price Quote", "Negotiation/Review")
CLOSED = {"Closed Won": "won", "Closed Lost": "lost"}
SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")

# Fields per object: name -> Salesforce field type. IsDeleted everywhere it exists.
SCHEMA: dict[str, dict[str, str]] = {
    "UserRole": {"Id": "id", "Name": "string", "ParentRoleId": "reference",
                 "SystemModstamp": "datetime"},
    "User": {"Id": "id", "Name": "string", "Email": "email", "UserRoleId": "reference",
             "IsActive": "boolean", "CreatedDate": "datetime", "SystemModstamp": "datetime"},
    "Account": {"Id": "id", "Name": "string", "Industry": "picklist",
                "NumberOfEmployees": "int", "AnnualRevenue": "currency",
                "OwnerId": "reference", "CreatedDate": "datetime",
                "SystemModstamp": "datetime", "IsDeleted": "boolean"},
    "Lead": {"Id": "id", "Company": "string", "Email": "email", "Status": "picklist",
             "LeadSource": "picklist",
             "Industry": "picklist", "OwnerId": "reference", "CreatedDate": "datetime",
             "IsConverted": "boolean", "ConvertedDate": "date",
             "ConvertedAccountId": "reference", "ConvertedOpportunityId": "reference",
             "SystemModstamp": "datetime", "IsDeleted": "boolean"},
    "LeadHistory": {"Id": "id", "LeadId": "reference", "Field": "picklist",
                    "OldValue": "anyType", "NewValue": "anyType", "DataType": "picklist",
                    "CreatedDate": "datetime", "CreatedById": "reference",
                    "IsDeleted": "boolean"},
    "Opportunity": {"Id": "id", "Name": "string", "AccountId": "reference",
                    "StageName": "picklist", "Amount": "currency", "CloseDate": "date",
                    "IsClosed": "boolean", "IsWon": "boolean", "LeadSource": "picklist",
                    "Type": "picklist", "ForecastCategoryName": "picklist",
                    "OwnerId": "reference", "CreatedDate": "datetime",
                    "SystemModstamp": "datetime", "IsDeleted": "boolean"},
    "OpportunityHistory": {"Id": "id", "OpportunityId": "reference", "StageName": "picklist",
                           "Amount": "currency", "CloseDate": "date",
                           "ForecastCategory": "picklist", "CreatedDate": "datetime",
                           "CreatedById": "reference", "SystemModstamp": "datetime",
                           "IsDeleted": "boolean"},
}  # fmt: skip
_PREFIX = {"UserRole": "00E", "User": "005", "Account": "001", "Lead": "00Q",
           "LeadHistory": "017", "Opportunity": "006", "OpportunityHistory": "008"}  # fmt: skip


@dataclass
class Truth:
    """The funnel as it happened, in canonical terms."""

    leads: dict[str, dict[str, Any]] = field(default_factory=dict)
    lead_stages: dict[str, list[tuple[str, dt.datetime]]] = field(default_factory=dict)
    deals: dict[str, dict[str, Any]] = field(default_factory=dict)
    deal_stages: dict[str, list[tuple[str, dt.datetime]]] = field(default_factory=dict)
    reps: dict[str, dict[str, Any]] = field(default_factory=dict)


class Org:
    """A company's Salesforce data, changed through the methods a user's actions map to."""

    def __init__(
        self,
        *,
        seed: int = 7,
        leads: int = 240,
        start: dt.datetime | None = None,
        days: int = 180,
        field_history: bool = True,
    ) -> None:
        self.rng = random.Random(seed)
        self.records: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in SCHEMA}
        self.field_history = field_history
        self.truth_log = Truth()
        self._counter = 0
        # The company's history ends about now: a sync compares its cursor with
        # the real clock (the recycle bin keeps deletions for 15 days).
        start = start or (dt.datetime.now(UTC) - dt.timedelta(days=days, hours=1)).replace(
            microsecond=0
        )
        self.now = start
        self._build_people()
        end = start + dt.timedelta(days=days)
        for _ in range(leads):
            self.now = start + dt.timedelta(
                seconds=self.rng.randrange(int((end - start).total_seconds()))
            )
            self._grow_one_lead(end)
        self.now = end

    # -- ids, clock ----------------------------------------------------------------
    def new_id(self, sobject: str) -> str:
        self._counter += 1
        return f"{_PREFIX[sobject]}5g{self._counter:010d}AAA"

    def tick(self, seconds: int = 1) -> dt.datetime:
        self.now += dt.timedelta(seconds=seconds)
        return self.now

    def _insert(self, sobject: str, values: dict[str, Any]) -> dict[str, Any]:
        record = dict.fromkeys(SCHEMA[sobject])
        record.update(values)
        record["Id"] = record["Id"] or self.new_id(sobject)
        if "IsDeleted" in record:
            record["IsDeleted"] = False
        if "SystemModstamp" in record:
            record["SystemModstamp"] = self.now
        if "CreatedDate" in record and record["CreatedDate"] is None:
            record["CreatedDate"] = self.now
        self.records[sobject][record["Id"]] = record
        return record

    def _update(self, sobject: str, record_id: str, **values: Any) -> dict[str, Any]:
        record = self.records[sobject][record_id]
        record.update(values)
        record["SystemModstamp"] = self.now
        return record

    # -- people --------------------------------------------------------------------
    def _build_people(self) -> None:
        head = self._insert("UserRole", {"Name": "営業本部"})
        teams = [
            self._insert("UserRole", {"Name": name, "ParentRoleId": head["Id"]})
            for name in (
                "インサイドセールス",
                "フィールドセールス東日本",
                "フィールドセールス西日本",
            )
        ]
        names = ["佐藤 健", "鈴木 花子", "高橋 誠", "田中 美咲", "伊藤 翔", "渡辺 愛", "山本 大輔"]
        self.users: list[str] = []
        for k, name in enumerate(names):
            role = teams[k % len(teams)]
            user = self._insert(
                "User",
                {"Name": name, "Email": f"rep{k + 1}@example.co.jp",
                 "UserRoleId": role["Id"], "IsActive": True},
            )  # fmt: skip
            self.users.append(user["Id"])
            self.truth_log.reps[user["Id"]] = {"name": name, "email": user["Email"],
                                               "team": role["Name"]}  # fmt: skip

    # -- the funnel ----------------------------------------------------------------
    def _grow_one_lead(self, end: dt.datetime) -> None:
        lead = self.create_lead()
        roll = self.rng.random()
        if roll < 0.25:
            return
        self._advance(end, hours=(2, 200))
        if self.now >= end:
            return
        self.set_lead_status(lead["Id"], "Working - Contacted")
        if roll < 0.45:
            return
        self._advance(end, hours=(24, 500))
        if self.now >= end:
            return
        if roll < 0.6:
            self.set_lead_status(lead["Id"], "Closed - Not Converted")
            return
        opp = self.convert_lead(lead["Id"])
        for stage in OPEN_STAGES[1 : 1 + self.rng.randrange(len(OPEN_STAGES))]:
            self._advance(end, hours=(24, 400))
            if self.now >= end:
                return
            self.move_opportunity(opp["Id"], stage)
        self._advance(end, hours=(24, 600))
        if self.now < end and self.rng.random() < 0.7:
            self.move_opportunity(
                opp["Id"], "Closed Won" if self.rng.random() < 0.4 else "Closed Lost"
            )

    def _advance(self, end: dt.datetime, hours: tuple[int, int]) -> None:
        self.now += dt.timedelta(seconds=self.rng.randrange(hours[0] * 3600, hours[1] * 3600))

    def create_lead(self, *, source: str | None = None) -> dict[str, Any]:
        """A new lead, as a web form or a rep creates it."""
        lead = self._insert(
            "Lead",
            {"Company": f"株式会社サンプル{self._counter:04d}", "Status": LEAD_STATUSES[0],
             "LeadSource": source or self.rng.choice(SOURCES), "Industry": "Technology",
             "OwnerId": self.rng.choice(self.users), "IsConverted": False},
        )  # fmt: skip
        self._history(lead["Id"], "created", None, None)
        self.truth_log.leads[lead["Id"]] = {"created_at": self.now, "owner_id": lead["OwnerId"],
                                            "channel": lead["LeadSource"]}  # fmt: skip
        self.truth_log.lead_stages[lead["Id"]] = [("lead", self.now)]
        return lead

    def _history(self, lead_id: str, name: str, old: Any, new: Any) -> None:
        if self.field_history:
            self._insert(
                "LeadHistory",
                {"LeadId": lead_id, "Field": name, "OldValue": old, "NewValue": new,
                 "DataType": "Text" if name == "Status" else None,
                 "CreatedById": self.users[0]},
            )  # fmt: skip

    def set_lead_status(self, lead_id: str, status: str) -> None:
        old = self.records["Lead"][lead_id]["Status"]
        if status == old:
            return
        self._update("Lead", lead_id, Status=status)
        self._history(lead_id, "Status", old, status)
        self._entered(self.truth_log.lead_stages[lead_id], STATUS_STAGE[status])

    def _entered(self, entries: list[tuple[str, dt.datetime]], stage: str) -> None:
        # The funnel counts when a record first entered a stage.
        if stage not in {s for s, _ in entries}:
            entries.append((stage, self.now))

    def create_opportunity(self, *, company: str | None = None, owner: str | None = None,
                           source: str | None = None) -> dict[str, Any]:  # fmt: skip
        """A new account and opportunity, as a rep creates them (no lead)."""
        account = self._insert(
            "Account",
            {"Name": company or f"株式会社サンプル{self._counter:04d}", "Industry": "Technology",
             "NumberOfEmployees": self.rng.choice((30, 120, 800, 4000)),
             "AnnualRevenue": (None, 300000000.0, 12000000000.0)[self._counter % 3],
             "OwnerId": owner or self.rng.choice(self.users)},
        )  # fmt: skip
        opp = self._insert(
            "Opportunity",
            {"Name": f"{account['Name']} 新規", "AccountId": account["Id"],
             "StageName": OPEN_STAGES[0],
             "Amount": float(self.rng.randrange(10, 400) * 10_000),
             "CloseDate": (self.now + dt.timedelta(days=60)).date(),
             "IsClosed": False, "IsWon": False, "LeadSource": source,
             "Type": "New Business", "ForecastCategoryName": "Pipeline",
             "OwnerId": account["OwnerId"]},
        )  # fmt: skip
        self._opp_history(opp)
        self.truth_log.deals[opp["Id"]] = {"created_at": self.now, "lead_id": None,
                                           "account_id": account["Id"]}  # fmt: skip
        self.truth_log.deal_stages[opp["Id"]] = [(OPEN_STAGES[0], self.now)]
        return opp

    def convert_lead(self, lead_id: str, *, into: str | None = None) -> dict[str, Any]:
        """Convert a lead: into a new account and opportunity, or ``into`` an
        existing opportunity (which itself does not change)."""
        lead = self.records["Lead"][lead_id]
        if into is None:
            opp = self.create_opportunity(
                company=lead["Company"], owner=lead["OwnerId"], source=lead["LeadSource"]
            )
        else:
            opp = self.records["Opportunity"][into]
        old = lead["Status"]
        self._update(
            "Lead",
            lead_id,
            Status="Closed - Converted",
            IsConverted=True,
            ConvertedDate=self.now.date(),
            ConvertedAccountId=opp["AccountId"],
            ConvertedOpportunityId=opp["Id"],
        )
        self._history(lead_id, "Status", old, "Closed - Converted")
        self._history(lead_id, "leadConverted", None, None)
        self._entered(self.truth_log.lead_stages[lead_id], "opportunity")
        deal = self.truth_log.deals[opp["Id"]]
        deal["lead_id"] = deal["lead_id"] or lead_id
        return opp

    def _opp_history(self, opp: dict[str, Any]) -> None:
        self._insert(
            "OpportunityHistory",
            {"OpportunityId": opp["Id"], "StageName": opp["StageName"], "Amount": opp["Amount"],
             "CloseDate": opp["CloseDate"], "ForecastCategory": opp["ForecastCategoryName"],
             "CreatedById": self.users[0]},
        )  # fmt: skip

    def move_opportunity(self, opp_id: str, stage: str) -> None:
        if self.records["Opportunity"][opp_id]["StageName"] == stage:
            return
        closed = stage in CLOSED
        values: dict[str, Any] = {"StageName": stage, "IsClosed": closed,
                                  "IsWon": stage == "Closed Won"}  # fmt: skip
        if closed:
            values["CloseDate"] = self.now.date()
            values["ForecastCategoryName"] = "Closed" if stage == "Closed Won" else "Omitted"
        opp = self._update("Opportunity", opp_id, **values)
        self._opp_history(opp)
        self._entered(self.truth_log.deal_stages[opp_id], CLOSED.get(stage, stage))

    def change_amount(self, opp_id: str, amount: float) -> None:
        """An amount change: an OpportunityHistory row, but no stage entry."""
        opp = self._update("Opportunity", opp_id, Amount=amount)
        self._opp_history(opp)

    def delete(self, sobject: str, record_id: str) -> None:
        """Move a record to the recycle bin (with its history, as Salesforce does)."""
        self._update(sobject, record_id, IsDeleted=True)
        children = {"Lead": ("LeadHistory", "LeadId"),
                    "Opportunity": ("OpportunityHistory", "OpportunityId")}  # fmt: skip
        child, key = children.get(sobject, ("", ""))
        for row in self.records.get(child, {}).values():
            if row[key] == record_id:
                row["IsDeleted"] = True
                if "SystemModstamp" in row:
                    row["SystemModstamp"] = self.now
        if sobject == "Lead":
            self.truth_log.leads.pop(record_id, None)
            self.truth_log.lead_stages.pop(record_id, None)
        elif sobject == "Opportunity":
            self.truth_log.deals.pop(record_id, None)
            self.truth_log.deal_stages.pop(record_id, None)

    def live(self, sobject: str) -> list[dict[str, Any]]:
        return [r for r in self.records[sobject].values() if not r.get("IsDeleted")]

    # -- what is true ----------------------------------------------------------------
    def truth(self) -> dict[str, Any]:
        """Expected canonical rows: leads, deals (with status, amount, originating lead,
        owner) and every stage entry, for records not deleted."""
        leads = {}
        for lead_id, facts in self.truth_log.leads.items():
            status = self.records["Lead"][lead_id]["Status"]
            leads[lead_id] = {**facts, "current_stage": STATUS_STAGE[status]}
        deals = {}
        for deal_id, facts in self.truth_log.deals.items():
            opp = self.records["Opportunity"][deal_id]
            status = CLOSED.get(opp["StageName"], "open")
            deals[deal_id] = {**facts, "status": status, "amount": opp["Amount"],
                              "owner_id": opp["OwnerId"], "stage": opp["StageName"],
                              "close_date": opp["CloseDate"]}  # fmt: skip
        return {
            "leads": leads,
            "deals": deals,
            "lead_stage_history": {
                (lead_id, stage, at)
                for lead_id, entries in self.truth_log.lead_stages.items()
                for stage, at in entries
            },
            "deal_stage_history": {
                (deal_id, stage, at)
                for deal_id, entries in self.truth_log.deal_stages.items()
                for stage, at in entries
            },
            "reps": dict(self.truth_log.reps),
        }

    def funnel(self) -> dict[str, int]:
        """The headline numbers: leads, MQLs, opportunities, won and lost deals."""
        truth = self.truth()
        reached = {s for _, s, _ in truth["lead_stage_history"]}
        counts = {
            stage: len({lead for lead, s, _ in truth["lead_stage_history"] if s == stage})
            for stage in reached
        }
        counts["deals"] = len(truth["deals"])
        counts["won"] = sum(d["status"] == "won" for d in truth["deals"].values())
        counts["lost"] = sum(d["status"] == "lost" for d in truth["deals"].values())
        return counts
