"""The data-quality rules as queries: each gives, per canonical table it looks
at, an Ibis table of the ids of the records it finds (one ``id`` column, each
id once). :mod:`kpitree.compute.quality` counts them, keeps a few examples and
names the metrics and nodes they touch. Everything runs in the warehouse: no
rule reads the rows into Python.

Days are local days of the project's time zone (the engine's session zone), so
a stage date written without a time (midnight) is not "before" a creation time
later on the same day.
"""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kpitree.compute.events import local_day
from kpitree.compute.owners import owner_matching

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from kpitree.engines import Engine

__all__ = ["DEFAULT_ORDER", "RULES", "TERMINAL", "Rule", "RuleContext"]

# Funnel order of the stage histories when the project does not give one.
DEFAULT_ORDER: dict[str, tuple[str, ...]] = {
    "leads": ("lead", "mql", "sql", "opportunity", "won"),
    "deals": ("opportunity", "won"),
}
# Stages that end a history: after any stage, never before one.
TERMINAL = ("won", "lost", "disqualified")

_HISTORY = {"leads": ("lead_stage_history", "lead_id"), "deals": ("deal_stage_history", "deal_id")}


@dataclass(frozen=True)
class RuleContext:
    engine: Engine
    as_of: dt.date
    stage_order: dict[str, tuple[str, ...]]
    _tables: dict[str, ir.Table] = field(default_factory=dict)

    def table(self, name: str) -> ir.Table:
        """The canonical table ``name`` (looked up once per check)."""
        if name not in self._tables:
            self._tables[name] = self.engine.table(name)
        return self._tables[name]


Found = list[tuple[str, "ir.Table"]]  # (table, ids)


@dataclass(frozen=True)
class Rule:
    name: str
    code: str
    level: str  # default level: error | warning
    find: Callable[[RuleContext], Found]


def _ids(expr: ir.Value) -> ir.Table:
    return expr.cast("string").name("id").as_table().distinct()


def _ranked(ctx: RuleContext, entity: str) -> tuple[ir.Table, str, int]:
    """The entity's stage history with a ``__pos`` column: the position of each
    entry's stage in the funnel order (terminal stages after the last one);
    entries of stages outside the order are left out."""
    import ibis

    table, key = _HISTORY[entity]
    order = ctx.stage_order.get(entity) or DEFAULT_ORDER[entity]
    h = ctx.table(table)
    end = len(order)
    positions = {stage: i for i, stage in enumerate(order)}
    for stage in TERMINAL:
        positions.setdefault(stage, end)
    pos = ibis.cases(*((h.stage == s, p) for s, p in positions.items()), else_=None)
    h = h.mutate(__pos=pos)
    return h.filter(h.__pos.notnull()), key, end


def _backwards(ctx: RuleContext) -> Found:
    """Histories with an entry of an earlier stage after a later one (a later
    day): e.g. MQL on 1 May after an opportunity on 20 April."""
    out: Found = []
    for entity in ("leads", "deals"):
        h, key, _ = _ranked(ctx, entity)
        a = h.select(k=h[key], d=local_day(h.entered_at), p=h.__pos)
        b = a.view()
        j = a.join(b, (a.k == b.k) & (b.d > a.d) & (b.p < a.p))
        out.append((_HISTORY[entity][0], _ids(j.k)))
    return out


def _skipped(ctx: RuleContext) -> Found:
    """Histories missing a stage between their first and their furthest one.
    Only stages some record of the table entered count: a funnel without an SQL
    stage skips nothing by going from MQL to opportunity. One pass: per record,
    its lowest and highest position and which positions it entered; a position
    is in use when any record entered it."""
    import ibis

    out: Found = []
    for entity in ("leads", "deals"):
        h, key, end = _ranked(ctx, entity)
        h = h.filter(h.__pos < end)  # the terminal stages close, they do not skip
        entered = {f"__e{i}": (h.__pos == i).any() for i in range(end)}
        per = h.group_by(k=h[key]).aggregate(lo=h.__pos.min(), hi=h.__pos.max(), **entered)
        everyone = ibis.window()
        per = per.mutate(**{f"__u{i}": per[f"__e{i}"].any().over(everyone) for i in range(end)})
        gap = ibis.literal(False)
        for i in range(end):
            used, mine = per[f"__u{i}"], per[f"__e{i}"]
            gap = gap | (used & (per.lo < i) & (per.hi > i) & ~mine)
        out.append((_HISTORY[entity][0], _ids(per.filter(gap).k)))
    return out


