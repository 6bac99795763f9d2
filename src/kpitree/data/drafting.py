"""A first mapping for a file no preset fits (``kpitree mappings new``): guessed
from the headers (Japanese and English words) and the sampled values (dates,
numbers, unique columns, the values of a stage column), written as YAML with
comments saying what to review. The draft is checked like any mapping before it
is shown."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kpitree.data.profile import US_FORMATS, ColumnProfile, Sample
from kpitree.errors import DataError, Span
from kpitree.i18n import t

__all__ = ["Draft", "check_draft", "choose_mapping", "draft_mapping"]


def _norm(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


# Header words, compared after NFKC, case folding and removing spaces.
ID_WORDS = ("レコードid", "recordid", "id", "番号", "guid", "コード", "code", "no", "no.")
CREATED_WORDS = ("作成日", "登録日", "createdate", "created", "createdat", "作成", "登録", "受付日",
                 "申込日", "獲得日", "取得日")  # fmt: skip
CLOSE_WORDS = ("完了予定日", "クローズ日", "closedate", "受注日", "受注予定日", "契約予定日",
               "成約日", "契約日", "close", "見込み時期")  # fmt: skip
AMOUNT_WORDS = ("金額", "amount", "売上", "契約金額", "受注金額", "見込金額", "見込み金額", "小計",
                "合計", "value", "price", "単価")  # fmt: skip
STAGE_WORDS = ("フェーズ", "ステージ", "stage", "ステータス", "status", "段階", "進捗", "状況",
               "ライフサイクル", "lifecycle", "ランク")  # fmt: skip
OWNER_WORDS = ("担当", "所有者", "owner", "営業", "assignee", "rep")
CHANNEL_WORDS = ("流入", "ソース", "source", "channel", "経路", "媒体", "チャネル", "チャネル")
ACCOUNT_WORDS = ("取引先名", "会社名", "企業名", "法人名", "顧客名", "company", "account", "取引先",
                 "会社", "企業", "法人", "顧客")  # fmt: skip
NAME_WORDS = ("商談名", "案件名", "取引名", "件名", "dealname", "opportunityname", "name", "名前",
              "氏名", "姓", "名")  # fmt: skip
INDUSTRY_WORDS = ("業種", "業界", "industry")
REGION_WORDS = ("都道府県", "地域", "region", "state", "prefecture", "エリア")
EMPLOYEE_WORDS = ("従業員数", "社員数", "employees", "numberofemployees")
DEAL_WORDS = ("商談", "案件", "取引", "deal", "opportunit", "受注", "失注")
LEAD_WORDS = ("リード", "lead", "コンタクト", "contact", "メール", "email", "e-mail", "氏名",
              "姓", "顧客", "カスタマー", "ライフサイクル", "lifecycle")  # fmt: skip
WON_WORDS = ("受注", "成約", "成立", "won", "closedwon", "契約済", "契約締結", "クローズ済み成立")
LOST_WORDS = ("失注", "不成立", "lost", "closedlost", "見送り", "辞退", "クローズ済み不成立",
              "クローズした不成立取引")  # fmt: skip
LEAD_STAGES = (
    (("mql", "マーケティングクオリファイド", "marketingqualified"), "mql"),
    (("sql", "セールスクオリファイド", "salesqualified"), "sql"),
    (("商談", "opportunity", "案件化"), "opportunity"),
    (("顧客", "customer", "受注", "won", "成約"), "won"),
    (("失注", "lost", "対象外", "disqualified", "不適格"), "disqualified"),
    (("リード", "lead", "新規", "new"), "lead"),
    (("サブスクライバー", "subscriber", "購読"), "subscriber"),
)


def _has(header: str, words: Sequence[str]) -> bool:
    h = _norm(header)
    return any(w in h for w in words)


def _is_id(header: str) -> bool:
    h = _norm(header)
    return h in ID_WORDS or h.endswith(("id", "番号", "guid")) or "レコードid" in h


@dataclass
class Draft:
    """A drafted mapping: its YAML and what was guessed (for the summary)."""

    table: str
    yaml: str
    guesses: dict[str, str] = field(default_factory=dict)
    """``canonical column -> source header``."""
    synthetic_id: tuple[str, ...] = ()
    review: list[str] = field(default_factory=list)


def _pick(cols: Sequence[ColumnProfile], words: Sequence[str]) -> ColumnProfile | None:
    """The first column whose header contains the earliest word of ``words``."""
    for w in words:
        for c in cols:
            if w in _norm(c.header):
                return c
    return None


def _choose_table(cols: Sequence[ColumnProfile]) -> str:
    deal = sum(_has(c.header, DEAL_WORDS) for c in cols)
    deal += 2 * any(_has(c.header, AMOUNT_WORDS) and c.is_number for c in cols)
    deal += 2 * any(_stage_has(c, WON_WORDS + LOST_WORDS) for c in cols)
    lead = sum(_has(c.header, LEAD_WORDS) for c in cols)
    lead += 2 * any(c.filled and c.share(c.emails) >= 0.9 for c in cols)
    account = sum(_has(c.header, EMPLOYEE_WORDS + INDUSTRY_WORDS + ACCOUNT_WORDS) for c in cols)
    if deal >= max(lead, 1) and deal >= account:
        return "deals"
    if lead == 0 and account >= 3:
        return "accounts"
    return "leads"


def _stage_has(c: ColumnProfile, words: Sequence[str]) -> bool:
    return _has(c.header, STAGE_WORDS) and any(
        any(w == _norm(v) or w in _norm(v) for w in words) for v, _ in c.values
    )


def _q(text: str) -> str:
    """A YAML scalar: JSON's double-quoted string is valid YAML."""
    return json.dumps(text, ensure_ascii=False)


