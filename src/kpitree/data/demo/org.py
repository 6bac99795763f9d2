"""The revenue organisation: reps, their team assignments over time, and who
is available to own a fact on a given day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from kpitree.data.demo.arrow import (
    build_table,
    dates,
    from_numpy,
    ids,
    join,
    json_objects,
    quoted,
    take,
)
from kpitree.data.demo.parameters import REGIONS, TEAMS

I64 = npt.NDArray[np.int64]

# (kanji, romaji) pairs; full names are drawn without replacement from the product.
FAMILY_NAMES = (
    ("佐藤", "sato"), ("鈴木", "suzuki"), ("高橋", "takahashi"), ("田中", "tanaka"),
    ("伊藤", "ito"), ("渡辺", "watanabe"), ("山本", "yamamoto"), ("中村", "nakamura"),
    ("小林", "kobayashi"), ("加藤", "kato"), ("吉田", "yoshida"), ("山田", "yamada"),
    ("佐々木", "sasaki"), ("山口", "yamaguchi"), ("松本", "matsumoto"), ("井上", "inoue"),
    ("木村", "kimura"), ("林", "hayashi"), ("斎藤", "saito"), ("清水", "shimizu"),
    ("山崎", "yamazaki"), ("森", "mori"), ("池田", "ikeda"), ("橋本", "hashimoto"),
    ("阿部", "abe"), ("石川", "ishikawa"), ("山下", "yamashita"), ("中島", "nakajima"),
    ("石井", "ishii"), ("小川", "ogawa"), ("前田", "maeda"), ("岡田", "okada"),
    ("長谷川", "hasegawa"), ("藤田", "fujita"), ("後藤", "goto"), ("近藤", "kondo"),
    ("村上", "murakami"), ("遠藤", "endo"), ("青木", "aoki"), ("坂本", "sakamoto"),
    ("斉藤", "saito"), ("福田", "fukuda"), ("太田", "ota"), ("西村", "nishimura"),
    ("藤井", "fujii"), ("金子", "kaneko"), ("岡本", "okamoto"), ("藤原", "fujiwara"),
    ("中野", "nakano"), ("三浦", "miura"), ("原田", "harada"), ("松田", "matsuda"),
)  # fmt: skip
GIVEN_NAMES = (
    ("翔太", "shota"), ("健太", "kenta"), ("大輔", "daisuke"), ("拓也", "takuya"),
    ("直樹", "naoki"), ("亮", "ryo"), ("和也", "kazuya"), ("達也", "tatsuya"),
    ("誠", "makoto"), ("陽介", "yosuke"), ("悠斗", "yuto"), ("蓮", "ren"),
    ("大樹", "daiki"), ("優太", "yuta"), ("浩二", "koji"), ("隆", "takashi"),
    ("剛", "tsuyoshi"), ("雄一", "yuichi"), ("俊介", "shunsuke"), ("智也", "tomoya"),
    ("美咲", "misaki"), ("彩", "aya"), ("陽子", "yoko"), ("真由美", "mayumi"),
    ("愛", "ai"), ("由美", "yumi"), ("恵", "megumi"), ("沙織", "saori"),
    ("舞", "mai"), ("麻衣", "mai"), ("結衣", "yui"), ("さくら", "sakura"),
    ("美穂", "miho"), ("奈々", "nana"), ("千尋", "chihiro"), ("香織", "kaori"),
    ("理恵", "rie"), ("早紀", "saki"), ("明日香", "asuka"), ("葵", "aoi"),
    ("拓海", "takumi"), ("颯太", "sota"), ("美香", "mika"), ("裕子", "yuko"),
)  # fmt: skip
EMAIL_DOMAIN = "demo.example"

TEAM_NAMES = tuple(TEAMS)
# Where a mover goes: FS east/west swap, inside sales is promoted to field sales.
MOVE_TO = {
    "東日本営業部": "西日本営業部",
    "西日本営業部": "東日本営業部",
    "エンタープライズ営業部": "東日本営業部",
    "インバウンドIS": "東日本営業部",
    "アウトバウンドIS": "インバウンドIS",
}


@dataclass(frozen=True, slots=True)
class Organisation:
    """Reps and assignment rows, plus a day-by-day roster to draw owners from."""

    rep_ids: pa.Array
    reps: pa.Table
    rep_assignments: pa.Table
    movers: tuple[tuple[int, str, str, date], ...]  # (rep index, from, to, on)
    team_of: npt.NDArray[np.int16]  # [rep, day] -> team index, -1 when absent
    roster: npt.NDArray[np.int32]  # [team, day, k] -> rep index of the k-th active rep
    active: npt.NDArray[np.int32]  # [team, day] -> number of active reps

    def draw(self, team: I64, day: I64, rng: np.random.Generator) -> I64:
        """A rep of ``team`` active on ``day`` (indices into the span), uniformly."""
        day = np.clip(day, 0, self.active.shape[1] - 1)
        k = (rng.random(len(team)) * self.active[team, day]).astype(np.int64)
        return self.roster[team, day, k].astype(np.int64)

    def keep_or_draw(self, rep: I64, team: I64, day: I64, rng: np.random.Generator) -> I64:
        """``rep`` if still in ``team`` on ``day``, otherwise a colleague who is."""
        day = np.clip(day, 0, self.active.shape[1] - 1)
        stays = self.team_of[rep, day] == team
        return np.where(stays, rep, self.draw(team, day, rng))


def team_sizes(leads: int) -> dict[str, int]:
    """Head count per team for a company handling ``leads`` leads in two years."""
    per_month = leads / 24
    opportunities = per_month * 0.128
    customers = leads * 0.03
    want = {
        "デジタルマーケティング": 2 + per_month / 4000,
        "イベントマーケティング": 2 + per_month / 6000,
        "インバウンドIS": per_month * 0.66 / 220,
        "アウトバウンドIS": per_month * 0.08 / 40,
        "東日本営業部": opportunities * 0.46 / 20,
        "西日本営業部": opportunities * 0.36 / 20,
        "エンタープライズ営業部": opportunities * 0.18 / 12,
        "オンボーディング": customers * 0.6 / 150,
        "アカウントマネジメント": customers * 0.4 / 100,
    }
    return {team: int(min(300, max(3, round(n)))) for team, n in want.items()}


def build_organisation(
    leads: int,
    period_start: date,
    span_days: int,
    move_on: date,
    rng: np.random.Generator,
) -> Organisation:
    """Reps for every team; a few leave, join, or move team at ``move_on``."""
    sizes = team_sizes(leads)
    team = np.repeat(np.arange(len(TEAM_NAMES)), [sizes[t] for t in TEAM_NAMES])
    n = len(team)
    first = np.r_[True, team[1:] != team[:-1]]  # first rep of a team is its manager
    start = np.datetime64(period_start, "D")

    # Most joined on an April 1 (新卒 intake) years before the data starts.
    years_before = rng.integers(1, 12, n)
    april = (period_start.year - years_before - 1970) * 12 + 3
    joined = april.astype("datetime64[M]").astype("datetime64[D]")
    hired = ~first & (rng.random(n) < 0.12)
    joined = np.where(hired, start + rng.integers(30, span_days - 60, n), joined)
    leaves = ~first & ~hired & (rng.random(n) < 0.07)
    left = np.where(leaves, start + rng.integers(60, span_days - 30, n), np.datetime64("NaT"))

    dept = np.array([TEAMS[t][0] for t in TEAM_NAMES])[team]
    stable = ~first & ~hired & ~leaves & np.isin(team, [TEAM_NAMES.index(t) for t in MOVE_TO])
    n_movers = min(int(stable.sum()), max(2, round(0.03 * stable.sum())))
    mover_idx = np.sort(rng.choice(np.flatnonzero(stable), n_movers, replace=False))

    # Assignment rows: one per rep, plus the new row of each mover.
    a_rep = np.r_[np.arange(n), mover_idx]
    a_team = np.r_[team, [TEAM_NAMES.index(MOVE_TO[TEAM_NAMES[team[i]]]) for i in mover_idx]]
    move_day = np.datetime64(move_on, "D")
    a_from = np.r_[joined, np.full(n_movers, move_day)]
    a_to = np.r_[left, np.full(n_movers, np.datetime64("NaT"))]
    a_to[mover_idx] = move_day - 1

    manager = np.maximum.accumulate(np.where(first, np.arange(n), 0))  # team's manager
    head_of_dept = {d: int(np.flatnonzero(first & (dept == d))[0]) for d in dict.fromkeys(dept)}
    head = np.array([head_of_dept[d] for d in dept])
    rep_manager = np.where(first, head, manager)
    rep_manager_valid = ~(first & (head == np.arange(n)))
    team_manager = np.flatnonzero(first)
    a_manager = np.r_[rep_manager, team_manager[a_team[n:]]]
    a_manager_valid = np.r_[rep_manager_valid, np.ones(n_movers, bool)]

    # Offices: 西日本営業部 also sits in the Nagoya and Fukuoka branches.
    office = np.array([REGIONS.index(TEAMS[t][1]) for t in TEAM_NAMES])
    region_idx = office[a_team]
    west = a_team == TEAM_NAMES.index("西日本営業部")
    branch = np.array([REGIONS.index(r) for r in ("関西", "中部", "九州")])
    branch_idx = branch[rng.integers(0, 3, len(a_team))]
    region_idx = np.where(west & (rng.random(len(a_team)) < 0.4), branch_idx, region_idx)

    rep_ids = ids("R", n, 4)
    names = rng.choice(len(FAMILY_NAMES) * len(GIVEN_NAMES), n, replace=False)
    family, given = np.divmod(names, len(GIVEN_NAMES))
    name = take([f for f, _ in FAMILY_NAMES], family)
    given_ja = take([g for g, _ in GIVEN_NAMES], given)
    full = join(name, given_ja, sep=" ")
    # given.family plus the rep number: romaji repeat (斎藤 and 斉藤 are both saito).
    email = join(
        take([g for _, g in GIVEN_NAMES], given),
        ".",
        take([f for _, f in FAMILY_NAMES], family),
        pc.utf8_slice_codeunits(rep_ids, 1),
        f"@{EMAIL_DOMAIN}",
    )
    title = np.where(first, np.where(rep_manager_valid, 1, 2), 0)
    attrs = json_objects([("title", quoted(take(["担当", "マネージャー", "部長"], title)))])
    reps = build_table(
        "reps", {"rep_id": rep_ids, "name": full, "email": email, "attributes": attrs}
    )

    assignments = build_table(
        "rep_assignments",
        {
            "rep_id": take(rep_ids, a_rep),
            "valid_from": dates(a_from),
            "valid_to": dates(a_to),
            "department": take([TEAMS[t][0] for t in TEAM_NAMES], a_team),
            "team": take(TEAM_NAMES, a_team),
            "region": take(REGIONS, region_idx),
            "manager_id": take(rep_ids, a_manager, a_manager_valid),
        },
    )
    order = np.lexsort((a_from, a_rep))
    assignments = assignments.take(from_numpy(order))

    # team_of[rep, day] over the span; roster packs the active reps of each day.
    day = start + np.arange(span_days)
    to = np.where(np.isnat(a_to), np.datetime64("9999-12-31"), a_to)
    on = (a_from[:, None] <= day[None, :]) & (day[None, :] <= to[:, None])
    team_of = np.full((n, span_days), -1, dtype=np.int16)
    rows, cols = np.nonzero(on)
    team_of[a_rep[rows], cols] = a_team[rows]
    n_teams = len(TEAM_NAMES)
    active = np.zeros((n_teams, span_days), dtype=np.int32)
    roster = np.zeros((n_teams, span_days, max(sizes.values()) + n_movers), dtype=np.int32)
    for t in range(n_teams):
        member = team_of == t
        active[t] = member.sum(axis=0)
        order_t = np.argsort(~member, axis=0, kind="stable")[: roster.shape[2]]
        roster[t, :, : order_t.shape[0]] = order_t.T
    if (active == 0).any():
        raise AssertionError("a team has nobody on some day")

    movers = tuple(
        (int(i), TEAM_NAMES[team[i]], MOVE_TO[TEAM_NAMES[team[i]]], move_on) for i in mover_idx
    )
    return Organisation(rep_ids, reps, assignments, movers, team_of, roster, active)


def second_half_start(fiscal_year_first_day: date) -> date:
    """First day of the second half (下期) of the fiscal year starting on the given day."""
    month = fiscal_year_first_day.month + 6
    year = fiscal_year_first_day.year + (month - 1) // 12
    return date(year, (month - 1) % 12 + 1, 1)
