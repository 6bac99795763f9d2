"""Connectors: live data from CRM/MA systems, one folder per vendor."""
