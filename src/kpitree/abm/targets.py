"""Target accounts: those of some tiers on a day, those of an imported list
(matched by 法人番号, domain or name), or both; membership for any day.

The list is a UTF-8 CSV with a header and at least one of the columns
``corporate_number`` (or ``法人番号``), ``domain`` and ``name`` (or ``会社名``),
optionally ``from`` and ``to`` (YYYY-MM-DD: the first and last day the company
is on the list). A row is matched by the first key it has that some account
has too, in that order; an account's keys are its ``name`` and its
``attributes`` ``corporate_number`` / ``法人番号`` and ``domain`` / ``website``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpitree.abm import keys
from kpitree.definition.spec_abm import AbmSpec
from kpitree.errors import Span, UserError

if TYPE_CHECKING:
    from kpitree.abm.daily import DailyScores
    from kpitree.engines import Engine

__all__ = [
    "ListEntry",
    "Membership",
    "account_keys",
    "list_matches",
    "membership_rows",
    "read_target_list",
    "target_membership",
]

_COLUMNS = {
    "corporate_number": "corporate_number",
    "法人番号": "corporate_number",
    "domain": "domain",
    "website": "domain",
    "ドメイン": "domain",
    "name": "name",
    "会社名": "name",
    "企業名": "name",
    "from": "from",
    "to": "to",
}


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One company of the imported list, with its normalised keys."""

    row: int  # line in the file
    corporate_number: str | None
    domain: str | None
    name: str | None
    label: str  # as written (name, else domain, else number)
    start: dt.date | None = None
    end: dt.date | None = None

    def on_list(self, day: dt.date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)


@dataclass(frozen=True, slots=True)
class Membership:
    """Target accounts on ``day``: account id -> why (``tier``, ``list``)."""

    day: dt.date
    accounts: Mapping[str, frozenset[str]]
    unmatched: tuple[ListEntry, ...]  # list rows (on the list that day) no account matches

    def __contains__(self, account_id: object) -> bool:
        return account_id in self.accounts


def read_target_list(path: Path) -> tuple[ListEntry, ...]:
    """The companies of a target list file; problems say file, line and column."""
    try:
        raw = path.read_bytes()
    except OSError:
        raise UserError.of(
            "KT260", "abm.list.unreadable", Span(str(path), 1, 1), file=str(path)
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserError.of(
            "KT260", "abm.list.not_utf8", Span(str(path), 1, 1), file=str(path)
        ) from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, [])
    roles = [_COLUMNS.get(h.strip().lower()) or _COLUMNS.get(h.strip()) for h in header]
    if not any(r in ("corporate_number", "domain", "name") for r in roles):
        raise UserError.of(
            "KT261",
            "abm.list.no_key_column",
            Span(str(path), 1, 1),
            file=str(path),
            columns=", ".join(header),
        )
    out = []
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        values: dict[str, str] = {}
        cols: dict[str, int] = {}
        for i, (role, cell) in enumerate(zip(roles, cells, strict=False)):
            if role is not None and cell.strip():
                values[role], cols[role] = cell.strip(), i + 1
        number = values.get("corporate_number")
        if number is not None and keys.corporate_number(number) is None:
            raise UserError.of(
                "KT262",
                "abm.list.bad_number",
                Span(str(path), line, cols["corporate_number"]),
                value=number,
            )
        found = (keys.corporate_number(number), keys.domain(values.get("domain")),
                 keys.company_name(values.get("name")))  # fmt: skip
        if not any(found):
            raise UserError.of("KT261", "abm.list.no_key", Span(str(path), line, 1), line=line)
        dates = {}
        for role in ("from", "to"):
            if role in values:
                try:
                    dates[role] = dt.date.fromisoformat(values[role])
                except ValueError:
                    raise UserError.of(
                        "KT262",
                        "abm.list.bad_date",
                        Span(str(path), line, cols[role]),
                        column=role,
                        value=values[role],
                    ) from None
        label = values.get("name") or values.get("domain") or number or ""
        out.append(ListEntry(line, *found, label, dates.get("from"), dates.get("to")))
    return tuple(out)


def account_keys(engine: Engine) -> dict[str, dict[str, set[str]]]:
    """Key kind -> key -> account ids (keys as the cross-source links make them)."""
    import json

    acc = engine.table("accounts")
    rows = engine.execute(acc.select("account_id", "name", "attributes")).to_pylist()
    index: dict[str, dict[str, set[str]]] = {"corporate_number": {}, "domain": {}, "name": {}}
    for r in rows:
        try:
            attrs = json.loads(r["attributes"] or "{}")
        except ValueError:
            attrs = {}
        attrs = attrs if isinstance(attrs, dict) else {}
        for kind, key in keys.account_keys_of(r["name"], attrs).items():
            if key:
                index[kind].setdefault(key, set()).add(str(r["account_id"]))
    return index


def list_matches(entry: ListEntry, index: Mapping[str, Mapping[str, set[str]]]) -> set[str]:
    for kind in ("corporate_number", "domain", "name"):
        key = getattr(entry, kind)
        if key and key in index[kind]:
            return set(index[kind][key])
    return set()


def target_membership(
    engine: Engine,
    abm: AbmSpec,
    root: Path,
    days: Iterable[dt.date],
    store: DailyScores | None = None,
) -> dict[dt.date, Membership]:
    """Target accounts on each of ``days`` (``store``: the project's kept
    daily scores; without it they are computed here)."""
    from kpitree.abm.daily import DailyScores

    spec = abm.targets
    days = sorted(set(days))
    if spec is None:
        return {d: Membership(d, {}, ()) for d in days}
    store = store or DailyScores(engine, abm, root, None)
    entries, matched = store.list_rows()
    rows = store.rows(days)
    reasons: dict[dt.date, dict[str, frozenset[str]]] = {d: {} for d in days}
    for r in rows.select(["day", "account_id", "by_tier", "by_list", "target_account"]).to_pylist():
        if r["target_account"]:
            why = {"tier"} if r["by_tier"] else set()
            why |= {"list"} if r["by_list"] else set()
            reasons[r["day"]][str(r["account_id"])] = frozenset(why)
    out = {}
    for day in days:
        unmatched = tuple(e for e in entries if e.on_list(day) and not matched[e.row])
        out[day] = Membership(day, dict(sorted(reasons[day].items())), unmatched)
    return out


def membership_rows(memberships: Mapping[dt.date, Membership]) -> list[dict[str, Any]]:
    """One row per day and target account: ``day``, ``account_id``, ``reasons``."""
    return [
        {"day": day, "account_id": a, "reasons": sorted(r)}
        for day, m in sorted(memberships.items())
        for a, r in m.accounts.items()
    ]
