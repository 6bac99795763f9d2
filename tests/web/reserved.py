"""A copy of the demo company whose ids hold the characters links must quote:
a team and a rep id with ``/``, ``?``, ``#``, ``%``, a space and Japanese (the
team also a comma and a double quote, which a filter parameter quotes), and
every lead and account id likewise (``L/0000001 ?#% ー``)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

RESERVED = " ?#% /ー"
TEAM = ("インバウンドIS", 'In/bound ?#%, "東"')  # inside sales
FIELD_TEAM = ("東日本営業部", "東/日本 ?#%営業")  # field sales
REP = ("R0009", "R/09 ?#% 担当")  # in インバウンドIS


def _lead(column: str) -> str:
    return f"'L/' || {column} || ' ?#% ー'"


def _account(column: str) -> str:
    return f"'A/' || {column} || '#?%20 社'"


def reserved_project(demo: Path, folder: Path) -> Path:
    """``demo`` copied to ``folder`` with the ids above renamed everywhere (the
    definition's organisation and every warehouse table)."""
    import duckdb

    shutil.copytree(demo, folder, ignore=shutil.ignore_patterns("cache", "app.sqlite*"))
    definition = folder / "kpitree.yaml"
    doc: dict[str, Any] = yaml.safe_load(definition.read_text("utf-8"))
    for dept in doc["organisation"].values():
        teams = dept.get("teams") or {}
        for old, new in (TEAM, FIELD_TEAM):
            if old in teams:
                teams[new] = teams.pop(old)
        for team in teams.values():
            reps = team.get("reps") or {}
            if REP[0] in reps:
                reps[REP[1]] = reps.pop(REP[0])
    definition.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    con = duckdb.connect(str(folder / ".kpitree" / "warehouse.duckdb"))
    try:
        columns = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'main'"
        ).fetchall()
        for table, column in columns:
            if column in ("owner_id", "rep_id", "manager_id"):
                con.execute(f'UPDATE "{table}" SET "{column}" = ? WHERE "{column}" = ?', REP[::-1])
            elif column == "team":
                for old, new in (TEAM, FIELD_TEAM):
                    con.execute(f'UPDATE "{table}" SET team = ? WHERE team = ?', (new, old))
            elif column == "lead_id":
                con.execute(f'UPDATE "{table}" SET lead_id = {_lead("lead_id")}')
            elif column == "account_id":
                con.execute(f'UPDATE "{table}" SET account_id = {_account("account_id")}')
        for side in ("from", "to"):
            for entity, rename in (("leads", _lead), ("accounts", _account)):
                con.execute(
                    f"UPDATE kpitree_links SET {side}_id = {rename(side + '_id')} "
                    f"WHERE {side}_table = ?",
                    (entity,),
                )
        for entity, rename in (("leads", _lead), ("accounts", _account)):
            con.execute(
                f"UPDATE kpitree_links SET key = {rename('key')} "
                "WHERE to_table = ? AND method = 'id'",
                (entity,),
            )
        con.execute("UPDATE kpitree_table_versions SET version = version + 1")
    finally:
        con.close()
    return folder
