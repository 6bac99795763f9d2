"""Salesforce: leads (with conversion), opportunities and their stage history,
accounts, users and roles, read through the REST API."""
