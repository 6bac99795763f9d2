"""Commands over the tree definition: init, check, plan, tree, explain, demo."""

from __future__ import annotations

from kpitree.cli.app import app  # noqa: F401
