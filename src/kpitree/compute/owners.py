"""Owners of facts matched to the people of the organisation.

An export names its owners the way its system does: an id (``R0016``, a HubSpot
owner number), an e-mail address or a name typed by someone (``佐々木 健``,
``佐々木　健``, ``佐々木健さん``). The organisation knows its reps by the ids of
``rep_assignments`` (with the names and e-mails of the ``reps`` table) and by the
keys of ``organisation: … teams: … reps:`` in ``kpitree.yaml``.
:func:`match_owners` is the one rule that links the two, used by the computation
(which team and rep a fact lands in), by the import summary and by
``kpitree check``:

1. the same id;
2. the same e-mail address (case and width ignored);
3. the same name once normalised (:func:`normalise_name`: NFKC, case, every
   space, a trailing honorific);
4. a name of the organisation that is only a family name (``佐々木``) matches the
   one owner whose normalised name starts with it, when exactly one such owner
   is left unmatched (two candidates are never guessed between).

Anything else stays unmatched and is reported with the closest known names.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from kpitree.data import schema
from kpitree.errors import Diagnostic, Severity, UserError
from kpitree.i18n import Msg

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from kpitree.engines import Engine

__all__ = [
    "OWNER_TABLES",
    "KnownRep",
    "Owner",
    "OwnerMatch",
    "OwnerMatching",
    "Unmatched",
    "batch_owners",
    "match_owners",
    "normalise_name",
    "owner_matching",
]

OWNER_TABLES = ("leads", "deals", "accounts", "activities")
"""Canonical tables whose ``owner_id`` names a rep."""

_HONORIFICS = ("さん", "さま", "様", "氏", "殿", "くん", "君", "ちゃん")
_TITLES = re.compile(r"^(mr|mrs|ms|miss|dr)\.?\s+", re.IGNORECASE)
_SPACES = re.compile(r"[\s\u3000\u200b]+")

How = Literal["id", "email", "name", "family_name"]


def normalise_name(text: str) -> str:
    """A name as it is compared: NFKC (full-width letters and spaces become
    half-width), lower case, a leading title (``Mr.``) and a trailing honorific
    (``さん``, ``様``, ``氏``, ``殿``, …) removed, every space removed.

    >>> normalise_name("佐々木　健 様") == normalise_name("佐々木健")
    True
    """
    name = unicodedata.normalize("NFKC", text).strip()
    name = _TITLES.sub("", name)
    name = _SPACES.sub("", name).casefold()
    for honorific in _HONORIFICS:
        if name.endswith(honorific) and len(name) > len(honorific):
            name = name[: -len(honorific)]
            break
    return name


def _email(text: str | None) -> str | None:
    if not text:
        return None
    value = unicodedata.normalize("NFKC", text).strip().casefold()
    return value if "@" in value and " " not in value else None


@dataclass(frozen=True, slots=True)
class KnownRep:
    """A person of the organisation: ``rep_id`` is what facts carry once
    matched; ``department``/``team`` place a rep ``kpitree.yaml`` declares
    (``None`` for a rep placed by ``rep_assignments``)."""

    rep_id: str
    names: tuple[str, ...] = ()
    email: str | None = None
    department: str | None = None
    team: str | None = None
    assigned: bool = False
    """Whether ``rep_assignments`` places the rep."""

    @property
    def label(self) -> str:
        return self.names[0] if self.names else self.rep_id


@dataclass(frozen=True, slots=True)
class Owner:
    """An owner named by facts: its id, and the name and e-mail the ``reps``
    table gives for it; ``facts`` counts the rows that name it."""

    owner_id: str
    name: str | None = None
    email: str | None = None
    facts: int = 0

    @property
    def label(self) -> str:
        return self.name or self.owner_id


@dataclass(frozen=True, slots=True)
class OwnerMatch:
    """How the owner id of facts was matched to a rep, and on how many facts."""

    owner_id: str
    rep_id: str
    how: How
    facts: int = 0


@dataclass(frozen=True, slots=True)
class Unmatched:
    """An owner no rep of the organisation matches: ``closest`` are the known
    names nearest to it; ``candidates`` the reps it could be when a family name
    fitted several owners (never guessed)."""

    owner_id: str
    label: str
    facts: int
    closest: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OwnerMatching:
    """How the facts' owners match the organisation's reps."""

    matches: Mapping[str, OwnerMatch] = field(default_factory=dict)
    unmatched: tuple[Unmatched, ...] = ()
    known: tuple[KnownRep, ...] = ()

    def rep_of(self) -> dict[str, str]:
        """owner id -> rep id, for the owners whose facts carry another id."""
        return {o: m.rep_id for o, m in sorted(self.matches.items()) if o != m.rep_id}

    def placement(self) -> dict[str, tuple[str, str | None]]:
        """rep id -> (department, team) for the reps ``kpitree.yaml`` places."""
        return {k.rep_id: (k.department, k.team) for k in self.known if k.department is not None}

    def placed_owners(self) -> set[str]:
        """Owners whose facts land in a team: matched to a rep that
        ``rep_assignments`` or ``kpitree.yaml`` places."""
        placed = {k.rep_id for k in self.known if k.assigned or k.department is not None}
        return {o for o, m in self.matches.items() if m.rep_id in placed}

    @property
    def by_family_name(self) -> tuple[OwnerMatch, ...]:
        return tuple(m for m in self.matches.values() if m.how == "family_name")

    def to_json(self) -> dict[str, Any]:
        return {
            "known_reps": len(self.known),
            "matched": len(self.matches),
            "unmatched": [
                {
                    "owner": u.owner_id,
                    "name": u.label,
                    "facts": u.facts,
                    "closest": list(u.closest),
                    "candidates": list(u.candidates),
                }
                for u in self.unmatched
            ],
            "by_family_name": [
                {"owner": m.owner_id, "rep": m.rep_id, "facts": m.facts}
                for m in self.by_family_name
            ],
            "unmatched_facts": sum(u.facts for u in self.unmatched),
            "diagnostics": [d.to_json() for d in self.diagnostics()],
        }

    def diagnostics(self, limit: int | None = None) -> list[Diagnostic]:
        """Warnings: each unmatched owner (``KT590``, with the closest known
        names) and each owner matched by family name alone (``KT591``)."""
        out: list[Diagnostic] = []
        shown = self.unmatched if limit is None else self.unmatched[:limit]
        for u in shown:
            if u.candidates:
                hint = Msg("people.hint.candidates", {"names": ", ".join(u.candidates)})
            elif u.closest:
                hint = Msg("people.hint.closest", {"names": ", ".join(u.closest)})
            else:
                hint = Msg("people.hint.none", {})
            out.append(
                Diagnostic(
                    Severity.WARNING,
                    "KT590",
                    "people.owner_unmatched",
                    {"owner": u.label, "facts": u.facts, "hint": hint},
                )
            )
        rest = self.unmatched[len(shown) :]
        if rest:
            out.append(
                Diagnostic(
                    Severity.WARNING,
                    "KT590",
                    "people.owners_unmatched_more",
                    {"owners": len(rest), "facts": sum(u.facts for u in rest)},
                )
            )
        labels = _labels(self.known)
        for m in self.by_family_name:
            out.append(
                Diagnostic(
                    Severity.WARNING,
                    "KT591",
                    "people.owner_family_name",
                    {"owner": m.owner_id, "rep": labels.get(m.rep_id, m.rep_id), "facts": m.facts},
                )
            )
        return out

    @property
    def digest(self) -> str:
        """Determines the SQL that resolves owners (a query cache key part)."""
        text = repr((self.rep_of(), sorted(self.placement().items())))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def match_owners(known: Sequence[KnownRep], owners: Iterable[Owner]) -> OwnerMatching:
    """Match every owner to at most one known rep (see the module's rules)."""
    ids = {k.rep_id: k for k in known}
    by_email: dict[str, set[str]] = {}
    by_name: dict[str, set[str]] = {}
    for k in known:
        for mail in {_email(k.email), _email(k.rep_id)} - {None}:
            by_email.setdefault(str(mail), set()).add(k.rep_id)
        for name in {k.rep_id, *k.names}:
            if norm := normalise_name(name):
                by_name.setdefault(norm, set()).add(k.rep_id)
    matches: dict[str, OwnerMatch] = {}
    pending: list[Owner] = []
    for owner in owners:
        found = _direct(owner, ids, by_email, by_name)
        if found is None:
            pending.append(owner)
        else:
            matches[owner.owner_id] = OwnerMatch(owner.owner_id, found[0], found[1], owner.facts)
    # A family name alone: exactly one unmatched owner (one person, however
    # many ids spell it) starts with it.
    taken = {m.rep_id for m in matches.values()}
    candidates: dict[str, list[KnownRep]] = {}
    for k in known:
        if k.rep_id in taken:
            continue
        for name in {k.rep_id, *k.names}:
            prefix = normalise_name(name)
            if not prefix or "@" in prefix or any(c.isdigit() for c in prefix):
                continue
            for owner in pending:
                norm = normalise_name(owner.name or owner.owner_id)
                if norm.startswith(prefix) and norm != prefix:
                    candidates.setdefault(owner.owner_id, []).append(k)
    people: dict[str, set[str]] = {}  # known rep -> normalised names of its candidates
    for owner in pending:
        for k in candidates.get(owner.owner_id, ()):
            people.setdefault(k.rep_id, set()).add(normalise_name(owner.name or owner.owner_id))
    unmatched: list[Unmatched] = []
    labels = _labels(known)
    for owner in pending:
        reps = {k.rep_id: k for k in candidates.get(owner.owner_id, ())}
        if len(reps) == 1:
            (rep_id,) = reps
            if len(people[rep_id]) == 1:
                matches[owner.owner_id] = OwnerMatch(
                    owner.owner_id, rep_id, "family_name", owner.facts
                )
                continue
        ambiguous = tuple(sorted(labels.get(r, r) for r in reps))
        unmatched.append(
            Unmatched(
                owner.owner_id,
                owner.label,
                owner.facts,
                _closest(owner.label, labels.values()),
                ambiguous,
            )
        )
    unmatched.sort(key=lambda u: (-u.facts, u.owner_id))
    return OwnerMatching(matches, tuple(unmatched), tuple(known))


def _direct(
    owner: Owner,
    ids: Mapping[str, KnownRep],
    by_email: Mapping[str, set[str]],
    by_name: Mapping[str, set[str]],
) -> tuple[str, How] | None:
    if owner.owner_id in ids:
        return owner.owner_id, "id"
    for mail in (_email(owner.email), _email(owner.owner_id)):
        if mail and len(by_email.get(mail, ())) == 1:
            return next(iter(by_email[mail])), "email"
    for name in (owner.name, owner.owner_id):
        if name and len(reps := by_name.get(normalise_name(name), set())) == 1:
            return next(iter(reps)), "name"
    return None


def _labels(known: Sequence[KnownRep]) -> dict[str, str]:
    return {k.rep_id: k.label for k in known}


def _closest(name: str, known: Iterable[str], n: int = 3) -> tuple[str, ...]:
    """The known names nearest to ``name`` (compared normalised)."""
    norms: dict[str, str] = {}
    for k in known:
        norms.setdefault(normalise_name(k), k)
    near = difflib.get_close_matches(normalise_name(name), list(norms), n=n, cutoff=0.4)
    return tuple(norms[m] for m in near)


# --- from the warehouse ---------------------------------------------------------------


def owner_matching(engine: Engine, facts: Mapping[str, int] | None = None) -> OwnerMatching:
    """Match owners to the organisation: the reps of ``rep_assignments`` and
    ``engine.roster``, the ``(rep, department, team)`` that ``kpitree.yaml``
    declares. The owners are those of the engine's facts, or ``facts`` (owner
    id -> rows naming it, e.g. one import's). Without ``facts`` the result is
    kept on the engine (which reads one state of the data) for its roster."""
    roster = tuple(engine.roster)
    if facts is not None:
        return _owner_matching(engine, roster, facts)
    cached = getattr(engine, "_owner_matching", None)
    if cached is not None and cached[0] == roster:
        return cached[1]  # type: ignore[no-any-return]
    result = _owner_matching(engine, roster, None)
    engine._owner_matching = (roster, result)  # type: ignore[attr-defined]
    return result


def _owner_matching(
    engine: Engine, roster: Sequence[tuple[str, str, str]], facts: Mapping[str, int] | None
) -> OwnerMatching:
    reps, assignments, counted = _organisation(engine, facts is None)
    people: dict[str, dict[str, Any]] = {
        str(r["rep_id"]): r for r in reps if r["rep_id"] is not None
    }
    assigned = sorted({str(r["rep_id"]) for r in assignments if r["rep_id"]})
    known: list[KnownRep] = []
    for rid in assigned:
        person = people.get(rid, {})
        name = (person.get("name") or "").strip()
        known.append(KnownRep(rid, (name,) if name else (), person.get("email"), assigned=True))
    places: dict[str, set[tuple[str, str]]] = {}
    for rep, dept, team in roster:
        places.setdefault(rep, set()).add((dept, team))
    for rep, where in places.items():
        if rep in assigned:
            continue
        # A rep declared in two places is placed by neither (no guess).
        place: tuple[str | None, str | None] = (None, None)
        if len(where) == 1:
            place = next(iter(where))
        known.append(KnownRep(rep, (rep,), None, *place))
    if not known:
        return OwnerMatching()
    counts = facts if facts is not None else counted if counted is not None else {}
    owners = []
    for oid, n in sorted(counts.items()):
        person = people.get(oid, {})
        owners.append(Owner(oid, person.get("name"), person.get("email"), n))
    return match_owners(known, owners)


def batch_owners(
    tables: Mapping[str, Any], counted: Mapping[str, Mapping[str, int]] | None = None
) -> dict[str, int]:
    """owner id -> rows naming it, in the tables one file feeds (Arrow tables),
    or from ``counted`` (table -> owner id -> rows) where the reader counted them."""
    counts: dict[str, int] = {}
    if counted is not None:
        for name in OWNER_TABLES:
            for owner, n in counted.get(name, {}).items():
                counts[owner] = counts.get(owner, 0) + n
        return counts
    import pyarrow.compute as pc

    for name in OWNER_TABLES:
        table = tables.get(name)
        if table is None or "owner_id" not in table.column_names:
            continue
        for item in pc.value_counts(table["owner_id"].drop_null()).to_pylist():
            owner = str(item["values"])
            counts[owner] = counts.get(owner, 0) + int(item["counts"])
    return counts


_REPS = ("reps", ("rep_id", "name", "email"))
_ASSIGNED = ("rep_assignments", ("rep_id",))


def _organisation(
    engine: Engine, count: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, int] | None]:
    """The reps' rows, the assigned reps' ids and (``count``) the owner counts of
    the facts, asked in one batch: three queries, the counts of every owner
    table in one. A database without one of the tables asks them one by one."""
    from kpitree.compute.querycache import lookup_many

    owned = [n for n in OWNER_TABLES if "owner_id" in schema.table(n).column_names]

    def counts() -> ir.Table:
        import ibis

        parts = [engine.table(name) for name in owned]
        union = ibis.union(*[t.select(owner_id=t.owner_id) for t in parts])
        named = union.filter(union.owner_id.notnull())
        return named.group_by("owner_id").aggregate(n=named.count())

    named = [(_rows_name(*_REPS), _rows_build(engine, *_REPS))]
    named.append((_rows_name(*_ASSIGNED), _rows_build(engine, *_ASSIGNED)))
    if count:
        named.append((f"owner counts {tuple(owned)}", counts))
    try:
        tables = lookup_many(engine, named)
    except UserError:  # a table missing: what there is, one by one
        rows = _rows(engine, *_REPS), _rows(engine, *_ASSIGNED)
        return *rows, _owner_counts(engine) if count else None
    found: dict[str, int] | None = None
    if count:
        found = {}
        for row in tables[2].to_pylist():
            owner = str(row["owner_id"])
            found[owner] = found.get(owner, 0) + int(row["n"])
    return tables[0].to_pylist(), tables[1].to_pylist(), found


