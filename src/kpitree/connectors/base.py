"""The connector protocol and the registry of connectors by ``type``.

See :mod:`kpitree.connectors` for how the pieces fit together.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from kpitree.errors import DataError

__all__ = [
    "CONNECTOR_MODULES",
    "Check",
    "Connector",
    "ConnectorContext",
    "ObjectInfo",
    "Page",
    "VendorCount",
    "open_connector",
    "register",
]


@dataclass(frozen=True)
class ObjectInfo:
    """One object a connector can sync (``contacts``, ``Opportunity``, an app)."""

    name: str
    id_field: str
    """The field of a row that holds the record's id (e.g. ``id``, ``Id``, ``$id``)."""
    mapping: Path | str
    """Default mapping: a file shipped with the connector (or a preset name)."""
    description: str = ""
    requires: tuple[str, ...] = ()
    """Fields the connector itself needs besides those the mapping reads
    (e.g. the modified-date field its cursor follows)."""


@dataclass
class Page:
    """One page of records as a connector read them.

    ``rows`` are the records as text: field name -> text (``None`` for an empty
    value), every field asked for present in every row, numbers and instants as
    the vendor wrote them (the mapping parses them). ``deleted`` are ids of
    records the vendor says were deleted or archived. ``cursor``, when set, is
    where the next incremental fetch starts once everything up to this page is
    stored. ``snapshot`` says that this fetch lists every live record, so a
    record it does not list is gone. ``present`` is for sources without a log of
    deleted records (kintone): the ids of every live record, listed apart from
    the changed records; a record held whose id is in no page's ``present`` (of
    a fetch that gave any) is gone.
    """

    rows: list[dict[str, str | None]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    cursor: str | None = None
    snapshot: bool = False
    present: list[str] | None = None


@dataclass(frozen=True)
class Check:
    """One line of ``kpitree sources test``: what was checked, whether it
    passed, and (rendered in the user's language) what to do if not."""

    what: str
    ok: bool
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"check": self.what, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True)
class VendorCount:
    """A number the vendor itself reports, for ``kpitree sources verify``:
    ``count`` records of ``object`` whose ``field`` falls in ``month``
    (``YYYY-MM`` in the project's time zone)."""

    object: str
    field: str
    month: str
    count: int


@dataclass(frozen=True)
class ConnectorContext:
    """What a connector gets besides its own spec."""

    name: str
    """The source's name under ``sources:``."""
    project_dir: Path
    timezone: str
    environ: Mapping[str, str]
    """Where ``*_env`` secrets are read (``os.environ``; tests pass their own)."""


class Connector(Protocol):
    """What the sync engine needs from a vendor connector.

    A connector is built by the factory registered for its ``type``:
    ``factory(spec, context) -> Connector``; building it must not touch the
    network (``kpitree sources`` lists sources offline).
    """

    def objects(self) -> Sequence[ObjectInfo]:
        """The objects this source offers, in the order they are synced."""
        ...

    def fetch(self, obj: str, fields: Sequence[str], cursor: str | None) -> Iterator[Page]:
        """Pages of ``obj``'s records with at least ``fields``: every live record
        when ``cursor`` is ``None`` (pages marked ``snapshot``), else those changed
        since ``cursor`` and the ids deleted since (the boundary may repeat:
        the engine keeps the last row of an id)."""
        ...

    def test(self, fields: Mapping[str, Sequence[str]]) -> list[Check]:
        """Connection, credentials, scopes, and that every object and field in
        ``fields`` (object -> fields the mappings read) exists."""
        ...

    def verify(self, months: Sequence[date]) -> list[VendorCount]:
        """The vendor's own counts for the months starting on ``months``."""
        ...

    def close(self) -> None:
        """Release the HTTP session."""
        ...


Factory = Callable[[Any, ConnectorContext], Connector]
_FACTORIES: dict[str, Factory] = {}

CONNECTOR_MODULES: dict[str, str] = {
    "hubspot": "kpitree.connectors.hubspot",
    "salesforce": "kpitree.connectors.salesforce",
    "kintone": "kpitree.connectors.kintone",
}
"""``type`` -> the module that registers its factory when imported."""


def register(kind: str) -> Callable[[Factory], Factory]:
    """Class or function decorator: the factory of connectors of type ``kind``."""

    def wrap(factory: Factory) -> Factory:
        _FACTORIES[kind] = factory
        return factory

    return wrap


def open_connector(spec: Any, context: ConnectorContext) -> Connector:
    """The connector for ``spec`` (a source spec with a ``type``); KT907 when
    this kpitree has no connector of that type."""
    kind = str(spec.type)
    if kind not in _FACTORIES and kind in CONNECTOR_MODULES:
        try:
            importlib.import_module(CONNECTOR_MODULES[kind])
        except ModuleNotFoundError as exc:
            if exc.name != CONNECTOR_MODULES[kind]:
                raise
    factory = _FACTORIES.get(kind)
    if factory is None:
        raise DataError.of("KT907", "sources.no_connector", source=context.name, type=kind)
    return factory(spec, context)
