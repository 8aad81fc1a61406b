"""Notifications: an outbox in the database, channels behind one interface, retries with backoff.

Whoever decides that someone must hear of an alert (the service on raise,
the escalator) calls :func:`enqueue` inside its own transaction, so a
notification exists exactly when the change that caused it does: never
lost, never sent for a change that rolled back. :class:`NotificationSender`
then delivers the due ones: it leases a batch (moves their next attempt a
minute on and commits, so a crash mid-send retries them later), renews each
one's lease for its send just before it (a row whose lease lapsed in the
batch and that another sender took over is left to that one; the result is
recorded only while the lease is still held, so two senders never both send
one), sends each through its :class:`Channel` within the channel's deadline
(connecting and the whole answer), and records every attempt. A failure is
retried after ``backoff_seconds``, doubling up to ``backoff_max_seconds``,
until ``max_attempts``; then the notification is ``failed`` and the console
shows it. Channels: webhook (JSON POST), email (SMTP), and the console
itself (the stored row *is* the console's notice; its page plays a sound and
flashes for critical ones). A webhook's redirect is an error, never followed
(:mod:`alerts.webhook`); a mail that cannot be written fails at once.

A webhook's URL is often its own secret (a chat's incoming-hook token sits
in its path or query), so errors, logs and the console name only its scheme
and host (:func:`public_url`); :func:`redact_urls` does the same to any text. Errors are stored in
English from the templates of :mod:`alerts.delivery_errors`, which says them in a reader's language.
"""

from __future__ import annotations

import email.errors
import http.client
import json
import logging
import re
import smtplib
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any, Protocol

import psycopg
from psycopg_pool import ConnectionPool

from alerts import webhook
from alerts.deadline import Deadline, Overdue
from alerts.delivery_errors import (
    HTTP_REASON,
    HTTP_STATUS,
    NO_ADDRESS,
    NO_ANSWER,
    NO_CHANNEL,
    NOT_A_URL,
    REDIRECTED,
    SMTP_FAILED,
    UNREACHABLE,
    UNWRITABLE,
    said,
)
from alerts.settings import (
    AlertSettings,
    ChannelSettings,
    EmailChannelSettings,
    NotificationSettings,
    Recipient,
    WebhookChannelSettings,
)
from alerts.wording import email_text, one_line

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
LEASE = timedelta(seconds=60)  # a claimed notification is retried after this if its sender died
ERROR_CHARS = 500


_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def utcnow() -> datetime:
    return datetime.now(UTC)


def public_url(url: str) -> str:
    """What may be shown of a URL: ``scheme://host[:port]`` (no user, password, path or query)."""
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme or '?'}://{host}" + (f":{port}" if port else "")


def redact_urls(text: str | None) -> str | None:
    """``text`` with every URL in it cut down to its scheme and host."""
    if not text:
        return text

    def cut(m: re.Match[str]) -> str:
        url = m.group(0).rstrip(".,:;)]}")  # punctuation after a URL is the sentence's
        return public_url(url) + m.group(0)[len(url):]

    return _URL.sub(cut, text)


class DeliveryError(Exception):
    """A channel could not deliver; worth retrying."""


class PermanentDeliveryError(DeliveryError):
    """A channel can never deliver this one (no address, unknown channel): fail it now."""


@dataclass(frozen=True)
class Notification:
    """One message for one channel and recipient, as the sender hands it to the channel."""

    id: int
    alert_id: int | None
    channel: str
    recipient: str
    reason: str
    subject: str
    payload: dict[str, Any]
    attempts: int


class Channel(Protocol):
    """A way of reaching people. ``send`` returns when delivered and raises :class:`DeliveryError` if not,
    within ``deadline_seconds`` (the sender holds a notification's lease that much longer)."""

    name: str
    deadline_seconds: float

    def send(self, notification: Notification) -> None: ...


class ConsoleChannel:
    """The duty console: the stored notification is the notice the console shows; nothing to send."""

    def __init__(self, name: str = "console") -> None:
        self.name = name
        self.deadline_seconds = 0.0

    def send(self, notification: Notification) -> None:
        return None


