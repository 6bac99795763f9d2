"""The façade: one object that CLI, web and notebooks use.

>>> from kpitree import Project
>>> project = Project.load("examples/the-model")      # doctest: +SKIP
>>> plan = project.plan()                            # doctest: +SKIP
>>> plan.nodes["sqls"].value                         # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpitree.definition.location import find_definition
from kpitree.definition.tree import Tree
from kpitree.errors import Diagnostic, PlanError, Severity, UserError

if TYPE_CHECKING:
    import datetime as dt

    from kpitree.abm.overview import AccountDetail, AccountsOverview
    from kpitree.alerts import AlertEvent, AlertRun, Channel
    from kpitree.compute.metrics import Catalogue
    from kpitree.compute.periods import Period
    from kpitree.compute.querycache import QueryCache
    from kpitree.compute.segments import CustomDimension
    from kpitree.compute.status import StatusResult
    from kpitree.definition.resolve import CheckResult
    from kpitree.engines import Engine
    from kpitree.planning.plan import Plan
    from kpitree.sla import SlaReport
    from kpitree.value_sets import Explanation

__all__ = ["TEMPLATES", "Explanation", "Project"]

from kpitree.project_setup import TEMPLATES


def __getattr__(name: str) -> Any:
    # What explains a change (sensitivity, attribution) is imported when asked
    # for: a status never is.
    if name == "Explanation":
        from kpitree.value_sets import Explanation

        return Explanation
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Project:
    """A kpitree project folder: its checked tree and what can be done with it."""

    def __init__(self, tree: Tree, path: Path) -> None:
        self.tree = tree
        self.path = path
        self._catalogue: Catalogue | None = None

    # -- data ------------------------------------------------------------------

    @property
    def warehouse_target(self) -> str:
        """Where the data is: the DuckDB file (absolute path) or a database URL."""
        from kpitree.project_data import warehouse_target

        return warehouse_target(self.tree, self.path)

    def engine(self) -> Engine:
        """An engine on the project's data (close it when done)."""
        from kpitree.project_data import open_project_engine

        return open_project_engine(self)

    def roster(self) -> tuple[tuple[str, str, str], ...]:
        """(rep, department, team) of every rep the organisation declares."""
        return tuple(
            (rep, dept.id, team.id)
            for dept in self.tree.organisation.departments.values()
            for team in dept.teams
            for rep in team.reps
        )

    def owner_warnings(self) -> list[Diagnostic]:
        """Owners of the facts that match no rep of the organisation (KT590,
        with the closest known names) or only by family name (KT591); none
        without a warehouse file yet (the check never creates one)."""
        from kpitree.compute.owners import owner_matching

        target = self.warehouse_target
        if "://" in target or not Path(target).is_file():
            return []
        with self.engine() as engine:
            return owner_matching(engine).diagnostics()

    def quality_errors(self) -> list[Diagnostic]:
        """With ``data.quality.check``: the data-quality findings at that level
        or worse, as errors of ``kpitree check`` (KT863); none without data."""
        level = self.tree.quality.check
        target = self.warehouse_target
        if level == "off" or "://" in target or not Path(target).is_file():
            return []
        from kpitree.compute.quality import check_failures

        with self.engine() as engine:
            return check_failures(engine, self.catalogue, self.tree, self.today(), level)

    def rep_names(self, engine: Engine | None = None) -> dict[str, str]:
        """rep id -> the name people know the rep by (from the ``reps`` table;
        see :mod:`kpitree.compute.people`). Reps without a name are left out."""
        from kpitree.compute.people import rep_names

        if engine is not None:
            return rep_names(engine)
        with self.engine() as eng:
            return rep_names(eng)

    def custom_dimensions(self) -> dict[str, CustomDimension]:
        """The dimensions the imports' mappings declared (``dimensions:``), by name."""
        from kpitree.compute.segments import custom_dimensions

        with self.engine() as eng:
            return custom_dimensions(eng)

    @property
    def catalogue(self) -> Catalogue:
        """Built-in and project metrics, checked."""
        if self._catalogue is None:
            from kpitree.compute.metrics import catalogue

            found = catalogue(self.tree)
            errors = [d for d in found.diagnostics if d.is_error]
            if errors:
                from kpitree.errors import DefinitionError

                raise DefinitionError(errors)
            self._catalogue = found
        return self._catalogue

    def today(self) -> dt.date:
        """Today in the project's time zone."""
        import datetime as dt
        from zoneinfo import ZoneInfo

        return dt.datetime.now(ZoneInfo(self.tree.timezone)).date()

    def period(self, text: str | None = None, *, as_of: dt.date | None = None) -> Period:
        """A period from text (``2026-10``, ``2026-Q3``, ``FY2026``...); by default
        the project's review period (a month unless set) containing ``as_of``."""
        from kpitree.compute.periods import is_all_time, parse_period, period_of

        today = as_of or self.today()
        if text is None:
            grain = self.tree.nodes[self.tree.kgi].period or "month"
            return period_of(today, grain, self.tree.fiscal_year_start)  # type: ignore[arg-type]
        if is_all_time(text):
            return self._all_time(today)
        return parse_period(text, self.tree.fiscal_year_start, today=today)

    def _all_time(self, today: dt.date) -> Period:
        """``all``: from the first day with any fact up to ``today`` (a range)."""
        from kpitree.compute.coverage import first_fact_day
        from kpitree.compute.periods import Period

        with self.engine() as engine:
            first = first_fact_day(engine, today)
        return Period(min(first or today, today), today, "range", self.tree.fiscal_year_start)

    def status(
        self,
        period: str | Period | Sequence[str | Period] | None = None,
        *,
        by: str | Sequence[str] | None = None,
        as_of: dt.date | None = None,
        filters: Mapping[str, Sequence[str | None]] | None = None,
        explain: bool = True,
        compare: bool = True,
        engine: Engine | None = None,
        targets: str = "then",
    ) -> StatusResult:
        """Actual, target, achievement, expected-to-date, forecast and status of
        every node for ``period`` (one or several), for the whole company and
        each segment level in ``by`` (``team`` means department → team).
        ``compare=False`` skips the previous period and last year.
        ``targets="then"``: each month's targets are those of the definition's
        revision in force then (see :mod:`kpitree.review.revisions`);
        ``"current"``: today's definition for every month."""
        from kpitree.project_status import project_status

        return project_status(
            self,
            period,
            by=by,
            as_of=as_of,
            filters=filters,
            explain=explain,
            compare=compare,
            engine=engine,
            targets=targets,
        )

    # -- account-based marketing ------------------------------------------------

    def accounts(
        self,
        *,
        as_of: dt.date | None = None,
        compared_with: dt.date | None = None,
        lang: str = "ja",
    ) -> AccountsOverview:
        """Every account scored under ``abm:`` on ``as_of`` (default today), with
        its change since ``compared_with`` (default the end of the previous month)."""
        from kpitree.abm.overview import accounts_overview, scoring_days

        abm, as_of, before = scoring_days(self, as_of, compared_with)
        with self.engine() as engine:
            return accounts_overview(engine, abm, self.path, as_of, before, lang)

    def import_company_master(self, file: Path, encoding: str | None = None) -> int:
        """Replace the warehouse's company master by ``file`` (see
        :mod:`kpitree.data.company_master`); the number of companies stored."""
        from kpitree.project_data import import_company_master

        return import_company_master(self, file, encoding)

    def account(
        self,
        account_id: str,
        *,
        as_of: dt.date | None = None,
        compared_with: dt.date | None = None,
        lang: str = "ja",
    ) -> AccountDetail:
        """One account's score breakdown, timeline, deals, contacts and KPIs."""
        from kpitree.abm.overview import account_detail, scoring_days

        abm, as_of, before = scoring_days(self, as_of, compared_with)
        with self.engine() as engine:
            found = account_detail(engine, abm, self.path, account_id, as_of, before, lang)
        if found is None:
            raise UserError.of("KT265", "abm.unknown_account", None, account=account_id)
        return found

    def monthly_plan(
        self, node_id: str, months: Sequence[Period], *, as_of: dt.date, targets: str = "then"
    ) -> dict[str, float]:
        """Each month's planned value of ``node_id``, as a burn-up draws it:
        with ``targets="then"`` the plan of the revision in force at the
        month's end, or on ``as_of`` for months ending after it; with
        ``"current"`` (or without a history) today's plan. Months that cannot
        be planned are left out."""
        from kpitree.project_plans import monthly_plan

        return monthly_plan(self, node_id, months, as_of=as_of, targets=targets)

    def query_cache(self) -> QueryCache:
        """The compiled SQL of this project's metric queries, kept in
        ``.kpitree/cache/queries.json`` (see :mod:`kpitree.compute.querycache`)."""
        from kpitree.compute.querycache import query_cache
        from kpitree.data.paths import WAREHOUSE_DIR

        return query_cache(self.path / WAREHOUSE_DIR / "cache" / "queries.json")

    def plan_from_history(
        self,
        history: str = "last-year",
        *,
        growth: float = 1.1,
        as_of: dt.date | None = None,
        fiscal_year: int | None = None,
    ) -> Path:
        """Rewrite kpitree.yaml with targets that grow ``history``'s actuals by
        ``growth``, assumptions set to the actual rates and averages, and the
        organisation's teams, reps and shares as the data shows them; the
        plan's fiscal year becomes ``fiscal_year`` (default: the one after
        ``history``). Comments in the file are not kept."""
        from kpitree.project_plans import plan_from_history

        return plan_from_history(self, history, growth=growth, as_of=as_of, fiscal_year=fiscal_year)

    def plan_or_none(self, fiscal_year: int) -> Plan | None:
        """The plan of ``fiscal_year``, or ``None`` when the tree cannot plan it."""
        from kpitree.planning.plan import make_plan

        try:
            return make_plan(self.tree, fiscal_year=fiscal_year)
        except PlanError:
            return None

    @classmethod
    def load(cls, path: str | Path = ".") -> Project:
        """Load and check the project at ``path`` (a folder or its kpitree.yaml);
        raises :class:`~kpitree.errors.DefinitionError` listing every error."""
        from kpitree.data.paths import WAREHOUSE_DIR
        from kpitree.definition.kept import kept_tree

        file = find_definition(path)
        # The checked tree is kept beside the compiled SQL (a project that has
        # run a command), so a later command reads it back instead of checking
        # the unchanged definition again.
        return cls(kept_tree(file, file.parent / WAREHOUSE_DIR / "cache"), file.parent)

    @staticmethod
    def check(path: str | Path = ".") -> CheckResult:
        """Every design problem of the definition at ``path``, including what
        planning finds (as warnings: the design may be unfinished)."""
        from kpitree.project_setup import check_project

        return check_project(path)

    @staticmethod
    def init(
        folder: str | Path,
        template: str = "the-model",
        *,
        force: bool = False,
        name: str | None = None,
        lang: str | None = None,
    ) -> Path:
        """Create a project in ``folder`` from a template; returns its definition.

        ``name`` names the project (default: the template's name in ``lang``);
        ``lang`` (``ja`` or ``en``) is the language its notifications are
        written in."""
        from kpitree.project_setup import init_project

        return init_project(folder, template, force=force, name=name, lang=lang)

    def plan(
        self,
        *,
        fiscal_year: int | None = None,
        overrides: Mapping[str, float] | None = None,
        scenario: str | None = None,
        from_actuals: bool = False,
        as_of: dt.date | None = None,
    ) -> Plan:
        """Plan every node (逆算) for one fiscal year.

        ``from_actuals=True`` re-plans the rest of the year from the data as of
        ``as_of`` (default: today): months before the as-of month take their
        actuals, the rest are solved so that the year still reaches its targets
        (a :class:`~kpitree.planning.replan.Replan`, with the original plan, the
        change per node and each node's landing forecast)."""
        overrides = dict(overrides or {})
        self._check_nodes(overrides)
        if scenario is not None and scenario not in self.tree.scenarios:
            from kpitree.source import did_you_mean

            raise UserError.of(
                "KT303",
                "project.unknown_scenario",
                None,
                scenario=scenario,
                hint=did_you_mean(scenario, list(self.tree.scenarios)),
            )
        from kpitree.planning.plan import make_plan

        plan = make_plan(self.tree, fiscal_year=fiscal_year, overrides=overrides, scenario=scenario)
        if not from_actuals:
            return plan
        from kpitree.project_plans import replan

        return replan(self, plan, as_of or self.today())

    def save_scenario(
        self, name: str, values: Mapping[str, float], *, label: str | None = None
    ) -> None:
        """Write ``values`` as scenario ``name`` into kpitree.yaml (replacing a
        scenario of that name; comments and layout are kept), after checking
        that they plan (unknown nodes: ``KT304``). ``kpitree plan --scenario
        <name>`` then plans it."""
        from kpitree.definition.scenarios import save_scenario

        self.plan(overrides=values)
        save_scenario(
            self.path / "kpitree.yaml", name.strip(), (label or "").strip() or None, values
        )

    def _check_nodes(self, values: Mapping[str, float], origin: str = "--set") -> None:
        from kpitree.source import did_you_mean

        errors = [
            Diagnostic(
                Severity.ERROR,
                "KT304",
                "project.unknown_node",
                {"node": k, "origin": origin, "hint": did_you_mean(k, list(self.tree.nodes))},
            )
            for k in values
            if k not in self.tree.nodes
        ]
        if errors:
            raise UserError(errors)

    def values(
        self, spec: str, *, fiscal_year: int | None = None, as_of: dt.date | None = None
    ) -> dict[str, float]:
        """A set of node values named by ``spec``: ``plan`` (the base plan), a
        scenario name, a YAML/JSON file of ``node: value``, or from data:
        ``actual@2026-10`` (actuals of a period, measured or implied),
        ``target@2026-10`` (its targets), ``expected@2026-10`` (the values
        expected by the as-of day: the targets once the period is over),
        ``forecast@2026-10`` (actuals run on to the end of the period) and
        ``previous@2026-10`` (actuals of the period before)."""
        from kpitree.value_sets import value_set

        return value_set(self, spec, fiscal_year=fiscal_year, as_of=as_of)[0]

    def explain(
        self,
        *,
        at: str = "plan",
        base: str | None = None,
        current: str | None = None,
        step: float = 0.10,
        fiscal_year: int | None = None,
        as_of: dt.date | None = None,
    ) -> Explanation:
        """Sensitivity of the KGI at ``at``; with ``base`` and ``current`` also the
        attribution of the KGI change between them. Value sets are named as in
        :meth:`values` (``plan``, a scenario, a file, ``actual@2026-10`` ...)."""
        from kpitree.value_sets import explain

        return explain(
            self, at=at, base=base, current=current, step=step, fiscal_year=fiscal_year, as_of=as_of
        )

    # -- alerts and SLAs -----------------------------------------------------------

    def notification_channel(self, name: str) -> Channel:
        """The channel ``name`` of ``notifications.channels``, resolved (an
        :class:`~kpitree.alerts.EmailChannel` is what
        :func:`kpitree.alerts.email.send_mail` takes)."""
        from kpitree.alerts.channels import resolve_channel

        return resolve_channel(self.tree, name)

    def alerts_run(
        self, *, now: dt.datetime | None = None, dry_run: bool = False, targets: str = "then"
    ) -> AlertRun:
        """Evaluate every alert rule at ``now`` (default the present; a naive
        datetime is in the project's time zone) and deliver what is due;
        ``dry_run`` changes and sends nothing. ``targets``: ``then`` (the
        revision in force in each month) or ``current`` (today's definition)."""
        from kpitree.alerts.run import run_alerts
        from kpitree.review.revisions import check_targets_choice

        check_targets_choice(targets)
        return run_alerts(self, now=now, dry_run=dry_run, targets=targets)

    def alert_events(
        self, start: dt.datetime | None = None, end: dt.datetime | None = None
    ) -> list[AlertEvent]:
        """Fired, renotified and resolved events with ``start <= at < end``,
        oldest first, with their deliveries."""
        from kpitree.alerts.run import alert_events

        return alert_events(self, start, end)

    def sla_report(
        self,
        period: str | Period | None = None,
        *,
        by: str | None = None,
        as_of: dt.date | dt.datetime | None = None,
        rules: Sequence[str] | None = None,
    ) -> SlaReport:
        """SLA compliance, P50/P95 response hours, breaches, open cases and
        cases about to breach for cases started in ``period`` (default: this
        month), per owner (``by="team"``/``"department"`` for teams), as they
        stand at ``as_of`` (a day means its end; default now)."""
        from kpitree.sla.report import project_sla_report

        return project_sla_report(self, period, by=by, as_of=as_of, rules=rules)
