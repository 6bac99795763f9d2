"""What an alert says, in Japanese or English: one line of text, an e-mail
(subject, plain text, HTML), a Slack Block Kit message and a webhook body.

Everything is rendered from an event's stored facts, so the history reads the
same after the definition changes. Labels and segment values (team and rep
names from imported data) are escaped for where they go: HTML in the e-mail,
Slack's ``&``, ``<``, ``>`` in Slack text (no ``<!channel>``, no ``<url|link>``);
the webhook carries them as JSON strings."""

from __future__ import annotations

import html as html_lib
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from kpitree.escaping import slack_text
from kpitree.i18n import t
from kpitree.i18n.numbers import format_value

__all__ = [
    "breaches_query",
    "email_parts",
    "headline",
    "link",
    "rule_label",
    "slack_payload",
    "summary",
    "webhook_body",
]


def _label(facts: Mapping[str, Any], key: str, fallback: str, lang: str) -> str:
    label = facts.get(key) or {}
    first, second = (
        (label.get("ja"), label.get("en")) if lang == "ja" else (label.get("en"), label.get("ja"))
    )
    return str(first or second or fallback)


def rule_label(event: Mapping[str, Any], lang: str) -> str:
    """The rule's label as stored with the event (else its id)."""
    return _label(event["facts"], "rule_label", event["rule"], lang)


