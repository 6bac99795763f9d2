from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kpitree.definition.resolve import load_tree
from kpitree.definition.tree import Tree

# The example of the [core] issue, verbatim: it must be accepted unchanged.
ISSUE_EXAMPLE = (
    Path(__file__).parents[1] / "fixtures" / "issue_example" / "kpitree.yaml"
).read_text(encoding="utf-8")


@pytest.fixture
def write_tree(tmp_path: Path) -> Callable[[str], Tree]:
    """Write a kpitree.yaml into a fresh folder and load it."""
    counter = iter(range(1_000_000))

    def write(text: str) -> Tree:
        folder = tmp_path / f"p{next(counter)}"
        folder.mkdir()
        (folder / "kpitree.yaml").write_text(text, encoding="utf-8")
        return load_tree(str(folder))

    return write


@pytest.fixture
def example(write_tree: Callable[[str], Tree]) -> Tree:
    return write_tree(ISSUE_EXAMPLE)