def _before_creation(ctx: RuleContext) -> Found:
    """Stage entries on a day before their record's creation day, and deals
    closed before the day they were created."""
    out: Found = []
    for entity, (table, key) in _HISTORY.items():
        h = ctx.table(table)
        # A record's first entry is on its earliest day (a day never goes back
        # as the instant goes on): one day per record, not per entry.
        h = h.group_by(__key=h[key]).aggregate(first=h.entered_at.min())
        base = ctx.table(entity)
        base = base.select(__key=base[key], created_at=base.created_at)
        j = h.join(base, h.__key == base.__key)
        j = j.filter(local_day(j.first) < local_day(j.created_at))
        j = j.select(**{key: j.__key})
        out.append((table, _ids(j[key])))
    d = ctx.table("deals")
    out.append(("deals", _ids(d.filter(d.close_date < local_day(d.created_at)).deal_id)))
    return out


def _in_future(ctx: RuleContext) -> Found:
    """Facts dated after the as-of day: creations, stage entries, closes of won
    and lost deals (an open deal's close date is expected, not a fact),
    activities, NPS answers and spend."""
    import ibis

    day = ibis.literal(ctx.as_of)
    out: Found = []
    checks: Sequence[tuple[str, str, str]] = (
        ("leads", "lead_id", "created_at"),
        ("lead_stage_history", "lead_id", "entered_at"),
        ("deals", "deal_id", "created_at"),
        ("deal_stage_history", "deal_id", "entered_at"),
        ("activities", "activity_id", "occurred_at"),
        ("nps_responses", "response_id", "responded_at"),
        ("marketing_spend", "spend_id", "spend_date"),
    )
    for table, key, column in checks:
        t = ctx.table(table)
        found = t.filter(local_day(t[column]) > day)
        if table == "deals":
            closed = t.filter(t.status.isin(["won", "lost"]) & (t.close_date > day))
            found = found.union(closed)
        out.append((table, _ids(found[key])))
    return out


def _negative_duration(ctx: RuleContext) -> Found:
    """Durations below zero: a deal created, or closed, before its lead was
    created; a deal won before its lead's first activity; a contract ending
    before it starts. A deal with both reasons is one deal to fix, counted
    once."""
    d = ctx.table("deals")
    leads = ctx.table("leads")
    lead = leads.select(lid=leads.lead_id, lead_day=local_day(leads.created_at))
    j = d.join(lead, d.lead_id == lead.lid)
    j = j.mutate(day=local_day(j.created_at))
    bad = (j.day < j.lead_day) | (j.status.isin(["won", "lost"]) & (j.close_date < j.lead_day))
    a = ctx.table("activities")
    won = d.filter(d.status == "won")
    # Only the activities of won deals' leads; the first instant's day is the
    # first day (a day never goes back as the instant goes on).
    leads_won = won.select(__won=won.lead_id)
    a = a.filter(a.lead_id.notnull()).semi_join(leads_won, a.lead_id == leads_won.__won)
    first = a.group_by(lid=a.lead_id).aggregate(first=a.occurred_at.min())
    first = first.mutate(first=local_day(first.first))
    w = won.join(first, won.lead_id == first.lid)
    w = w.filter(w.close_date < w.first)
    c = ctx.table("contracts")
    return [
        ("deals", _ids(j.filter(bad).deal_id).union(_ids(w.deal_id), distinct=True)),
        ("contracts", _ids(c.filter(c.end_date < c.start_date).contract_id)),
    ]


def _deal_without_amount(ctx: RuleContext) -> Found:
    d = ctx.table("deals")
    return [("deals", _ids(d.filter(d.amount.isnull()).deal_id))]


def _deal_without_owner(ctx: RuleContext) -> Found:
    d = ctx.table("deals")
    return [("deals", _ids(d.filter(_blank(d.owner_id)).deal_id))]