class WebhookChannel:
    """POSTs the notification's JSON document; any 2xx answer is a delivery. A redirect is not followed
    (it is an error, named by status and the new place's scheme and host); ``timeout_seconds`` is the
    whole send's deadline, connecting and the whole answer (:mod:`alerts.webhook`)."""

    def __init__(self, cfg: WebhookChannelSettings) -> None:
        self.name = cfg.name
        self.cfg = cfg
        self.deadline_seconds = cfg.timeout_seconds

    def send(self, notification: Notification) -> None:
        body = json.dumps(
            {
                "id": notification.id,
                "reason": notification.reason,
                "recipient": notification.recipient,
                "subject": notification.subject,
                **notification.payload,
            },
            default=str,
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "ioc-alerts/1",
            "Idempotency-Key": f"ioc-notification-{notification.id}",
            **self.cfg.headers,
        }
        where = public_url(self.cfg.url)  # the full URL is a secret: never in errors or logs
        seconds = f"{self.cfg.timeout_seconds:g}"
        try:
            answer = webhook.post(self.cfg.url, body, headers, self.cfg.timeout_seconds,
                                  name=f"webhook {self.name} #{notification.id}")
        except ValueError:
            raise PermanentDeliveryError(said(NOT_A_URL, channel=repr(self.name))) from None
        except Overdue:
            raise DeliveryError(said(NO_ANSWER, where=where, seconds=seconds)) from None
        except OSError as exc:  # urllib's URLError is one
            reason = redact_urls(str(getattr(exc, "reason", exc)))
            raise DeliveryError(said(UNREACHABLE, where=where, reason=reason)) from None
        except http.client.HTTPException as exc:  # a broken answer (not HTTP, cut short)
            reason = redact_urls(str(exc)) or type(exc).__name__
            raise DeliveryError(said(UNREACHABLE, where=where, reason=reason)) from None
        if 300 <= answer.status < 400 and answer.location:
            elsewhere = public_url(urllib.parse.urljoin(self.cfg.url, answer.location))
            raise DeliveryError(said(REDIRECTED, where=where, status=answer.status, location=elsewhere))
        if not 200 <= answer.status < 300:
            if answer.reason:
                raise DeliveryError(said(HTTP_REASON, status=answer.status, reason=redact_urls(answer.reason),
                                         where=where))
            raise DeliveryError(said(HTTP_STATUS, status=answer.status, where=where))


class _SMTP(smtplib.SMTP):
    """``smtplib.SMTP`` whose connection is opened through a :class:`Deadline`, which can cut it."""

    def __init__(self, deadline: Deadline, host: str, port: int, timeout: float) -> None:
        self._deadline = deadline
        super().__init__(host, port, timeout=timeout)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return self._deadline.connect((host, port), timeout, self.source_address)


class EmailChannel:
    """Sends a plain-text mail through SMTP to the recipient's address; ``timeout_seconds`` is the whole
    send's deadline. A mail that cannot be written (an address with a line break in it) fails at once."""

    def __init__(self, cfg: EmailChannelSettings, recipients: Mapping[str, Recipient]) -> None:
        self.name = cfg.name
        self.cfg = cfg
        self.recipients = recipients
        self.deadline_seconds = cfg.timeout_seconds

    def send(self, notification: Notification) -> None:
        who = self.recipients.get(notification.recipient)
        address = who.email if who else None
        if not address:
            raise PermanentDeliveryError(said(NO_ADDRESS, recipient=repr(notification.recipient)))
        try:
            msg = EmailMessage()
            msg["From"] = self.cfg.sender
            msg["To"] = address
            msg["Subject"] = one_line(notification.subject)  # also one stored before subjects were
            # in the recipient's language (alerts/wording.py), the alert's facts labelled in it
            message = notification.payload.get("message", notification.subject)
            msg.set_content(email_text(message, notification.payload))
        except (ValueError, TypeError, LookupError, email.errors.MessageError) as exc:
            # the same mail would fail the same way on every retry
            raise PermanentDeliveryError(said(UNWRITABLE, recipient=repr(notification.recipient),
                                              reason=exc)) from None
        server = f"{self.cfg.host}:{self.cfg.port}"
        deadline = Deadline(self.cfg.timeout_seconds, f"email {self.name} #{notification.id}")

        def mail() -> None:
            with _SMTP(deadline, self.cfg.host, self.cfg.port, timeout=self.cfg.timeout_seconds) as smtp:
                if self.cfg.starttls:
                    smtp.starttls()
                if self.cfg.username:
                    smtp.login(self.cfg.username, self.cfg.password or "")
                smtp.send_message(msg)

        try:
            deadline.call(mail)
        except Overdue:
            raise DeliveryError(said(NO_ANSWER, where=f"SMTP {server}",
                                     seconds=f"{self.cfg.timeout_seconds:g}")) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(said(SMTP_FAILED, server=server, reason=exc)) from None


