"""A kpitree project syncing from the fake org, and what its warehouse holds
compared with what is true in the org."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fakes.salesforce import FakeSalesforce
from kpitree.connectors.salesforce.auth import Credentials

ENV_ID, ENV_SECRET = "SF_CLIENT_ID", "SF_CLIENT_SECRET"


def write_project(root: Path, fake: FakeSalesforce, extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "kpitree.yaml").write_text(
        f"""\
timezone: Asia/Tokyo
sources:
  sfdc:
    type: salesforce
    instance_url: {fake.base_url}
    auth: {{flow: client_credentials, client_id_env: {ENV_ID}, client_secret_env: {ENV_SECRET}}}
{extra}""",
        encoding="utf-8",
    )
    return root


def client_credentials(fake: FakeSalesforce) -> Credentials:
    return Credentials(
        "client_credentials", fake.client_id, fake.client_secret, secret_names=(ENV_ID, ENV_SECRET)
    )


def environ(fake: FakeSalesforce) -> dict[str, str]:
    return {ENV_ID: fake.client_id, ENV_SECRET: fake.client_secret}


def _stamp(value: dt.datetime | dt.date) -> float:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return dt.datetime.combine(value, dt.time(), dt.UTC).timestamp()


def held(project: Path) -> dict[str, Any]:
    """The canonical rows the warehouse holds, in the shape of ``Org.truth()``."""
    import duckdb

    con = duckdb.connect(str(project / ".kpitree" / "warehouse.duckdb"), read_only=True)
    try:
        leads = {
            r[0]: {"created_at": r[1], "owner_id": r[2], "channel": r[3], "current_stage": r[4]}
            for r in con.execute(
                "SELECT lead_id, epoch(created_at), owner_id, channel, current_stage FROM leads"
            ).fetchall()
        }
        deals = {
            r[0]: {"created_at": r[1], "lead_id": r[2], "account_id": r[3], "status": r[4],
                   "amount": r[5], "owner_id": r[6], "stage": r[7], "close_date": r[8]}
            for r in con.execute(
                "SELECT deal_id, epoch(created_at), lead_id, account_id, status, amount, "
                "owner_id, stage, close_date FROM deals"
            ).fetchall()
        }  # fmt: skip
        lead_history = set(
            con.execute("SELECT lead_id, stage, epoch(entered_at) FROM lead_stage_history")
            .fetchall()
        )  # fmt: skip
        deal_history = set(
            con.execute("SELECT deal_id, stage, epoch(entered_at) FROM deal_stage_history")
            .fetchall()
        )  # fmt: skip
        reps = {
            r[0]: {"name": r[1], "email": r[2]}
            for r in con.execute("SELECT rep_id, name, email FROM reps").fetchall()
        }
    finally:
        con.close()
    return {"leads": leads, "deals": deals, "lead_stage_history": lead_history,
            "deal_stage_history": deal_history, "reps": reps}  # fmt: skip


def expected(fake: FakeSalesforce) -> dict[str, Any]:
    """``Org.truth()`` in the shape of :func:`held`."""
    truth = fake.org.truth()
    return {
        "leads": {
            k: {"created_at": _stamp(v["created_at"]), "owner_id": v["owner_id"],
                "channel": v["channel"], "current_stage": v["current_stage"]}
            for k, v in truth["leads"].items()
        },
        "deals": {
            k: {"created_at": _stamp(v["created_at"]), "lead_id": v["lead_id"],
                "account_id": v["account_id"], "status": v["status"], "amount": v["amount"],
                "owner_id": v["owner_id"], "stage": v["stage"], "close_date": v["close_date"]}
            for k, v in truth["deals"].items()
        },
        "lead_stage_history": {(k, s, _stamp(at)) for k, s, at in truth["lead_stage_history"]},
        "deal_stage_history": {(k, s, _stamp(at)) for k, s, at in truth["deal_stage_history"]},
        "reps": {k: {"name": v["name"], "email": v["email"]} for k, v in truth["reps"].items()},
    }  # fmt: skip


def assert_true_funnel(project: Path, fake: FakeSalesforce) -> None:
    got, want = held(project), expected(fake)
    for key in want:
        assert got[key] == want[key], key