def _status(value: str) -> str:
    v = _norm(value)
    if any(w in v for w in LOST_WORDS):
        return "lost"
    if any(w in v for w in WON_WORDS):
        return "won"
    return "open"


def _lead_stage(value: str) -> str | None:
    v = _norm(value)
    for words, stage in LEAD_STAGES:
        if any(w in v for w in words):
            return stage
    return None


def _date_rule(c: ColumnProfile) -> str:
    if c.needs_us_format:
        return "{column: " + _q(c.header) + ", format: " + json.dumps(list(US_FORMATS)) + "}"
    return _q(c.header)


def draft_mapping(sample: Sample, name: str) -> Draft:
    """Draft a mapping named ``name`` for the sampled file."""
    cols = sample.columns
    if sample.rows == 0:
        raise DataError.of("KT320", "data.draft.no_rows", Span(sample.path, 1, 1), path=sample.path)
    table = _choose_table(cols)
    dates = [c for c in cols if c.is_date]
    created = _pick(dates, CREATED_WORDS) or (dates[0] if dates else None)
    if created is None and table != "accounts":
        raise DataError.of(
            "KT321", "data.draft.no_date", Span(sample.path, 1, 1), path=sample.path, table=table
        )
    used: set[int] = set()
    lines: list[str] = []
    draft = Draft(table, "")

    def rule(column: str, text: str, c: ColumnProfile, note: str | None = None) -> None:
        used.add(c.index)
        draft.guesses[column] = c.header
        comment = f"  # {t(note, header=c.header)}" if note else ""
        lines.append(f"    {column}: {text}{comment}")

    def find(words: Sequence[str], pool: Sequence[ColumnProfile] = cols) -> ColumnProfile | None:
        return _pick([c for c in pool if c.index not in used], words)

    id_column = _id_column(sample, table, created)
    lines.append(f"  {table}:")
    id_key = {"leads": "lead_id", "deals": "deal_id", "accounts": "account_id"}[table]
    if id_column is not None:
        rule(id_key, _q(id_column.header), id_column, "data.draft.note.id")
        id_text = _q(id_column.header)
    else:
        parts = _identifying(sample, table, created)
        draft.synthetic_id = tuple(c.header for c in parts)
        id_text = "{id_from: [" + ", ".join(_q(c.header) for c in parts) + "]}"
        draft.review.append(t("data.draft.review.synthetic", columns=", ".join(draft.synthetic_id)))
        lines.append(f"    # {t('data.draft.note.synthetic')}")
        lines.append(f"    {id_key}: {id_text}")
        draft.guesses[id_key] = "+".join(draft.synthetic_id)
    if created is not None:
        rule("created_at", _date_rule(created), created, "data.draft.note.created")
    values_block: list[str] = []
    stage_col: ColumnProfile | None = None
    if table == "deals":
        stage_col = find(STAGE_WORDS)
        if stage_col is not None:
            rule("stage", _q(stage_col.header), stage_col)
            lines.append(
                f"    status: {{column: {_q(stage_col.header)}, map: status, else: open}}"
                f"  # {t('data.draft.note.status')}"
            )
            values_block += ["  status:"] + [
                f"    {_q(v)}: {s}" for v, _ in stage_col.values if (s := _status(v)) != "open"
            ]
            if len(values_block) == 1:
                values_block = [f"  status: {{}}  # {t('data.draft.note.no_won_lost')}"]
                draft.review.append(t("data.draft.review.status", header=stage_col.header))
        else:
            lines.append(f"    status: {{value: open}}  # {t('data.draft.note.no_stage')}")
            draft.review.append(t("data.draft.review.no_stage"))
        close = find(CLOSE_WORDS, [c for c in dates if c is not created])
        if close is not None:
            rule("close_date", _date_rule(close), close, "data.draft.note.close")
        amount = find(AMOUNT_WORDS, [c for c in cols if c.is_number])
        if amount is not None:
            rule("amount", _q(amount.header), amount, "data.draft.note.amount")
    elif table == "leads":
        stage_col = find(STAGE_WORDS)
        if stage_col is not None and stage_col.values:
            rule("current_stage", f"{{column: {_q(stage_col.header)}, map: stage}}", stage_col,
                 "data.draft.note.stage")  # fmt: skip
            values_block += ["  stage:"] + [
                f"    {_q(v)}: {_lead_stage(v) or _q(v)}" for v, _ in stage_col.values
            ]
        channel = find(CHANNEL_WORDS)
        if channel is not None:
            rule("channel", _q(channel.header), channel)
    if table == "accounts":
        account_name = find(ACCOUNT_WORDS + NAME_WORDS)
        if account_name is not None:
            rule("name", _q(account_name.header), account_name)
        employees = find(EMPLOYEE_WORDS, [c for c in cols if c.is_number])
        if employees is not None:
            rule("employees", _q(employees.header), employees)
    account = find(ACCOUNT_WORDS) if table != "accounts" else None
    if account is not None:
        rule("account_id", _q(account.header), account, "data.draft.note.account")
    owner = find(OWNER_WORDS)
    if owner is not None:
        rule("owner_id", _q(owner.header), owner, "data.draft.note.owner")
    industry = find(INDUSTRY_WORDS) if table != "deals" else None
    if industry is not None:
        rule("industry", _q(industry.header), industry)
    region = find(REGION_WORDS)
    if region is not None:
        rule("region", _q(region.header), region)
    lines.append(f"    attributes: rest  # {t('data.draft.note.rest')}")
    lines += _history(table, id_text, created, stage_col, dates, used)
    if table != "accounts" and account is not None:
        lines += ["  accounts:", f"    account_id: {_q(account.header)}",
                  f"    name: {_q(account.header)}"]  # fmt: skip
    if owner is not None:
        lines += ["  reps:", f"    rep_id: {_q(owner.header)}", f"    name: {_q(owner.header)}"]
    head = [
        f"# {t('data.draft.header', path=sample.path, rows=sample.rows, total=sample.total_rows)}",
        f"# {t('data.draft.review_intro')}",
        "mapping: 1",
        f"name: {_q(name)}",
        f"description: {_q(t('data.draft.description', path=sample.path))}",
    ]
    footer = [_footer_pattern(text) for text in sample.footer if text]
    if footer:
        draft.review.append(t("data.draft.review.footer", rows=len(sample.footer)))
        head += ["source:", f"  # {t('data.draft.note.footer')}", "  footer:"]
        head += [f"    - {_q(p)}" for p in dict.fromkeys(footer)]
    if table in ("deals", "accounts"):
        head.append(f"defaults: {{currency: JPY}}  # {t('data.draft.note.currency')}")
    if values_block:
        head += ["values:", *values_block]
    draft.yaml = "\n".join([*head, "tables:", *lines]) + "\n"
    return draft


