"""A company of any size generated inside DuckDB: ``range()`` and hash-based
randomness write the canonical tables of a kpitree warehouse directly, so that
8M or 20M leads never exist as Python objects (the demo generator builds every
table in memory: about 2.6 GB at 1.5M leads).

Three fiscal years (April start) of a B2B company: about 5 activities, 2.5
stage entries and 0.13 deals per lead; reps skewed (a few own most leads), some
of whom join late, move to another team or leave (their leads go to the next
rep of their team); MQLs entered twice, opportunities known only from the deal
made from the lead, upsell deals without a lead, contract terms renewed or
churned, NPS answers. Every value is a function of the seed and the row number,
so the same arguments give the same company.

Usage (also used by ``bench_scaling.py``)::

    .venv/bin/python bench/sql_company.py /tmp/company.duckdb --leads 2000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

JST = dt.timezone(dt.timedelta(hours=9))
DAY = 86_400


def _epoch(day: dt.date) -> int:
    """Seconds since 1970 of ``day``'s midnight in Tokyo."""
    return int(dt.datetime.combine(day, dt.time(), JST).timestamp())


def statements(leads: int, seed: int, fiscal_year: int) -> list[str]:
    """The SQL that fills an empty kpitree warehouse (``_import_id`` 1)."""
    start = dt.date(fiscal_year - 2, 4, 1)
    end = dt.date(fiscal_year + 1, 3, 31)
    s0, s1 = _epoch(start), _epoch(end + dt.timedelta(days=1)) - 1  # the last second
    span = s1 - s0
    teams = max(5, leads // 13_000)  # ten reps a team slot: about 770 reps at 1M leads
    reps = teams * 10
    accounts = max(100, leads // 3)
    upsells = leads * 15 // 1000
    activities = leads * 5
    responses = max(50, leads // 20)
    ts = f"to_timestamp({s0} + floor(u(i, 1) * {span})::BIGINT)"  # a lead's creation
    return [
        "SET preserve_insertion_order = false",
        "SET TimeZone = 'Asia/Tokyo'",
        # u(i, k): the k-th uniform number in [0, 1) of row i.
        f"CREATE OR REPLACE TEMP MACRO u(i, k) AS "
        f"((hash(i, k, {seed}) % 1000003)::DOUBLE / 1000003.0)",
        "CREATE OR REPLACE TEMP MACRO pad(prefix, i) AS (prefix || i::VARCHAR)",
        # Reps: slot r % 10 is the department (marketing 0-1, inside sales 2-5,
        # field sales 6-8, customer success 9), r // 10 % 3 the team.
        f"""CREATE TEMP TABLE r AS
        SELECT i AS r, 'R' || i::VARCHAR AS rep_id,
          CASE WHEN i % 10 < 2 THEN 'marketing' WHEN i % 10 < 6 THEN 'inside_sales'
               WHEN i % 10 < 9 THEN 'field_sales' ELSE 'customer_success' END AS department,
          (i // 10) % 3 AS team0,
          CASE WHEN u(i, 105) < 0.8 THEN DATE '{start}' - 400
               ELSE DATE '{start}' + floor(u(i, 106) * 500)::INT END AS joined,
          CASE WHEN u(i, 103) < 0.1
               THEN DATE '{start}' + floor((0.3 + 0.7 * u(i, 104)) * {span // DAY})::INT END
            AS leave_day,
          u(i, 101) < 0.2 AS moves, floor(u(i, 102) * {span // DAY})::INT AS move_after
        FROM range({reps}) t(i)""",
        # The instant a rep left (midnight in Tokyo of the day after): compared
        # with facts' instants, so no fact's instant is converted to a day.
        """ALTER TABLE r ADD COLUMN left_at TIMESTAMPTZ""",
        """UPDATE r SET left_at = (leave_day + 1)::TIMESTAMP AT TIME ZONE 'Asia/Tokyo'""",
        """CREATE TEMP TABLE ra AS
        SELECT *,
          CASE WHEN moves AND joined + 30 + move_after < coalesce(leave_day, DATE '9999-12-31')
               THEN joined + 30 + move_after END AS move_day
        FROM r""",
        """CREATE TEMP MACRO team_name(department, t) AS
        (CASE department WHEN 'marketing' THEN 'MK' WHEN 'inside_sales' THEN 'IS'
              WHEN 'field_sales' THEN 'FS' ELSE 'CS' END)
        || ['東日本', '西日本', '中部'][t + 1]""",
        # An owner in slot `slot` of a skewed team slot; after the rep left, the
        # same slot of the next team takes over (who may have left too).
        f"""CREATE TEMP MACRO pick(x, slot) AS
        (floor(x * x * {teams})::BIGINT * 10 + slot)""",
        f"""CREATE TEMP MACRO successor(rep) AS (((rep // 10 + 1) % {teams}) * 10 + rep % 10)""",
        # Leads and their funnel, materialised once (one row per lead).
        f"""CREATE TEMP TABLE g AS
        WITH base AS (
          SELECT i, {ts} AS created_at,
            pick(u(i, 2), 2 + floor(u(i, 3) * 4)::BIGINT) AS is_rep,
            pick(u(i, 4), 6 + floor(u(i, 5) * 3)::BIGINT) AS fs_rep,
            u(i, 6) < 0.72 AS is_mql, u(i, 7) < 0.42 AS to_sql, u(i, 8) < 0.40 AS to_opp,
            u(i, 9) AS fate, u(i, 10) < 0.05 AS mql_twice, u(i, 11) < 0.1 AS deal_only,
            floor(u(i, 12) * {accounts})::BIGINT AS account
          FROM range({leads}) t(i)
        ), timed AS (
          SELECT *,
            created_at + to_seconds((3600 + u(i, 13) * 10 * {DAY})::BIGINT) AS mql_at,
            created_at + to_seconds((3600 + u(i, 13) * 10 * {DAY} + 7200
                                     + u(i, 14) * 14 * {DAY})::BIGINT) AS sql_at,
            created_at + to_seconds((3600 + u(i, 13) * 10 * {DAY} + 7200
                                     + u(i, 14) * 14 * {DAY} + u(i, 15) * 20 * {DAY})::BIGINT)
              AS opp_at,
            to_seconds((20 + u(i, 16) * 100)::BIGINT * {DAY}) AS to_close,
            created_at + to_seconds((40 * {DAY} + u(i, 17) * 200 * {DAY})::BIGINT) AS mql2_at,
            created_at + to_seconds((u(i, 18) * 30 * {DAY})::BIGINT) AS disq_at
          FROM base
        )
        SELECT i, created_at, account, deal_only,
          is_mql AND mql_at <= to_timestamp({s1}) AS has_mql, mql_at,
          is_mql AND mql_twice AND mql2_at <= to_timestamp({s1}) AS has_mql2, mql2_at,
          is_mql AND to_sql AND sql_at <= to_timestamp({s1}) AS has_sql, sql_at,
          is_mql AND to_sql AND to_opp AND opp_at <= to_timestamp({s1}) AS has_opp, opp_at,
          opp_at + to_close AS close_at,
          CASE WHEN opp_at + to_close > to_timestamp({s1}) THEN 'open'
               WHEN fate < 0.26 THEN 'won' WHEN fate < 0.9 THEN 'lost' ELSE 'open' END AS status,
          NOT is_mql AND u(i, 19) < 0.6 AND disq_at <= to_timestamp({s1}) AS has_disq, disq_at,
          CASE WHEN ri.left_at <= created_at THEN successor(is_rep) ELSE is_rep END AS owner,
          CASE WHEN rf.left_at <= opp_at THEN successor(fs_rep) ELSE fs_rep END AS deal_owner
        FROM timed
        LEFT JOIN r ri ON ri.r = timed.is_rep
        LEFT JOIN r rf ON rf.r = timed.fs_rep""",
        # -- the canonical tables
        """INSERT INTO reps BY NAME
        SELECT rep_id, '担当' || r AS name, lower(rep_id) || '@example.co.jp' AS email,
               1 AS _import_id FROM r""",
        """INSERT INTO rep_assignments BY NAME
        SELECT rep_id, joined AS valid_from,
               CASE WHEN move_day IS NULL THEN leave_day END AS valid_to, department,
               team_name(department, team0) AS team, '関東' AS region, 1 AS _import_id
        FROM ra
        UNION ALL BY NAME
        SELECT rep_id, move_day AS valid_from, leave_day AS valid_to, department,
               team_name(department, (team0 + 1) % 3) AS team, '関西' AS region, 1 AS _import_id
        FROM ra WHERE move_day IS NOT NULL""",
        f"""INSERT INTO accounts BY NAME
        SELECT pad('A', i) AS account_id, '株式会社' || i AS name,
          ['製造', '情報通信', '小売', '金融', '医療'][1 + floor(u(i, 61) * 5)::INT] AS industry,
          (10 + floor(u(i, 62) * u(i, 62) * 5000))::BIGINT AS employees,
          ['関東', '関西', '中部', '九州'][1 + floor(u(i, 63) * 4)::INT] AS region,
          ['enterprise', 'mid', 'smb'][1 + floor(u(i, 64) * 3)::INT] AS segment, 'JP' AS country,
          'R' || (floor(u(i, 65) * {teams})::BIGINT * 10 + 9)::VARCHAR AS owner_id,
          to_timestamp({s0} - floor(u(i, 66) * 3 * 365 * {DAY})::BIGINT) AS created_at,
          1 AS _import_id
        FROM range({accounts}) t(i)""",
        """INSERT INTO leads BY NAME
        SELECT pad('L', i) AS lead_id, created_at,
          ['web', 'event', 'ads', 'referral', 'outbound'][1 + floor(u(i, 20) * 5)::INT] AS channel,
          'R' || owner::VARCHAR AS owner_id, pad('A', account) AS account_id,
          ['関東', '関西', '中部', '九州'][1 + floor(u(i, 21) * 4)::INT] AS region,
          CASE WHEN has_opp THEN 'opportunity' WHEN has_sql THEN 'sql' WHEN has_mql THEN 'mql'
               WHEN has_disq THEN 'disqualified' ELSE 'lead' END AS current_stage,
          1 AS _import_id
        FROM g""",
        """INSERT INTO lead_stage_history (lead_id, stage, entered_at, _import_id)
        SELECT pad('L', i) AS lead_id, 'lead' AS stage, created_at AS entered_at, 1 AS _import_id
        FROM g
        UNION ALL SELECT pad('L', i), 'mql', mql_at, 1 FROM g WHERE has_mql
        UNION ALL SELECT pad('L', i), 'mql', mql2_at, 1 FROM g WHERE has_mql2
        UNION ALL SELECT pad('L', i), 'sql', sql_at, 1 FROM g WHERE has_sql
        UNION ALL
        SELECT pad('L', i), 'opportunity', opp_at, 1 FROM g WHERE has_opp AND NOT deal_only
        UNION ALL
        SELECT pad('L', i), status, close_at, 1 FROM g WHERE has_opp AND status <> 'open'
        UNION ALL SELECT pad('L', i), 'disqualified', disq_at, 1 FROM g WHERE has_disq""",
        f"""CREATE TEMP TABLE d AS
        SELECT pad('D', i) AS deal_id, pad('A', account) AS account_id, pad('L', i) AS lead_id,
          deal_owner AS owner, opp_at AS created_at, close_at, status,
          round(300000 + u(i, 30) * u(i, 30) * 5000000, -3) AS amount, 'new' AS pipeline
        FROM g WHERE has_opp
        UNION ALL
        SELECT pad('U', i), pad('A', floor(u(i, 31) * {accounts})::BIGINT), NULL,
          pick(u(i, 32), 6 + floor(u(i, 33) * 3)::BIGINT),
          to_timestamp({s0} + floor(u(i, 34) * {span})::BIGINT),
          to_timestamp({s0} + floor(u(i, 34) * {span})::BIGINT)
            + to_seconds((20 + u(i, 35) * 100)::BIGINT * {DAY}),
          CASE WHEN u(i, 36) < 0.4 THEN 'won' WHEN u(i, 36) < 0.9 THEN 'lost' ELSE 'open' END,
          round(100000 + u(i, 37) * 2000000, -3), 'upsell'
        FROM range({upsells}) t(i)""",
        f"""INSERT INTO deals BY NAME
        SELECT deal_id, account_id, lead_id, 'R' || owner::VARCHAR AS owner_id,
          created_at, (close_at AT TIME ZONE 'Asia/Tokyo')::DATE AS close_date, amount,
          'JPY' AS currency,
          CASE WHEN close_at > to_timestamp({s1}) THEN 'open' ELSE status END AS status,
          CASE WHEN close_at > to_timestamp({s1}) OR status = 'open' THEN 'proposal'
               WHEN status = 'won' THEN 'closed_won' ELSE 'closed_lost' END AS stage,
          'kpitree Cloud' AS product, pipeline, 1 AS _import_id
        FROM d""",
        f"""INSERT INTO deal_stage_history (deal_id, stage, entered_at, _import_id)
        SELECT deal_id, 'qualification' AS stage, created_at AS entered_at, 1 AS _import_id FROM d
        UNION ALL
        SELECT deal_id, CASE status WHEN 'won' THEN 'closed_won' ELSE 'closed_lost' END,
               close_at, 1
        FROM d WHERE status <> 'open' AND close_at <= to_timestamp({s1})""",
        # Activities: about 72 % on a lead, within 90 days of its creation (the
        # lead's creation is recomputed from its row number: no join); the rest
        # cold calls over the three years. Inside sales make the calls.
        f"""INSERT INTO activities BY NAME
        WITH a AS (
          SELECT i, u(i, 40) < 0.72 AS on_lead, floor(u(i, 41) * {leads})::BIGINT AS lead,
                 u(i, 42) AS kind
          FROM range({activities}) t(i)
        ), placed AS (
          SELECT *, CASE WHEN on_lead
              THEN to_timestamp({s0} + floor(u(lead, 1) * {span})::BIGINT
                                + floor(u(i, 43) * 90 * {DAY})::BIGINT)
              ELSE to_timestamp({s0} + floor(u(i, 44) * {span})::BIGINT) END AS occurred_at
          FROM a
        )
        SELECT pad('X', i) AS activity_id,
          CASE WHEN kind < 0.65 THEN 'call' WHEN kind < 0.87 THEN 'email' ELSE 'meeting' END
            AS type,
          occurred_at,
          'R' || CASE WHEN rr.left_at <= occurred_at THEN successor(p.rep)
                           ELSE p.rep END::VARCHAR AS owner_id,
          CASE WHEN on_lead THEN pad('L', lead) END AS lead_id,
          CASE WHEN u(i, 46) < 0.6 THEN 'connected' ELSE 'no_answer' END AS outcome,
          1 AS _import_id
        FROM (SELECT *, pick(u(i, 45), 2 + floor(u(i, 47) * 4)::BIGINT) AS rep FROM placed
              WHERE occurred_at <= to_timestamp({s1})) p
        LEFT JOIN r rr ON rr.r = p.rep""",
        # Contract terms of a year: a third of the accounts are customers with a
        # first term in the first year, renewed (or churned) twice at most.
        f"""INSERT INTO contracts BY NAME
        WITH terms AS (
          SELECT a.i AS k, t.t,
            DATE '{start}' + (floor(u(a.i, 70) * 365) + 365 * t.t)::INT AS start_date,
            u(a.i, 71 + t.t) < 0.15 AS churns,
            round(50000 + u(a.i, 74) * u(a.i, 74) * 450000) AS base
          FROM range({accounts}) a(i) CROSS JOIN range(3) t(t)
          WHERE u(a.i, 69) < 0.35
        ), kept AS (
          SELECT *, start_date + 364 AS end_date,
            bool_or(churns OR start_date + 364 >= DATE '{end}')
              OVER (PARTITION BY k ORDER BY t ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
              AS stopped
          FROM terms
        )
        SELECT 'C' || k || '-' || t AS contract_id, pad('A', k) AS account_id,
          'kpitree Cloud' AS product, start_date, end_date,
          round(base * (1 + 0.1 * t * (u(k, 75) - 0.3))) AS mrr,
          12 * round(base * (1 + 0.1 * t * (u(k, 75) - 0.3))) AS arr, 'JPY' AS currency,
          CASE WHEN end_date >= DATE '{end}' THEN 'active' WHEN churns THEN 'churned'
               WHEN t < 2 THEN 'renewed' ELSE 'ended' END AS status,
          CASE WHEN t > 0 THEN 'C' || k || '-' || (t - 1) END AS renewed_from, 1 AS _import_id
        FROM kept WHERE NOT coalesce(stopped, false)""",
        f"""INSERT INTO nps_responses BY NAME
        SELECT pad('N', i) AS response_id,
          to_timestamp({s0} + floor(u(i, 80) * {span})::BIGINT) AS responded_at,
          pad('A', floor(u(i, 81) * {accounts})::BIGINT) AS account_id,
          least(10, floor(sqrt(u(i, 82)) * 11))::INTEGER AS score, 1 AS _import_id
        FROM range({responses}) t(i)""",
    ]


def generate(path: Path, leads: int, seed: int = 42, fiscal_year: int = 2025) -> dict[str, Any]:
    """Create the warehouse at ``path`` (must not exist) and fill it; the row
    counts and the seconds it took."""
    from kpitree.data.schema import TABLES
    from kpitree.data.warehouse import Warehouse
    from kpitree.data.writers import bump_versions, refresh_links

    started = time.perf_counter()
    wh = Warehouse(path)
    wh.bulk_load({}, label=f"sql company of {leads:,} leads", source="bench/sql_company.py")
    with wh.writing() as con:
        con.execute("SET memory_limit = '8GB'")
        con.execute("BEGIN TRANSACTION")
        for sql in statements(leads, seed, fiscal_year):
            con.execute(sql)
        names = [t.name for t in TABLES]
        refresh_links(con, names)
        bump_versions(con, names)
        rows = {n: con.execute(f"SELECT count(*) FROM {n}").fetchone()[0] for n in names}
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
    return {"rows": rows, "generate_seconds": round(time.perf_counter() - started, 2)}


def code_hash() -> str:
    """Hash of what decides the warehouse: this file, the schema and migrations."""
    import hashlib

    import kpitree

    root = Path(kpitree.__file__).parent / "data"
    files = [
        Path(__file__),
        root / "schema.py",
        *sorted(f for f in (root / "migrations").rglob("*") if "__pycache__" not in f.parts),
    ]
    digest = hashlib.sha256()
    for f in files:
        if f.is_file():
            digest.update(f.name.encode())
            digest.update(f.read_bytes())
    return digest.hexdigest()[:10]


def ensure(leads: int, seed: int, fiscal_year: int, cache: Path, fresh: bool) -> Path:
    """The cached folder (``warehouse.duckdb``, ``ready.json``) of this company,
    generated in a child process when missing."""
    import shutil
    import subprocess
    import sys
    import tempfile

    folder = cache / f"sqlco-{leads}-seed{seed}-fy{fiscal_year}-{code_hash()}"
    if fresh and folder.exists():
        shutil.rmtree(folder)
    if (folder / "ready.json").exists():
        print(f"reusing the cached warehouse {folder} (--fresh rebuilds it)")
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=cache))
    print(f"generating {leads:,} leads in DuckDB into {folder} (cached for next time)")
    command = [sys.executable, __file__, str(staging / "warehouse.duckdb"), "--leads", str(leads)]
    command += ["--seed", str(seed), "--fiscal-year", str(fiscal_year)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    info = json.loads(out)
    info.update(leads=leads, seed=seed, fiscal_year=fiscal_year, generator="sql")
    (staging / "ready.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    staging.rename(folder)
    print(f"  generated in {info['generate_seconds']} s: {sum(info['rows'].values()):,} rows")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--leads", type=int, required=True)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--fiscal-year", type=int, default=2025)
    args = parser.parse_args()
    info = generate(args.path, args.leads, args.seed, args.fiscal_year)
    print(json.dumps(info, indent=2))


if __name__ == "__main__":
    main()
