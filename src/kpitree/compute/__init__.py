"""Tree + data -> numbers per period and segment."""