def _footer_pattern(text: str) -> str:
    """A footer row's text as a pattern that also matches next month's export:
    the text itself, with every number (a record count, a year) as any number."""
    parts = (
        re.escape(part).replace("\\ ", " ").replace("\\-", "-") for part in re.split(r"\d+", text)
    )
    return r"\d+".join(parts)


def _history(
    table: str,
    id_text: str,
    created: ColumnProfile | None,
    stage_col: ColumnProfile | None,
    dates: Sequence[ColumnProfile],
    used: set[int],
) -> list[str]:
    """The stage history: the creation date as the first stage, the dates named
    after a stage (``MQLになった日``, ``商談化日``), and for deals the won/lost
    entry on the close date."""
    if created is None or table == "accounts":
        return []
    if table == "leads":
        out = ["  lead_stage_history:", f"    lead_id: {id_text}", "    stages:",
               f"      lead: {_date_rule(created)}"]  # fmt: skip
        for c in dates:
            stage = _lead_stage(c.header) if c is not created and c.index not in used else None
            if stage and stage != "lead" and f"      {stage}:" not in "\n".join(out):
                out.append(f"      {stage}: {_date_rule(c)}  # {t('data.draft.note.stage_date')}")
        return out
    out = ["  deal_stage_history:", f"    deal_id: {id_text}", "    stages:",
           f"      opportunity: {_date_rule(created)}"]  # fmt: skip
    close = next((c for c in dates if c is not created and _has(c.header, CLOSE_WORDS)), None)
    if stage_col is not None and close is not None:
        out += [
            f'    stage: {{column: {_q(stage_col.header)}, map: status, unmapped: "null"}}',
            f"    entered_at: {_date_rule(close)}  # {t('data.draft.note.closed_entry')}",
        ]
    return out