def _rows_name(table: str, columns: Sequence[str]) -> str:
    return f"rows {table} {tuple(columns)}"


def _rows_build(engine: Engine, table: str, columns: Sequence[str]) -> Any:
    def build() -> ir.Table:
        return engine.table(table).select(*columns).distinct()

    return build


def _rows(engine: Engine, table: str, columns: Sequence[str]) -> list[dict[str, Any]]:
    from kpitree.compute.querycache import lookup

    build = _rows_build(engine, table, columns)
    try:
        return lookup(engine, _rows_name(table, columns), build).to_pylist()  # type: ignore[no-any-return]
    except UserError:  # no such table
        return []


def _owner_counts(engine: Engine) -> dict[str, int]:
    """owner id -> number of facts (rows of the owner tables) naming it."""
    from kpitree.compute.querycache import lookup

    counts: dict[str, int] = {}
    for name in OWNER_TABLES:

        def build(name: str = name) -> ir.Table:
            t = engine.table(name)
            named = t.filter(t.owner_id.notnull())
            return named.group_by("owner_id").aggregate(n=named.count())

        if "owner_id" not in schema.table(name).column_names:
            continue
        try:
            rows = lookup(engine, f"owner counts {name}", build).to_pylist()
        except UserError:  # no such table
            continue
        for row in rows:
            counts[str(row["owner_id"])] = counts.get(str(row["owner_id"]), 0) + int(row["n"])
    return counts
