"""The definition's history on the web: ``GET /api/plan/revisions`` (the
JSON twin of the Plan page's history section, see
:mod:`kpitree.review.revision_view`) and :func:`plan_history` for the page."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Query

from kpitree.web.contract import errors
from kpitree.web.deps import get_lang, get_project, require_viewer
from kpitree.web.users import User

if TYPE_CHECKING:
    from kpitree.project import Project

__all__ = ["plan_history", "router"]

router = APIRouter()


def plan_history(
    project: Project, lang: str, diff: int | None = None, against: int | None = None
) -> dict[str, Any]:
    from kpitree.definition.draft import DEFINITION_FILE
    from kpitree.review.revision_view import revision_history
    from kpitree.review.service import default_author

    return revision_history(
        project.path,
        project.path / DEFINITION_FILE,
        project.tree.timezone,
        lambda: default_author(project.path),
        lang,
        diff,
        against,
    )


@router.get(
    "/api/plan/revisions",
    tags=["actions"],
    summary="Revisions of the definition",
    responses=errors(400),
)
def api_revisions(
    diff: int | None = Query(None, description="Show every change of this revision."),
    against: int | None = Query(
        None, description="…compared with this revision (default: the one before)."
    ),
    project: Project = Depends(get_project),
    lang: str = Depends(get_lang),
    _: User = Depends(require_viewer),
) -> dict[str, Any]:
    """Every revision (newest first) with the time it was in force (``at`` to
    ``until``), author, reason and the targets, assumptions and shares it
    changed; with ``?diff=N`` every change of revision N against ``against``,
    as ``kpitree revisions --diff N --json``. An unknown revision is 400 (KT230)."""
    return plan_history(project, lang, diff, against)
