"""Capacity from the plan (体制の逆算): can the department's people carry it?

A department may declare what one rep can carry per month of one node
(``capacity: {node: opportunities, min: 20, max: 40}``: an inside-sales rep
handles about 20–40 meetings a month). For every month of a plan this gives the
load per rep of the department, of each team (the team's share of the plan over
its reps) and of each rep (the rep's share), flags the months where a rep or a
team's average rep is above ``max``, and states the headcount the plan implies:
the monthly average over ``max`` (the fewest reps) to over ``min`` (the most),
each rounded up, against the reps declared today.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from kpitree.planning.plan import Plan

__all__ = ["CapacityCheck", "Load", "capacity_checks"]


@dataclass(frozen=True)
class Load:
    """One segment's plan of the capacity node in one month, per rep."""

    segment: str  # department, department/team or department/team/rep
    month: str
    value: float
    reps: int
    per_rep: float | None
    overloaded: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "segment": self.segment,
            "month": self.month,
            "value": self.value,
            "reps": self.reps,
            "per_rep": self.per_rep,
            "overloaded": self.overloaded,
        }


@dataclass(frozen=True)
class CapacityCheck:
    department: str
    node: str
    max: float
    min: float | None
    reps: int  # declared today
    monthly: float | None  # the plan's average per month
    headcount: tuple[int, int | None] | None  # (fewest, most) reps the plan implies
    loads: tuple[Load, ...]

    @property
    def overloaded_months(self) -> list[str]:
        return sorted({load.month for load in self.loads if load.overloaded})

    @property
    def short(self) -> bool:
        """Fewer reps today than the plan needs at ``max`` per rep."""
        return self.headcount is not None and self.reps < self.headcount[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "department": self.department,
            "node": self.node,
            "max": self.max,
            "min": self.min,
            "reps": self.reps,
            "monthly": self.monthly,
            "headcount": None if self.headcount is None else list(self.headcount),
            "short": self.short,
            "overloaded_months": self.overloaded_months,
            "loads": [load.to_json() for load in self.loads],
        }


def _per_rep(value: float, reps: int) -> float | None:
    return value / reps if reps else None


def capacity_checks(plan: Plan) -> list[CapacityCheck]:
    """A check per department that declares a capacity (empty when none does)."""
    out: list[CapacityCheck] = []
    for dept in plan.tree.organisation.departments.values():
        cap = dept.capacity
        if cap is None or cap.node not in plan.nodes:
            continue
        node_plan = plan.nodes[cap.node]
        loads: list[Load] = []
        months = [m for m in plan.periods if node_plan.per_period.get(m) is not None]
        for month in months:
            value = node_plan.per_period[month] or 0.0
            per = _per_rep(value, dept.reps)
            loads.append(
                Load(dept.id, month, value, dept.reps, per, per is not None and per > cap.max)
            )
            for team in dept.teams:
                team_value = value * team.share
                team_per = _per_rep(team_value, len(team.reps))
                key = f"{dept.id}/{team.id}"
                over = team_per is not None and team_per > cap.max
                loads.append(Load(key, month, team_value, len(team.reps), team_per, over))
                for rep, share in team.reps.items():
                    rep_value = team_value * share
                    loads.append(
                        Load(f"{key}/{rep}", month, rep_value, 1, rep_value, rep_value > cap.max)
                    )
        monthly = (
            sum(node_plan.per_period[m] or 0.0 for m in months) / len(months) if months else None
        )
        headcount = None
        if monthly is not None:
            fewest = math.ceil(monthly / cap.max - 1e-9)
            most = math.ceil(monthly / cap.min - 1e-9) if cap.min else None
            headcount = (fewest, most)
        out.append(
            CapacityCheck(
                dept.id, cap.node, cap.max, cap.min, dept.reps, monthly, headcount, tuple(loads)
            )
        )
    return out
