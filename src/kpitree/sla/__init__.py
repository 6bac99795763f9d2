"""Hand-off SLA reports: compliance, response times, breaches and cases about
to breach, per SLA rule and per owner or team."""

from kpitree.sla.report import SlaGroup, SlaReport, SlaRuleReport, sla_report

__all__ = ["SlaGroup", "SlaReport", "SlaRuleReport", "sla_report"]