def _lead_without_owner(ctx: RuleContext) -> Found:
    t = ctx.table("leads")
    return [("leads", _ids(t.filter(_blank(t.owner_id)).lead_id))]


def _blank(column: ir.StringValue) -> ir.BooleanValue:
    """Missing, empty or only whitespace (what ``strip`` removes). Only a value
    starting with whitespace is stripped: the common id skips the trim."""
    spaced = column.substr(0, 1).isin(_SPACE) & (column.strip() == "")
    return column.isnull() | (column == "") | spaced


# Everything Ibis's strip removes, on every backend (string.whitespace).
_SPACE = tuple(string.whitespace)


def _owner_without_assignment(ctx: RuleContext) -> Found:
    """Owners (rep ids) named on leads, deals or activities that no rep
    assignment places in a team: their facts count under (unassigned). The ids
    are the owners'."""
    assigned = ctx.table("rep_assignments").rep_id
    # Owners the organisation places under another spelling (kpitree.compute.owners).
    placed = sorted(owner_matching(ctx.engine).placed_owners())
    out: Found = []
    for table in ("leads", "deals", "activities"):
        t = ctx.table(table)
        t = t.filter(~_blank(t.owner_id) & ~t.owner_id.isin(assigned))
        if placed:
            t = t.filter(~t.owner_id.isin(placed))
        out.append((table, _ids(t.owner_id)))
    return out


# Characters a Shift_JIS export replaced with "?": runs of two or more, or a
# "?" touching Japanese text: kana (hiragana, katakana, half-width katakana) and
# kanji (CJK ideographs and extension A), as literal ranges that DuckDB (RE2) and
# PostgreSQL both read.
_JA = "[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]"
LOST = r"\?\?|" + _JA + r"\?|\?" + _JA


def _lost_characters(ctx: RuleContext) -> Found:
    """Names and source columns (attributes) where a Shift_JIS export wrote
    ``?`` for characters it could not hold."""
    out: Found = []
    named = {"accounts": ["name"], "reps": ["name"]}
    for table, key in (
        ("accounts", "account_id"),
        ("reps", "rep_id"),
        ("leads", "lead_id"),
        ("deals", "deal_id"),
        ("activities", "activity_id"),
    ):
        t = ctx.table(table)
        columns = [t[c] for c in named.get(table, [])]
        columns.append(t.attributes.cast("string"))
        hit = columns[0].re_search(LOST).fill_null(False)
        for c in columns[1:]:
            hit = hit | c.re_search(LOST).fill_null(False)
        out.append((table, _ids(t.filter(hit)[key])))
    return out


# (table, its id, the column naming another record, the table that record is in)
_REFERENCES = (
    ("deals", "deal_id", "lead_id", "leads", "lead_id"),
    ("deals", "deal_id", "account_id", "accounts", "account_id"),
    ("leads", "lead_id", "account_id", "accounts", "account_id"),
    ("activities", "activity_id", "lead_id", "leads", "lead_id"),
    ("activities", "activity_id", "deal_id", "deals", "deal_id"),
    ("contracts", "contract_id", "account_id", "accounts", "account_id"),
)


def _dangling_reference(ctx: RuleContext) -> Found:
    """Records naming a lead, deal or account that is not in its table (a link
    the funnel cannot follow). A reference into a table with no rows at all is
    not counted: that table was not imported, nothing is broken. A record with
    several broken references is one record to fix, counted once.

    An anti-join per reference (as ``NOT IN``: a target with an unknown id
    matches nothing for sure, so nothing is counted against it); only the
    references it leaves are tested for blanks."""
    import ibis

    found: dict[str, list[ir.Table]] = {}
    for table, key, column, target, target_key in _REFERENCES:
        # Only the two columns: each reference reads its own narrow scan.
        t = ctx.table(table).select(key, column)
        other = ctx.table(target)
        known = other[target_key]
        loaded = ((other.count() > 0) & (known.count() == other.count())).as_scalar()
        ids = other.select(__ref=known)
        bad = t.filter(t[column].notnull()).anti_join(ids, t[column] == ids.__ref)
        bad = bad.filter(~_blank(bad[column]) & loaded)
        found.setdefault(table, []).append(_ids(bad[key]))
    return [
        (table, parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=True))
        for table, parts in found.items()
    ]


