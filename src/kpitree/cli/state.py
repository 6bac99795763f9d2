"""Process-wide CLI switches set by the global options."""

debug = False
