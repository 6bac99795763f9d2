"""E-mail over SMTP: HTML and plain-text parts, Japanese subjects and bodies
encoded correctly (UTF-8 bodies, RFC 2047 subjects, RFC 2231 file names), and
attachments. Alerts and review reports send through :func:`send_mail`.

>>> from kpitree.alerts.channels import EmailChannel
>>> channel = EmailChannel("mail", "smtp.example.co.jp", 587, "starttls",
...                        "kpitree@example.co.jp", ("team@example.co.jp",))
>>> message = build_message(channel, to=["a@example.co.jp"], subject="未達アラート",
...                         text="本文", html="<p>本文</p>")
>>> message["Subject"]
'未達アラート'
>>> b"=?utf-8?b?" in bytes(message)
True
"""

from __future__ import annotations

import datetime as dt
import smtplib
import ssl
from collections.abc import Iterable, Mapping, Sequence
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from kpitree.alerts.channels import DeliveryError, EmailChannel

__all__ = ["Attachment", "build_message", "send_mail"]

Attachment = tuple[str, bytes, str]  # (file name, content, MIME type such as application/pdf)


def build_message(
    channel: EmailChannel,
    *,
    to: Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    attachments: Iterable[Attachment] = (),
    now: dt.datetime | None = None,
) -> EmailMessage:
    """The message :func:`send_mail` sends: ``multipart/alternative`` (text, then
    HTML) inside ``multipart/mixed`` when there are attachments."""
    message = EmailMessage()
    # A label with a line break must not fail the delivery (or add a header).
    message["Subject"] = " ".join(subject.splitlines())
    message["From"] = channel.sender
    message["To"] = ", ".join(to)
    message["Date"] = format_datetime(now or dt.datetime.now(dt.UTC))
    domain = channel.sender.rpartition("@")[2].strip("> ") or None
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(text, charset="utf-8")
    if html is not None:
        message.add_alternative(html, subtype="html", charset="utf-8")
    for filename, content, mime_type in attachments:
        maintype, _, subtype = mime_type.partition("/")
        message.add_attachment(
            content,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=filename,
        )
    return message


def _login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """Log in; a non-ASCII name or password (smtplib encodes them as ASCII)
    goes as UTF-8 through AUTH PLAIN, as RFC 4616 allows."""
    if user.isascii() and password.isascii():
        smtp.login(user, password)
        return
    import base64

    token = base64.b64encode(b"\0" + user.encode("utf-8") + b"\0" + password.encode("utf-8"))
    code, reply = smtp.docmd("AUTH", "PLAIN " + token.decode("ascii"))
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


def send_mail(
    channel: EmailChannel,
    *,
    to: Sequence[str] | None = None,
    subject: str,
    text: str,
    html: str | None = None,
    attachments: Iterable[Attachment] = (),
    environ: Mapping[str, str] | None = None,
) -> None:
    """Send one e-mail through ``channel`` (see ``Project.notification_channel``)
    to ``to`` (default: the channel's own recipients). Raises
    :class:`~kpitree.alerts.channels.DeliveryError` when the server cannot be
    reached or refuses the message, and a ``UserError`` (KT723) when the
    password's environment variable is not set."""
    recipients = list(to) if to else list(channel.to)
    if not recipients:
        raise DeliveryError(f"{channel.name}: no recipient", permanent=True)
    message = build_message(
        channel, to=recipients, subject=subject, text=text, html=html, attachments=attachments
    )
    password = channel.password(environ)
    try:
        if channel.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                channel.host,
                channel.port,
                timeout=channel.timeout,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(channel.host, channel.port, timeout=channel.timeout)
        with smtp:
            smtp.ehlo()
            if channel.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if channel.user is not None:
                _login(smtp, channel.user, password or "")
            smtp.send_message(message, to_addrs=recipients)
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
        raise DeliveryError(f"{channel.name}: {exc}", permanent=True) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"{channel.name}: {type(exc).__name__}: {exc}") from exc
