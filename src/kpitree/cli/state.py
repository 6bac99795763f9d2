"""Process-wide CLI switches set by the global options."""

import gc

debug = False
# Set by a command that only read, once its connections and files are closed:
# the `kpitree` program may then end without the interpreter's teardown
# (kpitree.cli.console).
finished_reading = False
# The cyclic garbage collector's thresholds as Python sets them: the `kpitree`
# program raises them for a command's run (kpitree.cli.console).
PYTHON_GC_THRESHOLDS = gc.get_threshold()


def long_running() -> None:
    """Give a command that keeps running (the dashboard) Python's own collector
    thresholds back: frequent small collections suit a server better."""
    gc.set_threshold(*PYTHON_GC_THRESHOLDS)
