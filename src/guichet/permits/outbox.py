"""Notifications through an outbox: a service queues a message (``queue``) in the same transaction as the
change it tells about; the scheduler's ``notifications.deliver`` job delivers what is pending.

Delivery is a file per message under ``<hub home>/outbox/`` (an RFC 5322 ``.eml``, 0600) unless the hub's
properties configure SMTP (``[properties.smtp]``: ``host``, ``port``, ``from``, ``domain`` — a recipient
account ``alice`` is mailed at ``alice@domain`` —, ``starttls``, ``user``, ``password_file`` 0600). A
message is queued once per ``dedupe`` key, so that a job that runs twice tells once.
"""

from __future__ import annotations

import os
import smtplib
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guichet.config import HubConfig, read_private_file, write_private_file
from guichet.permits.tables import Notification

OUTBOX = "outbox"
MAX_ATTEMPTS = 5


def outbox_dir(config: HubConfig) -> Path:
    return config.home / OUTBOX


def queue(session: Session, *, dedupe: str, recipient: str, subject: str, body: str, now: datetime) -> bool:
    """Queue one message unless one with the same ``dedupe`` key exists. Answers whether it was queued."""
    if session.execute(select(Notification.id).where(Notification.dedupe == dedupe)).first() is not None:
        return False
    session.add(Notification(dedupe=dedupe[:200], recipient=recipient, subject=subject[:300], body=body,
                             created_at=now, delivered_at=None, channel=None, attempts=0))
    session.flush()
    return True


def _message(config: HubConfig, note: Notification, smtp: dict[str, Any]) -> EmailMessage:
    msg = EmailMessage()
    domain = str(smtp.get("domain") or "localhost")
    msg["From"] = str(smtp.get("from") or f"guichet@{domain}")
    msg["To"] = f"{note.recipient}@{domain}"
    msg["Subject"] = note.subject
    msg["Message-ID"] = f"<notification-{note.id}@{domain}>"
    msg.set_content(note.body)
    return msg


def _send_smtp(smtp: dict[str, Any], msg: EmailMessage) -> None:
    host, port = str(smtp["host"]), int(smtp.get("port", 25))
    with smtplib.SMTP(host, port, timeout=30) as client:
        if smtp.get("starttls"):
            client.starttls()
        if smtp.get("user") and smtp.get("password_file"):
            client.login(str(smtp["user"]), read_private_file(Path(str(smtp["password_file"])), "smtp password file"))
        client.send_message(msg)


def deliver_pending(session: Session, config: HubConfig, now: datetime) -> dict[str, int]:
    """Deliver every pending message (files, or SMTP when configured). Delivered ones are never sent again."""
    configured = config.properties.get("smtp")
    smtp: dict[str, Any] = configured if isinstance(configured, dict) else {}
    pending = session.execute(select(Notification).where(Notification.delivered_at.is_(None),
                                                         Notification.attempts < MAX_ATTEMPTS)
                              .order_by(Notification.id)).scalars().all()
    sent = failed = 0
    folder = outbox_dir(config)
    for note in pending:
        msg = _message(config, note, smtp)
        note.attempts += 1
        try:
            if smtp.get("host"):
                _send_smtp(smtp, msg)
                note.channel = "smtp"
            else:
                folder.mkdir(mode=0o700, exist_ok=True)
                os.chmod(folder, 0o700)
                write_private_file(folder / f"{note.id:08d}.eml", msg.as_bytes())
                note.channel = "file"
        except (OSError, smtplib.SMTPException):
            failed += 1
            continue
        note.delivered_at = now
        sent += 1
    session.flush()
    return {"delivered": sent, "failed": failed}
