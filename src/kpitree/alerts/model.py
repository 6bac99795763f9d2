"""What alert runs produce: events, their deliveries, and a run's summary."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AlertEvent", "AlertRun", "Delivery"]


@dataclass(frozen=True)
class Delivery:
    """One event to one channel: ``pending`` until a receiver accepted it."""

    id: int | None
    channel: str
    kind: str  # slack | email | webhook | in_app
    status: str  # pending | sent
    attempts: int = 0  # made so far, over every run
    due_at: str | None = None
    next_attempt_at: str | None = None
    last_error: str | None = None
    sent_at: str | None = None
    rule: str | None = None  # the event's rule, when read with it

    @classmethod
    def from_row(cls, row: Any) -> Delivery:
        return cls(
            row["id"],
            row["channel"],
            row["channel_kind"],
            row["status"],
            row["attempts"],
            row["due_at"],
            row["next_attempt_at"],
            row["last_error"],
            row["sent_at"],
            row["rule"] if "rule" in row.keys() else None,  # noqa: SIM118 (sqlite3.Row)
        )

    @property
    def failing(self) -> bool:
        """Still pending after a failed attempt (the receiver refused it, was
        down, or its secret is not set)."""
        return self.status == "pending" and bool(self.last_error)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "channel": self.channel,
            "kind": self.kind,
            "status": self.status,
            "attempts": self.attempts,
            "due_at": self.due_at,
            "next_attempt_at": self.next_attempt_at,
            "last_error": self.last_error,
            "failing": self.failing,
            "sent_at": self.sent_at,
        }


@dataclass(frozen=True)
class AlertEvent:
    """An alert fired, was notified again, or resolved, for one rule, node
    and segment. ``facts`` hold the numbers and labels it was rendered from."""

    id: int | None
    rule: str
    node: str
    segment: tuple[tuple[str, str | None], ...]
    kind: str  # fired | renotified | resolved
    at: dt.datetime
    severity: str
    period: str | None
    facts: dict[str, Any] = field(default_factory=dict)
    deliveries: tuple[Delivery, ...] = ()

    @classmethod
    def from_row(cls, row: Any, deliveries: tuple[Delivery, ...] = ()) -> AlertEvent:
        segment = tuple((k, v) for k, v in json.loads(row["segment"]))
        return cls(
            row["id"],
            row["rule"],
            row["node"],
            segment,
            row["kind"],
            dt.datetime.fromisoformat(row["at"]),
            row["severity"],
            row["period"],
            json.loads(row["facts"]),
            deliveries,
        )

    def as_message_input(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.rule,
            "node": self.node,
            "segment": [list(p) for p in self.segment],
            "kind": self.kind,
            "at": self.at.isoformat(),
            "severity": self.severity,
            "period": self.period,
            "facts": self.facts,
        }

    def title(self, lang: str | None = None) -> str:
        from kpitree.alerts.messages import headline
        from kpitree.i18n import current_lang

        return headline(self.as_message_input(), lang or current_lang())

    def message(self, lang: str | None = None) -> str:
        from kpitree.alerts.messages import summary
        from kpitree.i18n import current_lang

        return summary(self.as_message_input(), lang or current_lang())

    @property
    def delivery_state(self) -> str:
        """``sent`` when every delivery was accepted, ``failing`` when one is
        pending after a failed attempt, ``pending`` when one is not yet due
        (quiet hours), ``none`` without deliveries."""
        if not self.deliveries:
            return "none"
        if all(d.status == "sent" for d in self.deliveries):
            return "sent"
        return "failing" if any(d.failing for d in self.deliveries) else "pending"

    def to_json(self, lang: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.rule,
            "node": self.node,
            "segment": dict(self.segment),
            "kind": self.kind,
            "at": self.at.isoformat(),
            "severity": self.severity,
            "period": self.period,
            "title": self.title(lang),
            "message": self.message(lang),
            "facts": self.facts,
            "delivery_state": self.delivery_state,
            "deliveries": [d.to_json() for d in self.deliveries],
        }


@dataclass
class AlertRun:
    """The outcome of one evaluation and delivery run."""

    now: dt.datetime
    dry_run: bool
    replay: bool = False  # ``now`` is before the latest recorded run: read-only
    evaluated: int = 0
    holding: int = 0
    guarded: int = 0
    events: list[AlertEvent] = field(default_factory=list)
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    pending: list[Delivery] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)  # rules not evaluated

    def to_json(self, lang: str | None = None) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "replay": self.replay,
            "evaluated": self.evaluated,
            "holding": self.holding,
            "guarded": self.guarded,
            "events": [e.to_json(lang) for e in self.events],
            "sent": self.sent,
            "failed": self.failed,
            "deferred": self.deferred,
            "pending": [d.to_json() for d in self.pending],
            "problems": self.problems,
        }
