"""``send_mail`` over STARTTLS with a login, against a real aiosmtpd server
with a self-signed certificate, and attachments with Japanese file names."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from kpitree.alerts.channels import DeliveryError, EmailChannel
from kpitree.alerts.email import send_mail

from .conftest import free_port


@pytest.fixture
def tls_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, list[Any]]]:
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    # The client trusts it the way an operator would: through SSL_CERT_FILE.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    received: list[Any] = []

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = data.login == b"kpitree" and data.password == "秘密のパスワード".encode()
        return AuthResult(success=ok)

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    port = free_port()
    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    controller.start()
    yield port, received
    controller.stop()


def channel(port: int) -> EmailChannel:
    return EmailChannel(
        "mail",
        "127.0.0.1",
        port,
        "starttls",
        "レポート <kpitree@example.co.jp>",
        ("team@example.co.jp",),
        user="kpitree",
        password_env="KT_TEST_SMTP_PASSWORD",
    )


def test_starttls_login_html_and_attachments(
    tls_server: tuple[int, list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, received = tls_server
    monkeypatch.setenv("KT_TEST_SMTP_PASSWORD", "秘密のパスワード")
    pdf = b"%PDF-1.7 fake"
    send_mail(
        channel(port),
        to=["a@example.co.jp", "b@example.co.jp"],
        subject="週次レビュー 2026年10月",
        text="今週の KPI です。",
        html="<p>今週の <b>KPI</b> です。</p>",
        attachments=[("週次レビュー.pdf", pdf, "application/pdf")],
    )
    (envelope,) = received
    assert envelope.rcpt_tos == ["a@example.co.jp", "b@example.co.jp"]
    mail = message_from_bytes(envelope.original_content, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    assert mail["Subject"] == "週次レビュー 2026年10月"
    assert mail["From"].addresses[0].display_name == "レポート"
    assert mail.get_body(("plain",)).get_content().strip() == "今週の KPI です。"  # type: ignore[union-attr]
    assert "<b>KPI</b>" in mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_filename() == "週次レビュー.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == pdf


def test_wrong_password_and_missing_variable(
    tls_server: tuple[int, list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from kpitree.errors import UserError

    port, received = tls_server
    monkeypatch.delenv("KT_TEST_SMTP_PASSWORD", raising=False)
    with pytest.raises(UserError) as caught:
        send_mail(channel(port), subject="x", text="x")
    assert caught.value.diagnostics[0].code == "KT723"
    monkeypatch.setenv("KT_TEST_SMTP_PASSWORD", "違うパスワード")
    # This test server leaves a refused login unanswered: a short timeout.
    with pytest.raises(DeliveryError):
        send_mail(replace(channel(port), timeout=1.0), subject="x", text="x")
    assert received == []