def segment_text(
    segment: list[list[Any]],
    lang: str,
    names: Mapping[str, str] | None = None,
    departments: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    """``部門: インサイドセールス / 担当者: 佐藤`` (a rep by the name, a
    department by the label stored with the event, else the id)."""
    if not segment:
        return t("alerts.company", lang=lang)
    names = names or {}
    departments = departments or {}

    def shown(key: str, value: Any) -> str:
        if value is None:
            return "—"
        if key == "rep":
            return str(names.get(value, value))
        if key == "department" and value in departments:
            label = departments[value]
            return str(label.get(lang) or label.get("en") or value)
        return str(value)

    return " / ".join(f"{t('alerts.level.' + k, lang=lang)}: {shown(k, v)}" for k, v in segment)


def _segment(event: Mapping[str, Any], lang: str) -> str:
    facts = event["facts"]
    return segment_text(
        event["segment"], lang, facts.get("rep_names"), facts.get("department_labels")
    )


def _pct(value: Any) -> str:
    return "—" if value is None else f"{float(value):,.1f}%"


def _signed_pct(value: Any) -> str:
    return "—" if value is None else f"{float(value):+,.1f}%"


def _points(value: Any) -> str:
    return "—" if value is None else f"{float(value):,.1f}"


def summary(event: Mapping[str, Any], lang: str) -> str:
    """The condition in one sentence, with the numbers."""
    facts: Mapping[str, Any] = event["facts"]
    unit = facts.get("unit")
    currency = facts.get("currency", "JPY")

    def v(key: str) -> str:
        return format_value(facts.get(key), unit, currency, lang)

    params = {
        "node": _label(facts, "node_label", event["node"], lang),
        "segment": _segment(event, lang),
        "actual": v("actual"),
        "reference": v("reference"),
        "forecast": v("forecast"),
        "previous": v("previous"),
        "compared": v("compared"),
        "ratio": _pct(facts.get("ratio")),
        "threshold": _pct(facts.get("threshold")),
        "change": _signed_pct(facts.get("change")),
        "period": event.get("period") or "",
        "breaches": facts.get("breaches"),
        "cases": facts.get("cases"),
        "count_threshold": facts.get("threshold"),
        "sla": _label(facts, "sla_label", str(event["node"]).removeprefix("sla:"), lang),
        "days": facts.get("days"),
        "idle": facts.get("idle_days"),
        "latest": facts.get("latest") or "—",
        # Conditions on accounts (tier_change, engagement_surge).
        "account": facts.get("account_name") or facts.get("account") or "",
        "tier_before": facts.get("tier_before") or t("abm.no_tier", lang=lang),
        "tier_after": facts.get("tier_after") or t("abm.no_tier", lang=lang),
        "score_before": _points(facts.get("score_before")),
        "score_after": _points(facts.get("score_after")),
        "engagement_before": _points(facts.get("engagement_before") or 0.0),
        "engagement_after": _points(facts.get("engagement_after")),
        "threshold_points": _points(facts.get("threshold_points")),
    }
    condition = facts.get("condition", "")
    if condition == "data_quality":
        from kpitree.alerts.quality import quality_summary

        text = quality_summary(event, lang)
        return (
            t("alerts.resolved_text", lang=lang, detail=text)
            if event["kind"] == "resolved"
            else text
        )
    key = f"alerts.condition.{condition}"
    if condition == "no_data" and facts.get("latest") is None:
        key = "alerts.condition.no_data_never"
    text = t(key, lang=lang, **params)
    if event["kind"] == "resolved":
        return t("alerts.resolved_text", lang=lang, detail=text)
    return text


def headline(event: Mapping[str, Any], lang: str) -> str:
    """``[Alert · critical] <rule>``: the subject line."""
    facts = event["facts"]
    return t(
        "alerts.subject",
        lang=lang,
        kind=t(f"alerts.kind.{event['kind']}", lang=lang),
        severity=t(f"alerts.severity.{event['severity']}", lang=lang),
        rule=_label(facts, "rule_label", event["rule"], lang),
    )


def breaches_query(event: Mapping[str, Any]) -> dict[str, str] | None:
    """For a fired (or renotified) SLA breach alert, the parameters of the
    dashboard's case list (``/sla/cases``) of the breaches it counted: its SLA
    rule's breached cases of its period, as they stood when it was raised, of
    its rep (``owner``), team or department (an empty value: unassigned) and
    other dimensions. ``None`` for other events, and for a segment the list
    cannot express (no value of a dimension other than those three)."""
    from kpitree.filter_text import filter_text

    node = str(event.get("node") or "")
    facts = event.get("facts") or {}
    if (
        not node.startswith("sla:")
        or event.get("kind") == "resolved"
        or "breaches" not in facts
        or not event.get("period")
    ):
        return None
    out = {"period": str(event["period"]), "rule": node.removeprefix("sla:"), "status": "breached"}
    for dim, value in dict(event.get("segment") or {}).items():
        if dim in ("rep", "owner"):
            out["owner"] = "" if value is None else str(value)
        elif value is not None:
            out[dim] = filter_text([value])
        elif dim in ("department", "team"):
            out[dim] = ""
        else:
            return None
    out["at"] = str(event["at"])
    return out


def link(event: Mapping[str, Any], base_url: str | None) -> str | None:
    """The node's dashboard page for the event's period (an SLA breach
    alert: the breaches it counted)."""
    if not base_url:
        return None
    node = str(event["node"])
    period = quote(str(event.get("period") or ""), safe="")
    if node.startswith("sla:"):
        cases = breaches_query(event)
        if cases is not None:
            return f"{base_url.rstrip('/')}/sla/cases?{urlencode(cases, quote_via=quote)}"
        return f"{base_url.rstrip('/')}/sla?period={period}"
    if node.startswith("quality:"):
        return f"{base_url.rstrip('/')}/data/quality"
    if node.startswith("abm:"):
        account = dict(event["segment"]).get("account") or ""
        return f"{base_url.rstrip('/')}/accounts/{quote(str(account), safe='')}"
    return f"{base_url.rstrip('/')}/nodes/{quote(node, safe='')}?period={period}"


def _numbers(event: Mapping[str, Any], lang: str) -> list[tuple[str, str]]:
    facts = event["facts"]
    unit = facts.get("unit")
    currency = facts.get("currency", "JPY")
    segment = _segment(event, lang)
    rows = [(t("alerts.field.segment", lang=lang), segment)]
    if event.get("period"):
        rows.append((t("alerts.field.period", lang=lang), str(event["period"])))
    for key in ("actual", "reference", "forecast", "previous"):
        if facts.get(key) is not None:
            value = format_value(facts[key], unit, currency, lang)
            rows.append((t(f"alerts.field.{key}", lang=lang), value))
    if facts.get("ratio") is not None:
        rows.append((t("alerts.field.ratio", lang=lang), _pct(facts["ratio"])))
    if facts.get("change") is not None:
        rows.append((t("alerts.field.change", lang=lang), _signed_pct(facts["change"])))
    if facts.get("breaches") is not None:
        rows.append((t("alerts.field.breaches", lang=lang), str(facts["breaches"])))
    rows.append(
        (
            t("alerts.field.severity", lang=lang),
            t(f"alerts.severity.{event['severity']}", lang=lang),
        )
    )
    return rows


def email_parts(event: Mapping[str, Any], lang: str, base_url: str | None) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of the e-mail about ``event``."""
    subject = headline(event, lang)
    sentence = summary(event, lang)
    url = link(event, base_url)
    rows = _numbers(event, lang)
    text = "\n".join([sentence, "", *(f"{k}: {v}" for k, v in rows)])
    if url:
        text += f"\n\n{t('alerts.link', lang=lang)}: {url}"
    esc = html_lib.escape
    cells = "".join(
        f'<tr><th style="text-align:left;padding:2px 12px 2px 0">{esc(k)}</th>'
        f"<td>{esc(v)}</td></tr>"
        for k, v in rows
    )
    body = f"<p>{esc(sentence)}</p><table>{cells}</table>"
    if url:
        body += f'<p><a href="{esc(url)}">{esc(t("alerts.link", lang=lang))}</a></p>'
    page = (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{esc(subject)}</title></head><body>{body}</body></html>"
    )
    return subject, text + "\n", page


def slack_payload(event: Mapping[str, Any], lang: str, base_url: str | None) -> dict[str, Any]:
    """A Block Kit message: header, the sentence, the numbers, a link button."""
    sentence = summary(event, lang)
    url = link(event, base_url)
    fields = [
        {"type": "mrkdwn", "text": f"*{slack_text(k)}*\n{slack_text(v)}"}
        for k, v in _numbers(event, lang)
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": headline(event, lang)[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": slack_text(sentence)}},
        {"type": "section", "fields": fields[:10]},
    ]
    if url:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": t("alerts.link", lang=lang)},
                        "url": url,
                    }
                ],
            }
        )
    # The notification text is read as mrkdwn too.
    return {"text": slack_text(f"{headline(event, lang)}: {sentence}"), "blocks": blocks}


def webhook_body(event: Mapping[str, Any], lang: str, base_url: str | None) -> bytes:
    """The JSON a generic webhook receives (UTF-8, compact, keys sorted)."""
    payload = {
        "id": event["id"],
        "kind": event["kind"],
        "rule": event["rule"],
        "node": event["node"],
        "segment": dict(event["segment"]),
        "severity": event["severity"],
        "period": event.get("period"),
        "at": event["at"],
        "facts": event["facts"],
        "message": summary(event, lang),
        "url": link(event, base_url),
    }
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode(
        "utf-8"
    )
