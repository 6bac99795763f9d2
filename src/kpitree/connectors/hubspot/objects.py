"""What the HubSpot connector syncs, and the fields it derives for the mappings.

Objects, in the order they are synced (each has a default mapping in
``mappings/``):

- ``owners`` (``GET /crm/v3/owners``, active and archived) -> ``reps``. Listed
  whole every time (owners have no search); an archived owner stays a rep, so
  the deals they owned keep their name.
- ``companies`` -> ``accounts``.
- ``contacts`` -> ``leads`` and ``lead_stage_history``.
- ``deals`` -> ``deals`` and ``deal_stage_history``.

Some values a mapping needs are not properties of the record but follow from
the portal's pipelines and associations; the connector adds them to each row as
*derived fields* (mappings read them like any other field):

- deals ``pipeline_label``: the label of the deal's pipeline;
- deals ``dealstage_label``: the label of the deal's stage in its pipeline, as
  the portal writes it (Japanese included);
- deals ``dealstage_status``: ``won`` / ``lost`` for a closed stage of
  probability 1 / 0, else ``open``;
- deals ``date_entered_won`` / ``date_entered_lost``: the
  ``hs_v2_date_entered_<stage id>`` of the pipeline's closed-won / closed-lost
  stage (the stage the deal is in first);
- deals ``Stage entered: <label>``, one per open stage label of the portal's
  pipelines: the ``hs_v2_date_entered_<stage id>`` of the stage of that label
  in the deal's own pipeline (HubSpot's latest entry into the stage; empty for
  a stage the deal never entered). The default mapping turns every one into a
  ``deal_stage_history`` row named by the label, so the funnel shows each
  intermediate stage as the pipeline names it;
- deals ``company_id`` / ``contact_id``: the associated company / contact (the
  primary one first, else the lowest id);
- owners ``name``: family name then given name (``lastName firstName``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kpitree.connectors.base import ObjectInfo

__all__ = ["DERIVED", "OBJECTS", "STAGE_ENTERED", "HubSpotObject", "Pipelines", "owner_row"]

_MAPPINGS = Path(__file__).parent / "mappings"


@dataclass(frozen=True)
class HubSpotObject:
    info: ObjectInfo
    modified: str | None
    """The modified-date property the cursor follows (None: listed whole)."""
    created: str | None
    """The create-date property (``sources verify`` counts by it)."""
    scope: str


def _info(name: str, description: str, requires: tuple[str, ...] = ()) -> ObjectInfo:
    return ObjectInfo(name, "id", _MAPPINGS / f"{name}.yaml", description, requires)


OBJECTS = (
    HubSpotObject(_info("owners", "reps"), None, None, "crm.objects.owners.read"),
    HubSpotObject(
        _info("companies", "accounts", ("hs_lastmodifieddate",)),
        "hs_lastmodifieddate",
        "createdate",
        "crm.objects.companies.read",
    ),
    HubSpotObject(
        _info("contacts", "leads, lifecycle stage history", ("lastmodifieddate",)),
        "lastmodifieddate",
        "createdate",
        "crm.objects.contacts.read",
    ),
    HubSpotObject(
        _info("deals", "deals, deal stage history", ("hs_lastmodifieddate",)),
        "hs_lastmodifieddate",
        "createdate",
        "crm.objects.deals.read",
    ),
)

DERIVED: dict[str, dict[str, tuple[str, ...]]] = {
    "deals": {
        "pipeline_label": ("pipeline",),
        "dealstage_label": ("pipeline", "dealstage"),
        "dealstage_status": ("pipeline", "dealstage"),
        "date_entered_won": ("pipeline", "dealstage"),
        "date_entered_lost": ("pipeline", "dealstage"),
        "company_id": (),
        "contact_id": (),
    },
    "owners": {"name": ()},
}
"""Per object: derived field -> the properties it is computed from."""
STAGE_ENTERED = "Stage entered: "
"""Prefix of the deals' derived fields ``Stage entered: <open stage label>``."""


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1")


def _order(value: Any) -> float:
    try:
        return float(str(value))
    except ValueError:
        return 0.0


def _probability(value: Any) -> float | None:
    try:
        return float(str(value))
    except ValueError:
        return None


