"""The review loop (PDCA): actions (施策) decided in review meetings, kept in
the project's app database with their history, and their realised effect
measured on the node they target (:mod:`kpitree.review.outcome`)."""

from __future__ import annotations

__all__: list[str] = []
