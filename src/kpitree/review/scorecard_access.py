"""Who may read whose scorecard: admins every card; anyone else only what
``scorecards.access`` gives their user name — a rep their own card, a team
manager the team's card and its reps', a department manager the department's
card and its teams' and reps'. One rule for the page, its JSON twin and the
downloads (:func:`visible_cards`)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kpitree.definition.spec_scorecards import ScorecardsSpec

__all__ = ["CardScope", "card_scope", "visible_cards"]


@dataclass(frozen=True, slots=True)
class CardScope:
    """The cards one reader may see; ``everything`` for admins."""

    everything: bool = False
    rep: str | None = None
    teams: frozenset[tuple[str, str]] = frozenset()
    departments: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        return not (self.everything or self.rep or self.teams or self.departments)

    def allows(self, segment: dict[str, Any]) -> bool:
        """Whether a card of ``segment`` (department, team, rep) may be read."""
        if self.everything:
            return True
        department, team, rep = (segment.get(k) for k in ("department", "team", "rep"))
        if department in self.departments:
            return True
        if team is not None and (department, team) in self.teams:
            return True
        return self.rep is not None and rep == self.rep


def _name(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip()


def card_scope(rules: ScorecardsSpec, user_name: str, admin: bool) -> CardScope:
    """The scope of the user ``user_name`` (admins: everything)."""
    if admin:
        return CardScope(everything=True)
    wanted = _name(user_name)
    for name, who in rules.access.items():
        if _name(name) == wanted:
            teams = frozenset(tuple(t.split("/", 1)) for t in who.teams if "/" in t)
            return CardScope(
                rep=who.rep,
                teams=teams,  # type: ignore[arg-type]
                departments=frozenset(who.departments),
            )
    return CardScope()


def visible_cards(found: dict[str, Any], scope: CardScope) -> dict[str, Any]:
    """``found`` (as :func:`kpitree.review.scorecard.scorecards` returns it)
    with only the cards ``scope`` allows."""
    return {**found, "cards": [c for c in found["cards"] if scope.allows(c["segment"])]}
