"""Alerts: rules evaluated on status results, their state and history in the
project's app database, and delivery to Slack, e-mail, webhooks and the
dashboard. See docs/alerts.md."""

from kpitree.alerts.channels import (
    Channel,
    DeliveryError,
    EmailChannel,
    InAppChannel,
    SlackChannel,
    WebhookChannel,
)
from kpitree.alerts.model import AlertEvent, AlertRun, Delivery

__all__ = [
    "AlertEvent",
    "AlertRun",
    "Channel",
    "Delivery",
    "DeliveryError",
    "EmailChannel",
    "InAppChannel",
    "SlackChannel",
    "WebhookChannel",
]
