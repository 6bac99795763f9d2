"""The Salesforce connector (``type: salesforce``): leads (with conversion),
opportunities and their stage history, accounts, users and roles, read through
the REST API. See :mod:`kpitree.connectors.salesforce.objects` for what is read
and how, :mod:`~kpitree.connectors.salesforce.client` for the API."""

from kpitree.connectors.salesforce.connector import SalesforceConnector

__all__ = ["SalesforceConnector"]