def build_channels(settings: AlertSettings) -> dict[str, Channel]:
    """One channel object per configured channel, by name."""
    out: dict[str, Channel] = {}
    for cfg in settings.notifications.channels:
        out[cfg.name] = _channel(cfg, settings.recipients)
    return out


def _channel(cfg: ChannelSettings, recipients: Mapping[str, Recipient]) -> Channel:
    if isinstance(cfg, WebhookChannelSettings):
        return WebhookChannel(cfg)
    if isinstance(cfg, EmailChannelSettings):
        return EmailChannel(cfg, recipients)
    return ConsoleChannel(cfg.name)


# --------------------------------------------------------------------------- the outbox

_ENQUEUE = """
INSERT INTO notifications (alert_id, channel, recipient, reason, subject, payload, next_attempt_at,
                           created_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
RETURNING id
"""


def enqueue(
    conn: psycopg.Connection,
    *,
    alert_id: int | None,
    channels: list[str],
    recipient: str,
    reason: str,
    subject: str,
    payload: dict[str, Any],
    now: datetime,
) -> list[int]:
    """Put one notification per channel in the outbox, in the caller's transaction."""
    doc = json.dumps(payload, default=str)
    ids = []
    for channel in dict.fromkeys(channels):  # each channel once, in order
        row = conn.execute(_ENQUEUE, (alert_id, channel, recipient, reason, subject[:300], doc, now, now))
        ids.append(row.fetchone()[0])  # type: ignore[index]
    return ids


