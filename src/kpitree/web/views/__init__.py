"""View models of the dashboard pages: pure functions from a project (through a
status source), a page query and a language to a ``dict`` of JSON values.

Each HTML page and its JSON twin under ``/api`` render the same view model, so
they can never disagree.
"""

from kpitree.web.views.common import DirectSource, PageQuery, StatusSource
from kpitree.web.views.departments import department_view, departments_view
from kpitree.web.views.funnel import funnel_view
from kpitree.web.views.node import node_view
from kpitree.web.views.plan import plan_view
from kpitree.web.views.tree import tree_view

__all__ = [
    "DirectSource",
    "PageQuery",
    "StatusSource",
    "department_view",
    "departments_view",
    "funnel_view",
    "node_view",
    "plan_view",
    "tree_view",
]
