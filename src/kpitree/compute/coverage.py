"""Which days the data covers: the first day with a fact, the start of the
all-time period (``--period all``)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from kpitree.errors import UserError

if TYPE_CHECKING:
    from kpitree.engines import Engine

__all__ = ["first_fact_day"]


def first_fact_day(engine: Engine, until: dt.date) -> dt.date | None:
    """The earliest local day (not after ``until``) on which any entity has a
    fact at its own event (leads created, deals created, activities, ...);
    None when there is no fact at all."""
    days = _fact_days(engine, until, skip=("renewals",), latest=False)  # renewals: contracts again
    return min(days) if days else None


def last_fact_day(engine: Engine, until: dt.date) -> dt.date | None:
    """The latest day (not after ``until``) on which something happened: a
    lead or deal created, an activity, a spend, an NPS answer; None when there
    is none. Contracts and accounts are left out: a contract starts, and an
    account may be dated, ahead of the data that was imported with it."""
    days = _fact_days(engine, until, skip=("contracts", "renewals", "accounts"), latest=True)
    return max(days) if days else None


def _fact_days(
    engine: Engine, until: dt.date, *, skip: tuple[str, ...], latest: bool
) -> list[dt.date]:
    """Per entity not in ``skip`` that has facts up to ``until``, its latest
    (or earliest) day of them."""
    from kpitree.compute.entities import ENTITIES

    days: list[dt.date] = []
    for ent in ENTITIES.values():
        if ent.name in skip:
            continue
        try:
            table = ent.base(engine)
        except UserError:  # a database without this canonical table
            continue
        column = table[ent.time]
        day = column if column.type().is_date() else column.date()
        kept = table.filter(day <= until)
        expr = kept.aggregate(v=day.max() if latest else day.min())
        value = engine.execute(expr).to_pylist()[0]["v"]
        if isinstance(value, dt.date):
            days.append(value)
    return days
