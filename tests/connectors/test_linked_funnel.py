"""A company that markets in HubSpot and sells in Salesforce, synced from both
fakes into one project: HubSpot contacts go as far as MQL/SQL there, the sales
team works the same people as Salesforce leads and converts them into
opportunities. The linked funnel (every MQL cohort's conversion to opportunity
within 90 days, HubSpot's and Salesforce's MQLs together) must equal the count
made here in plain Python from both fakes' records."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from fakes.hubspot import Portal
from fakes.hubspot import serve as serve_hubspot
from fakes.hubspot_company import Company
from fakes.salesforce import FakeSalesforce
from fakes.salesforce import serve as serve_salesforce
from fakes.salesforce_org import Org
from kpitree import Project
from kpitree.connectors.sync import sync_project

TOKYO = ZoneInfo("Asia/Tokyo")
WINDOW = 90
HS_TOKEN_ENV = "KPITREE_TEST_HUBSPOT_TOKEN"
SF_ID, SF_SECRET = "SF_CLIENT_ID", "SF_CLIENT_SECRET"


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _marketing_only(company: Company) -> None:
    """HubSpot keeps marketing's stages only: the opportunity and customer
    stages live in Salesforce."""
    for r in company.live():
        p = r.properties
        for stage in ("opportunity", "customer"):
            p[f"hs_v2_date_entered_{stage}"] = None
        if p["lifecyclestage"] in ("opportunity", "customer"):
            p["lifecyclestage"] = "salesqualifiedlead"


def _unique_names(org: Org) -> None:
    """Company names that cannot meet HubSpot's by chance (both fakes number
    their sample companies): only e-mails and ids link the two systems here."""
    for sobject, field in (("Lead", "Company"), ("Account", "Name")):
        for record in org.records[sobject].values():
            record[field] = f"エスエフ商事{record['Id']}"


def _pair(company: Company, org: Org) -> dict[str, str]:
    """Make some HubSpot contacts the same people as Salesforce leads (the same
    e-mail): each converted lead with a contact whose MQL came 1 to 80 days
    before the opportunity, and a few leads never converted. HubSpot contact
    -> Salesforce lead."""
    mql = {
        r.id: _instant(str(r.properties["hs_v2_date_entered_marketingqualifiedlead"]))
        for r in company.live()
        if r.properties["hs_v2_date_entered_marketingqualifiedlead"]
    }
    free = sorted(mql, key=lambda c: mql[c])
    pairs: dict[str, str] = {}
    leads = sorted(org.records["Lead"].values(), key=lambda r: r["Id"])
    for lead in leads:
        opp = lead["ConvertedOpportunityId"]
        if not opp:
            continue
        created = org.truth_log.deals[opp]["created_at"]
        match = next(
            (c for c in free if dt.timedelta(days=1) <= created - mql[c] <= dt.timedelta(80)),
            None,
        )
        if match is not None:
            pairs[match] = lead["Id"]
            free.remove(match)
    for lead in [r for r in leads if not r["ConvertedOpportunityId"]][:5]:
        pairs[free.pop()] = lead["Id"]
    for contact, lead_id in pairs.items():
        org.records["Lead"][lead_id]["Email"] = company.portal.objects["contacts"][
            contact
        ].properties["email"]
    return pairs


def _expected(
    company: Company, org: Org, pairs: dict[str, str], as_of: dt.date, *, salesforce: bool = True
) -> dict[str, tuple[int, int]]:
    """Month -> (MQLs, converted within the window), from the fakes' records
    (without ``salesforce``: HubSpot's MQLs only)."""
    opp_of: dict[str, dt.datetime] = {}  # Salesforce lead -> its opportunity's creation
    for lead in org.records["Lead"].values():
        if lead["ConvertedOpportunityId"]:
            opp_of[lead["Id"]] = org.truth_log.deals[lead["ConvertedOpportunityId"]]["created_at"]
    cohorts: list[tuple[dt.datetime, dt.datetime | None]] = []
    for r in company.live():
        entered = r.properties["hs_v2_date_entered_marketingqualifiedlead"]
        if entered:
            twin = pairs.get(r.id)
            cohorts.append((_instant(str(entered)), opp_of.get(twin) if twin else None))
    for stages in org.truth_log.lead_stages.values() if salesforce else ():
        first = dict(reversed(stages))  # the first entry of each stage
        if "mql" in first:
            cohorts.append((first["mql"], first.get("opportunity")))
    out: dict[str, list[int]] = {}
    for a, b in cohorts:
        a_day = a.astimezone(TOKYO).date()
        month = out.setdefault(f"{a_day:%Y-%m}", [0, 0])
        month[0] += 1
        if b is not None:
            b_day = b.astimezone(TOKYO).date()
            if b >= a and b_day <= a_day + dt.timedelta(WINDOW) and b_day <= as_of:
                month[1] += 1
    return {m: (n, c) for m, (n, c) in out.items()}


DEFINITION = """\
kpitree: 1
name: HubSpot and Salesforce
timezone: Asia/Tokyo
nodes:
  opportunities: {{kind: kgi, unit: count, metric: opportunities, target: 100}}
  mqls: {{unit: count, metric: mqls, assume: 10}}
  opportunity_rate: {{unit: ratio, metric: mql_to_opportunity_rate, assume: 0.2}}
sources:
  hubspot:
    type: hubspot
    token_env: {hs_env}
    base_url: {hs_url}
  sfdc:
    type: salesforce
    instance_url: {sf_url}
    auth: {{flow: client_credentials, client_id_env: {sf_id}, client_secret_env: {sf_secret}}}
"""


def test_a_hubspot_and_salesforce_company_has_its_true_linked_funnel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KPITREE_SYNC_BACKOFF", "0.01")
    portal = Portal()
    company = Company(portal, contacts=150, deals=0)
    _marketing_only(company)
    org = Org(leads=120)
    _unique_names(org)
    pairs = _pair(company, org)
    converted_pairs = [c for c, lead in pairs.items() if org.records["Lead"][lead]["IsConverted"]]
    assert len(converted_pairs) >= 10  # the construction links real conversions
    with serve_hubspot(portal) as hs_url, serve_salesforce(FakeSalesforce(org)) as sf:
        (tmp_path / "kpitree.yaml").write_text(
            DEFINITION.format(hs_env=HS_TOKEN_ENV, hs_url=hs_url, sf_url=sf.base_url,
                              sf_id=SF_ID, sf_secret=SF_SECRET),
            encoding="utf-8",
        )  # fmt: skip
        environ = {HS_TOKEN_ENV: portal.token, SF_ID: sf.client_id, SF_SECRET: sf.client_secret}
        results = sync_project(tmp_path, environ=environ)
        assert [r.error for r in results] == [None, None], [r.to_json() for r in results]

    # Every pair is linked as one person, by e-mail, each way.
    with duckdb.connect(str(tmp_path / ".kpitree" / "warehouse.duckdb"), read_only=True) as con:
        same = dict(
            con.execute(
                "SELECT from_id, to_id FROM kpitree_links "
                "WHERE relation = 'lead_lead' AND status = 'linked' AND method = 'email'"
            ).fetchall()
        )
    assert {c: same.get(c) for c in pairs} == pairs
    assert {lead: same.get(lead) for c, lead in pairs.items()} == {v: k for k, v in pairs.items()}

    as_of = dt.datetime.now(TOKYO).date()
    expected = _expected(company, org, pairs, as_of)
    months = sorted(expected)
    project = Project.load(tmp_path)
    result = project.status(months, as_of=as_of, compare=False)
    got = {}
    for m in months:
        row = result.row("opportunity_rate", m)
        got[m] = (int(row.volume or 0), int(row.converted or 0))
    assert got == expected
    # HubSpot's MQLs converted through Salesforce (without the links, none would).
    hubspot = _expected(company, org, pairs, as_of, salesforce=False)
    assert sum(c for _, c in hubspot.values()) >= 5
    assert all(0 <= c <= n for n, c in got.values())
