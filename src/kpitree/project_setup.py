"""Creating a project from a template and checking its design: what
``kpitree init`` and ``kpitree check`` do (:meth:`kpitree.Project.init`,
:meth:`kpitree.Project.check`)."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from kpitree.definition.location import DEFINITION_FILE, find_definition
from kpitree.errors import Diagnostic, Severity, Span, UserError

if TYPE_CHECKING:
    from kpitree.definition.resolve import CheckResult

__all__ = ["TEMPLATES", "check_project", "init_project"]

TEMPLATES = ("the-model",)


def check_project(path: str | Path = ".") -> CheckResult:
    """Every design problem of the definition at ``path``, including what
    planning finds (as warnings: the design may be unfinished)."""
    from kpitree.definition.resolve import CheckResult, check_definition
    from kpitree.planning.plan import make_plan

    result = check_definition(str(find_definition(path)))
    if result.tree is None:
        return result
    plan = make_plan(result.tree)
    extra = [
        Diagnostic(Severity.WARNING, d.code, d.key, d.params, d.span) for d in plan.diagnostics
    ]
    for node in result.tree.nodes.values():
        planned = plan.nodes[node.id].value is not None
        no_value = node.target is None and node.assume is None
        if node.kind == "kpi" and node.is_input and not planned and no_value:
            extra.append(
                Diagnostic(Severity.WARNING, "KT101", "def.no_target", {"node": node.id}, node.span)
            )
    from kpitree.compute.metrics import catalogue
    from kpitree.project import Project

    metrics = catalogue(result.tree).diagnostics
    project = Project(result.tree, find_definition(path).parent)
    extra += project.owner_warnings()
    extra += project.quality_errors()
    return CheckResult(
        None if any(d.is_error for d in metrics) else result.tree,
        (*result.diagnostics, *metrics, *extra),
    )


def init_project(
    folder: str | Path,
    template: str = "the-model",
    *,
    force: bool = False,
    name: str | None = None,
    lang: str | None = None,
) -> Path:
    """:meth:`kpitree.Project.init`: copy ``template`` into ``folder``, named
    and in the language asked for; returns the definition file."""
    if name is not None and not name.strip():
        raise UserError.of("KT660", "project.empty_name", None)
    if lang is not None and lang not in ("ja", "en"):
        raise UserError.of("KT661", "project.bad_lang", None, language=lang)
    if template not in TEMPLATES:
        from kpitree.source import did_you_mean

        raise UserError.of(
            "KT301",
            "project.unknown_template",
            None,
            template=template,
            templates=", ".join(TEMPLATES),
            hint=did_you_mean(template, TEMPLATES),
        )
    target = Path(folder)
    definition = target / DEFINITION_FILE
    if definition.exists() and not force:
        raise UserError.of(
            "KT302", "project.exists", Span(str(definition), 1, 1), path=str(definition)
        )
    target.mkdir(parents=True, exist_ok=True)
    source = resources.files("kpitree") / "templates" / template
    for entry in source.iterdir():
        if entry.is_file():
            with resources.as_file(entry) as src:
                shutil.copyfile(src, target / entry.name)
    if name is not None or lang is not None:
        _name_project(definition, name, lang)
    return definition


def _name_project(definition: Path, name: str | None, lang: str | None) -> None:
    """Write the project's name and language into a template's definition,
    keeping its comments (a line edit, not a YAML round trip)."""
    import json
    import re

    from kpitree.i18n import t

    text = definition.read_text("utf-8")
    title = name.strip() if name is not None else t("project.default_name", lang=lang)
    # A JSON string is a YAML double-quoted scalar: any name stays one value.
    text = re.sub(
        r"^name: .*$",
        lambda _: "name: " + json.dumps(title, ensure_ascii=False),
        text,
        count=1,
        flags=re.M,
    )
    if lang is not None and not re.search(r"^notifications:", text, flags=re.M):
        text = text.rstrip("\n") + f"\n\nnotifications:\n  language: {lang}\n"
    definition.write_text(text, "utf-8")
