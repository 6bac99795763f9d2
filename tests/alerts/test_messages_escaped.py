"""Alert messages with a hostile node label: Slack text cannot mention
``<!channel>`` or make a ``<url|link>``, the e-mail's HTML part shows it as text,
the webhook carries it as a JSON string and ``kpitree alerts history`` prints it
as it is (``[/]`` is not Rich markup)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kpitree import Project
from kpitree.cli import main

from .company import DEFINITION, NOW, build
from .conftest import HttpReceiver, SmtpReceiver
from .test_run import ALERTS

LABEL = "<!channel> <http://evil.example|click> & <@U024BE7LH> [/]"
ESCAPED = "&lt;!channel&gt; &lt;http://evil.example|click&gt; &amp; &lt;@U024BE7LH&gt; [/]"


def _mrkdwn(payload: dict[str, object]) -> list[str]:
    """The payload's top-level text and every mrkdwn text of its blocks."""
    texts = [str(payload["text"])]

    def visit(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                texts.append(str(node["text"]))
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(payload["blocks"])
    return texts


def test_slack_email_webhook_and_cli_show_a_hostile_label_as_text(
    tmp_path: Path,
    http_receiver: HttpReceiver,
    smtp_receiver: SmtpReceiver,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    label = "{ja: MQL初回対応率, en: MQL first-touch compliance}"
    assert label in DEFINITION
    hostile = json.dumps({"ja": LABEL, "en": LABEL}, ensure_ascii=False)
    text = DEFINITION.replace(label, hostile) + ALERTS.format(
        http=http_receiver.port, smtp=smtp_receiver.port, threshold=80, extra=""
    )
    build(tmp_path, text)
    run = Project.load(tmp_path).alerts_run(now=NOW)
    assert run.sent == 6 and run.failed == 0

    (slack,) = http_receiver.to("/slack")
    texts = _mrkdwn(slack.json())
    assert len(texts) >= 3
    assert all("<" not in t and ">" not in t for t in texts), texts
    assert ESCAPED in texts[0] and ESCAPED in texts[1]

    html = smtp_receiver.messages[0].get_body(("html",))
    assert html is not None
    content = html.get_content()
    assert ESCAPED in content and "<http://evil" not in content and "<!channel>" not in content

    (hook,) = http_receiver.to("/hook")
    assert LABEL in hook.json()["message"]  # data, as it is, for the receiver to escape

    monkeypatch.setenv("COLUMNS", "400")  # rich wraps nothing
    capsys.readouterr()
    try:
        main(["alerts", "history", str(tmp_path)])
    except SystemExit as exc:
        assert not exc.code, capsys.readouterr().err
    assert "<http://evil.example|click> & <@U024BE7LH> [/]" in capsys.readouterr().out


def test_a_line_break_in_a_subject_neither_fails_nor_adds_a_header() -> None:
    from kpitree.alerts.channels import EmailChannel
    from kpitree.alerts.email import build_message

    channel = EmailChannel("mail", "127.0.0.1", 25, "none", "kpitree@example.co.jp", ("a@b.jp",))
    message = build_message(
        channel, to=["a@b.jp"], subject="Revenue\r\nBcc: evil@example.com", text="body"
    )
    assert message["Subject"] == "Revenue Bcc: evil@example.com"
    assert message["Bcc"] is None and b"\nBcc:" not in bytes(message)