def _id_column(sample: Sample, table: str, created: ColumnProfile | None) -> ColumnProfile | None:
    """A column whose values tell every sampled row apart: an id-like header
    first, then (for people) an e-mail address column."""
    cols = [c for c in sample.columns if c.filled == sample.rows and c.distinct == sample.rows]
    for c in cols:
        if _is_id(c.header) and c is not created:
            return c
    if table == "leads":
        for c in cols:
            if c.share(c.emails) >= 0.99:
                return c
    return None


def _identifying(sample: Sample, table: str, created: ColumnProfile | None) -> list[ColumnProfile]:
    """Columns that together tell the sampled rows apart, for a synthetic id:
    the account, the record's name and its creation date first."""
    cols = sample.columns
    order: list[ColumnProfile] = []
    for words in (ACCOUNT_WORDS, NAME_WORDS):
        c = _pick([c for c in cols if c not in order and not c.is_number], words)
        if c is not None:
            order.append(c)
    if created is not None:
        order.append(created)
    if order and sample.unique(tuple(c.index for c in order)):
        return order
    for c in cols:
        if c not in order and c.filled and not re.fullmatch(r"\s*", c.header):
            order.append(c)
            if sample.unique(tuple(c.index for c in order)):
                return sorted(order, key=lambda c: c.index)
    return sorted(order, key=lambda c: c.index)


def check_draft(draft: Draft, target: Path | None) -> None:
    """Check the draft as any mapping is checked, and write it to ``target``
    (when given) only if it passes: a draft that does not load is a bug."""
    import tempfile

    from kpitree.data.mapping import load_mapping

    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "draft.yaml"
        probe.write_text(draft.yaml, encoding="utf-8")
        load_mapping(probe)
    if target is not None:
        target.write_text(draft.yaml, encoding="utf-8")


def choose_mapping(
    path: Path, sheet: str | None, timezone: str, draft_path: Path
) -> tuple[str, dict[str, object]]:
    """The mapping for a file nobody chose one for (the Data page's "detect"):
    the best-fitting preset when one fits, else a draft written to
    ``draft_path``. Returns the mapping as ``--mapping`` takes it and what was
    chosen: ``{"kind": "preset", "name", "fit"}`` or ``{"kind": "draft", "yaml",
    "review", "closest"}`` (the best preset that did not fit, with its missing
    columns)."""
    from kpitree.data.fit import rank_presets
    from kpitree.data.headers import read_headers

    headers = read_headers(path, sheet=sheet)
    ranked = rank_presets(headers)
    if ranked and ranked[0].fits:
        best = ranked[0]
        return best.name, {"kind": "preset", "name": best.name, "fit": best.to_json(headers)}
    with Sample(path, sheet=sheet, timezone=timezone) as sample:
        draft = draft_mapping(sample, path.stem)
    check_draft(draft, draft_path)
    closest = ranked[0].to_json(headers) if ranked else None
    return str(draft_path), {
        "kind": "draft",
        "yaml": draft.yaml,
        "review": draft.review,
        "closest": closest,
    }
