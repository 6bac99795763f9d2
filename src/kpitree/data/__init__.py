"""Canonical revenue data: schema, warehouse, mappings and importers.

This layer knows nothing of KPIs or trees; it stores what the company's MA/SFA/CRM
systems say happened, in one canonical shape.
"""
