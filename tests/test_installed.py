"""The version read from a distribution's headers is the one importlib gives,
for every distribution installed here (wheels, the editable kpitree itself)."""

from __future__ import annotations

from importlib import metadata

import pytest

from kpitree.installed import installed_version


def test_every_installed_distribution_has_importlibs_version() -> None:
    names = sorted({d.metadata["Name"] for d in metadata.distributions()})
    assert len(names) > 50 and "kpitree" in names and "ibis-framework" in names
    for name in names:
        assert installed_version(name) == metadata.version(name), name


def test_a_distribution_not_installed_is_not_found() -> None:
    with pytest.raises(metadata.PackageNotFoundError):
        installed_version("no-such-distribution-kpitree")