def _link_table(ctx: RuleContext, name: str) -> ir.Table | None:
    """A table of the cross-source links (kpitree.data.links), when the
    database has them."""
    from kpitree.compute.links import has_links

    if not has_links(ctx.engine):
        return None
    return ctx.engine.backend.table(name)


# The keys that make two records of two sources the same person or company.
_SAME: dict[str, tuple[str, ...]] = {
    "leads": ("email",),
    "accounts": ("corporate_number", "name"),
}


def _duplicate_across_sources(ctx: RuleContext) -> Found:
    """Leads (the same e-mail) and accounts (the same 法人番号 or normalised
    name) stored from two or more sources: the same person or company counted
    once per source."""
    from kpitree.data.links import KEYS_TABLE

    keys = _link_table(ctx, KEYS_TABLE)
    if keys is None:
        return []
    out: Found = []
    for table, kinds in _SAME.items():
        k = keys.filter((keys.table_name == table) & keys.kind.isin(kinds))
        shared = k.group_by(["kind", "value"]).aggregate(__sources=k.source.nunique())
        shared = shared.filter(shared.__sources > 1)
        j = k.join(shared, ["kind", "value"])
        out.append((table, _ids(j.record_id)))
    return out


def _ambiguous_link(ctx: RuleContext) -> Found:
    """Deals and leads whose lead or account matched several records by the
    same key: not linked, their conversions and dimensions not followed."""
    from kpitree.data.links import LINKS_TABLE

    links = _link_table(ctx, LINKS_TABLE)
    if links is None:
        return []
    out: Found = []
    for table in ("deals", "leads"):
        found = links.filter((links.from_table == table) & (links.status == "ambiguous"))
        out.append((table, _ids(found.from_id)))
    return out


def _unlinked_deal(ctx: RuleContext) -> Found:
    """Deals with no link to a lead (when another source than the deal's holds
    leads) or to an account (when accounts are stored): their lead's conversion
    and their lead and account dimensions are unknown. Within one source a deal
    stored without a lead (a renewal, an expansion) has none to find. Ambiguous
    ones are counted by their own rule."""
    from kpitree.data.links import LINKS_TABLE

    links = _link_table(ctx, LINKS_TABLE)
    if links is None:
        return []
    import ibis

    unmatched = links.filter(links.status == "unmatched")
    no_lead = unmatched.filter(unmatched.relation == "deal_lead")
    # One lead_account row per stored lead: the sources leads came from.
    lead_sources = (
        links.filter(links.relation == "lead_account").select(lead_source=links.from_source)
    ).distinct()
    expected = no_lead.join(
        lead_sources, ~no_lead.from_source.identical_to(lead_sources.lead_source)
    )
    no_account = unmatched.filter(
        (unmatched.relation == "deal_account") & (ctx.table("accounts").count() > 0).as_scalar()
    )
    parts = [_ids(expected.from_id), _ids(no_account.from_id)]
    return [("deals", ibis.union(*parts, distinct=True))]


RULES: tuple[Rule, ...] = (
    Rule("stage_backwards", "KT840", "warning", _backwards),
    Rule("stage_skipped", "KT841", "warning", _skipped),
    Rule("before_creation", "KT842", "error", _before_creation),
    Rule("in_future", "KT843", "error", _in_future),
    Rule("negative_duration", "KT844", "error", _negative_duration),
    Rule("deal_without_amount", "KT845", "warning", _deal_without_amount),
    Rule("deal_without_owner", "KT846", "warning", _deal_without_owner),
    Rule("lead_without_owner", "KT847", "warning", _lead_without_owner),
    Rule("owner_without_assignment", "KT848", "warning", _owner_without_assignment),
    Rule("lost_characters", "KT850", "warning", _lost_characters),
    Rule("dangling_reference", "KT852", "warning", _dangling_reference),
    Rule("duplicate_across_sources", "KT340", "warning", _duplicate_across_sources),
    Rule("ambiguous_link", "KT341", "warning", _ambiguous_link),
    Rule("unlinked_deal", "KT342", "warning", _unlinked_deal),
)
# stale_source (KT849) is computed per table by kpitree.compute.quality.