@dataclass
class SendRun:
    """What one pass of the sender did (``taken``: claimed, but another sender had them by their turn)."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    taken: int = 0
    errors: list[str] = field(default_factory=list)


_CLAIM = """
WITH due AS (
    SELECT id FROM notifications
    WHERE state = 'pending' AND next_attempt_at <= %(now)s
    ORDER BY next_attempt_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE notifications n SET next_attempt_at = %(lease)s
FROM due WHERE n.id = due.id
RETURNING n.id, n.alert_id, n.channel, n.recipient, n.reason, n.subject, n.payload, n.attempts
"""
# A lease is the row's next_attempt_at as its holder wrote it: a sender may take a row over only once
# that time has passed, and writes a later one, so a holder whose lease was taken no longer finds its
# own value there. Each statement below acts only while the row still holds it.
_RENEW = """
UPDATE notifications SET next_attempt_at = %(until)s
WHERE id = %(id)s AND state = 'pending' AND next_attempt_at = %(held)s
"""
_SENT = """
UPDATE notifications SET state = 'sent', attempts = %(attempts)s, sent_at = %(now)s, last_error = NULL
WHERE id = %(id)s AND state = 'pending' AND next_attempt_at = %(held)s
"""
_NOT_SENT = """
UPDATE notifications SET state = %(state)s, attempts = %(attempts)s, last_error = %(error)s,
                         next_attempt_at = %(next)s
WHERE id = %(id)s AND state = 'pending' AND next_attempt_at = %(held)s
"""


class NotificationSender:
    """Delivers due notifications through their channels, retrying with exponential backoff.

    Several senders may run at once (scheduler jobs are safe to run twice): each notification is
    sent by the one that holds its lease. A batch is claimed for ``lease``; before each send its
    row's lease is renewed for ``lease`` plus the channel's deadline (so it cannot lapse while the
    send lasts), and a row whose lease lapsed while it waited in the batch, and was taken over by
    another sender, is left to that one.
    """

    def __init__(
        self,
        pool: ConnectionPool,
        channels: Mapping[str, Channel],
        settings: NotificationSettings | None = None,
        clock: Clock = utcnow,
        lease: timedelta = LEASE,
    ) -> None:
        self.pool = pool
        self.channels = dict(channels)
        self.settings = settings or NotificationSettings()
        self.clock = clock
        self.lease = lease
        self.health: dict[str, Any] = {"sent": 0, "retries": 0, "failed": 0, "taken": 0, "last_error": None}

    def backoff(self, attempts: int) -> timedelta:
        """Wait before the next try after ``attempts`` failed ones: base, 2×base, 4×base ... capped."""
        s = self.settings
        return timedelta(seconds=min(s.backoff_max_seconds, s.backoff_seconds * 2 ** max(0, attempts - 1)))

    def run_once(self, limit: int = 50) -> SendRun:
        """Send every due notification (up to ``limit``); returns what happened."""
        now = self.clock()
        held = now + self.lease
        with self.pool.connection() as conn, conn.transaction():
            rows = conn.execute(_CLAIM, {"now": now, "limit": limit, "lease": held}).fetchall()
        run = SendRun()
        for row in rows:
            n = Notification(*row)
            renewed = self._renew(n, held)
            if renewed is None:
                run.taken += 1
                self.health["taken"] += 1
                log.info("notification %d: taken over by another sender before its turn", n.id)
                continue
            self._deliver(n, renewed, run)
        return run

    def _renew(self, n: Notification, held: datetime) -> datetime | None:
        """Extend ``n``'s lease to cover its send; ``None`` if this sender no longer holds it."""
        channel = self.channels.get(n.channel)
        deadline = float(getattr(channel, "deadline_seconds", 0.0) or 0.0)
        until = self.clock() + self.lease + timedelta(seconds=deadline)
        with self.pool.connection() as conn, conn.transaction():
            cur = conn.execute(_RENEW, {"until": until, "id": n.id, "held": held})
            return until if cur.rowcount == 1 else None

    def _deliver(self, n: Notification, held: datetime, run: SendRun) -> None:
        channel = self.channels.get(n.channel)
        started = time.monotonic()
        error: str | None = None
        permanent = False
        try:
            if channel is None:
                raise PermanentDeliveryError(said(NO_CHANNEL, channel=repr(n.channel)))
            channel.send(n)
        except PermanentDeliveryError as exc:
            error, permanent = str(exc), True
        except Exception as exc:  # any failure of a channel is recorded and retried, never lost
            error = redact_urls(str(exc)) or type(exc).__name__
        took = int((time.monotonic() - started) * 1000)
        now = self.clock()
        attempts = n.attempts + 1
        give_up = permanent or attempts >= self.settings.max_attempts
        with self.pool.connection() as conn, conn.transaction():
            conn.execute(
                "INSERT INTO notification_attempts (notification_id, at, ok, error, duration_ms) "
                "VALUES (%s, %s, %s, %s, %s)",
                (n.id, now, error is None, error and error[:ERROR_CHARS], took),
            )
            if error is None:
                cur = conn.execute(_SENT, {"attempts": attempts, "now": now, "id": n.id, "held": held})
            else:
                cur = conn.execute(_NOT_SENT, {
                    "state": "failed" if give_up else "pending", "attempts": attempts, "id": n.id,
                    "error": error[:ERROR_CHARS], "next": now + self.backoff(attempts), "held": held,
                })
            recorded = cur.rowcount == 1
        if not recorded:  # its lease lapsed during the send (a stalled store): the new holder decides
            run.taken += 1
            self.health["taken"] += 1
            log.warning("notification %d (%s): lease lost during its send; its new holder records it",
                        n.id, n.channel)
            return
        if error is None:
            run.sent += 1
            self.health["sent"] += 1
            return
        run.errors.append(error)
        self.health["last_error"] = error
        if give_up:
            run.failed += 1
            self.health["failed"] += 1
            log.error(
                "notification %d (%s to %s) failed for good after %d attempt(s): %s",
                n.id,
                n.channel,
                n.recipient or "-",
                attempts,
                error,
            )
        else:
            run.retrying += 1
            self.health["retries"] += 1
            log.warning(
                "notification %d (%s) attempt %d failed, retrying in %s: %s",
                n.id,
                n.channel,
                attempts,
                self.backoff(attempts),
                error,
            )

    def run(self, stop: threading.Event) -> None:
        """Send until ``stop`` is set (a runtime worker)."""
        while not stop.is_set():
            try:
                busy = self.run_once()
            except psycopg.Error as exc:
                log.warning("notification sender: store unavailable: %s", exc)
                busy = SendRun()
            if not (busy.sent or busy.retrying or busy.failed):
                stop.wait(self.settings.send_every_seconds)