@dataclass
class Pipelines:
    """The deal pipelines of a portal, by id."""

    labels: dict[str, str] = field(default_factory=dict)
    stages: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    """(pipeline id, stage id) -> (label, status won/lost/open)."""
    closed: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    """pipeline id -> {"won": [stage ids], "lost": [stage ids]}."""
    open_stages: dict[str, dict[str, str]] = field(default_factory=dict)
    """pipeline id -> {open stage label: stage id}, in the pipeline's order."""

    @classmethod
    def of(cls, results: Sequence[dict[str, Any]]) -> Pipelines:
        found = cls()
        for pipeline in results:
            pid = str(pipeline.get("id"))
            found.labels[pid] = str(pipeline.get("label") or pid)
            closed: dict[str, list[str]] = {"won": [], "lost": []}
            opened: dict[str, str] = {}
            stages = [s for s in pipeline.get("stages") or [] if isinstance(s, dict)]
            stages.sort(key=lambda s: _order(s.get("displayOrder")))
            for stage in stages:
                sid = str(stage.get("id"))
                meta = stage.get("metadata") or {}
                status = "open"
                label = str(stage.get("label") or sid)
                if _flag(meta.get("isClosed")):
                    p = _probability(meta.get("probability"))
                    status = "won" if p is not None and p >= 1.0 else "lost"
                    closed[status].append(sid)
                else:
                    opened.setdefault(label, sid)
                found.stages[(pid, sid)] = (label, status)
            found.closed[pid] = closed
            found.open_stages[pid] = opened
        return found

    def open_labels(self) -> list[str]:
        """Every open stage label of every pipeline, pipelines in order, once."""
        seen: dict[str, None] = {}
        for opened in self.open_stages.values():
            for label in opened:
                seen.setdefault(label, None)
        return list(seen)

    def stage_fields(self) -> list[str]:
        """The derived ``Stage entered: <label>`` field of every open stage label."""
        return [f"{STAGE_ENTERED}{label}" for label in self.open_labels()]

    def entry_properties(self, *, open_stages: bool = False) -> list[str]:
        """The ``hs_v2_date_entered_<stage id>`` of every closed stage (and of
        every open one with ``open_stages``)."""
        ids = {s for c in self.closed.values() for group in c.values() for s in group}
        if open_stages:
            ids |= {s for opened in self.open_stages.values() for s in opened.values()}
        return [f"hs_v2_date_entered_{s}" for s in sorted(ids)]

    def derive(self, row: dict[str, str | None], props: dict[str, Any]) -> None:
        """Fill a deal row's pipeline and stage fields from its properties."""
        pid = str(props.get("pipeline") or "")
        sid = str(props.get("dealstage") or "")
        label, status = self.stages.get((pid, sid), (sid or None, "open"))
        row["pipeline_label"] = self.labels.get(pid, pid or None)
        row["dealstage_label"] = label
        row["dealstage_status"] = status if sid else None
        for outcome in ("won", "lost"):
            ids = self.closed.get(pid, {}).get(outcome, [])
            if sid in ids:
                ids = [sid, *[i for i in ids if i != sid]]  # the stage it is in first
            times = [props.get(f"hs_v2_date_entered_{i}") for i in ids]
            row[f"date_entered_{outcome}"] = next((str(x) for x in times if x), None)
        opened = self.open_stages.get(pid, {})
        for label in self.open_labels():
            stage_id = opened.get(label)
            entered = props.get(f"hs_v2_date_entered_{stage_id}") if stage_id else None
            row[f"{STAGE_ENTERED}{label}"] = str(entered) if entered else None


def owner_row(
    owner: dict[str, Any], fields: Sequence[str], archived: bool
) -> dict[str, str | None]:
    """An owner as a row: its own fields, ``name`` and ``archived``."""
    family = str(owner.get("lastName") or "").strip()
    given = str(owner.get("firstName") or "").strip()
    values: dict[str, Any] = {
        **owner,
        "name": " ".join(p for p in (family, given) if p) or None,
        "archived": "true" if archived else "false",
    }
    return {f: None if values.get(f) is None else str(values.get(f)) for f in fields}
