"""Process-wide CLI switches set by the global options."""

debug = False
# Set by a command that only read, once its connections and files are closed:
# the `kpitree` program may then end without the interpreter's teardown
# (kpitree.cli.console).
finished_reading = False
