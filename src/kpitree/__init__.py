"""kpitree: KPI trees as code for B2B revenue teams."""

__version__ = "0.1.0"
