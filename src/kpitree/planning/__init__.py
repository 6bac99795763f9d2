"""Pure math on a tree: evaluation, reverse planning, allocation, cascade,
sensitivity and attribution. No I/O and no data."""
