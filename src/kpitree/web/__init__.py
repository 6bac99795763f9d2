"""The web app: the dashboard and its JSON twins under ``/api``, a thin adapter
over :class:`kpitree.project.Project`."""
