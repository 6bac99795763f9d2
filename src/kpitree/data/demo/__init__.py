"""A synthetic Japanese B2B SaaS company, for ``kpitree demo``, tests and benchmarks.

``generate()`` returns every canonical table (see :mod:`kpitree.data.schema`)
as a ``pyarrow.Table`` plus the :class:`DemoTruth` the rows were drawn from,
so computed rates can be checked against known values:

>>> from kpitree.data.demo import generate
>>> demo = generate("tiny", seed=7)
>>> demo.tables["leads"].num_rows
3000
>>> 0.15 <= demo.truth.win_rate <= 0.30
True

Generation is vectorised (numpy), deterministic by seed, and scales from
``tiny`` (tests) to ``bench`` (1.5 million leads, 200,000 deals, 10 million
activities).
"""

from kpitree.data.demo.generator import SIZES, DemoCompany, DemoSize, generate
from kpitree.data.demo.load import DemoLoad, load_demo
from kpitree.data.demo.truth import DemoTruth, LogNormal, RepMove

__all__ = [
    "SIZES",
    "DemoCompany",
    "DemoLoad",
    "DemoSize",
    "DemoTruth",
    "LogNormal",
    "RepMove",
    "generate",
    "load_demo",
]
