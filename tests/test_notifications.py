"""Notifications through real servers on 127.0.0.1: a webhook that fails the first tries, an SMTP server.

Retries follow the backoff on a controllable clock; failures are recorded
attempt by attempt and a notification that gives up stays visible.
"""

from __future__ import annotations

import email
import email.policy
import json
import socketserver
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import Clock

from alerts.delivery_errors import TEMPLATES, delivery_error_in, said
from alerts.notify import NotificationSender, build_channels
from alerts.service import AlertService
from alerts.settings import (
    AlertSettings,
    ConsoleChannelSettings,
    EmailChannelSettings,
    NotificationSettings,
    Recipient,
    WebhookChannelSettings,
)
from ioc.events import AlertSignal
from ioc.store.database import Store
from ioc.store.embedded import free_port

T0 = datetime(2026, 11, 25, 21, 0, tzinfo=UTC)


class FlakyHook:
    """A real HTTP server that answers 503 to the first ``fail`` POSTs, then 200, and keeps what it got."""

    def __init__(self, fail: int) -> None:
        self.fail = fail
        self.received: list[tuple[int, dict, dict]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = 503 if len(hook.received) < hook.fail else 200
                hook.received.append((status, dict(self.headers), body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/ioc"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class TinySMTP(socketserver.ThreadingTCPServer):
    """Just enough SMTP (RFC 5321) to receive mail from smtplib on 127.0.0.1."""

    allow_reuse_address = True

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], str]] = []
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                def say(line: str) -> None:
                    self.wfile.write(line.encode() + b"\r\n")

                say("220 tiny ESMTP")
                sender, rcpts, data = "", [], []
                while line := self.rfile.readline().decode():
                    verb = line[:4].upper()
                    if verb in ("EHLO", "HELO"):
                        say("250 tiny")
                    elif verb == "MAIL":
                        sender = line.split(":", 1)[1].strip()
                        say("250 ok")
                    elif verb == "RCPT":
                        rcpts.append(line.split(":", 1)[1].strip())
                        say("250 ok")
                    elif verb == "DATA":
                        say("354 go ahead")
                        while (body := self.rfile.readline().decode()) not in (".\r\n", ""):
                            data.append(body)
                        outer.messages.append((sender, rcpts, "".join(data)))
                        say("250 queued")
                    elif verb == "QUIT":
                        say("221 bye")
                        return
                    else:
                        say("250 ok")

        super().__init__(("127.0.0.1", 0), Handler)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()


def fire(svc: AlertService, fp: str, severity: str = "critical") -> int:
    sig = AlertSignal(
        time=svc.clock(),
        source_id="574123456",
        detector="storm_ban",
        rule="storm",
        fingerprint=fp,
        status="firing",
        severity=severity,
        title="Vessel at sea during the storm ban",  # type: ignore[arg-type]
        area="Thuận An",
        details={"mmsi": 574123456},
    )
    alert_id = svc.apply(sig).alert_id
    assert alert_id is not None
    return alert_id


def attempts(store: Store) -> list[tuple]:
    with store.pool.connection() as conn:
        return conn.execute("SELECT ok, error FROM notification_attempts ORDER BY id").fetchall()


def notification(store: Store, channel: str) -> tuple:
    with store.pool.connection() as conn:
        return conn.execute(
            "SELECT state, attempts, next_attempt_at, last_error FROM notifications WHERE channel = %s",
            (channel,),
        ).fetchone()


def test_webhook_is_retried_with_backoff_until_it_answers(plain_store: Store) -> None:
    hook = FlakyHook(fail=2)
    try:
        clock = Clock(T0)
        cfg = AlertSettings(
            notifications=NotificationSettings(
                channels=[ConsoleChannelSettings(), WebhookChannelSettings(url=hook.url)],
                on_raise={"critical": ["console", "webhook"]},
                backoff_seconds=10,
                max_attempts=5,
            )
        )
        svc = AlertService(plain_store.pool, cfg, clock)
        alert = fire(svc, "storm-1")
        sender = NotificationSender(plain_store.pool, build_channels(cfg), cfg.notifications, clock)

        run = sender.run_once()
        assert (run.sent, run.retrying, run.failed) == (
            1,
            1,
            0,
        )  # the console's notice, and one webhook failure
        assert notification(plain_store, "webhook")[:3] == ("pending", 1, T0 + timedelta(seconds=10))
        assert "HTTP 503" in notification(plain_store, "webhook")[3]
        clock.advance(9.9)
        assert sender.run_once().retrying == 0  # not due yet: the backoff holds
        clock.advance(0.1)
        assert sender.run_once().retrying == 1
        assert notification(plain_store, "webhook")[:3] == ("pending", 2, clock() + timedelta(seconds=20))
        clock.advance(20)
        assert sender.run_once().sent == 1
        state, tries, _, error = notification(plain_store, "webhook")
        assert (state, tries, error) == ("sent", 3, None)
    finally:
        hook.close()
    assert [status for status, _, _ in hook.received] == [503, 503, 200]
    keys = {headers["Idempotency-Key"] for _, headers, _ in hook.received}
    assert keys == {f"ioc-notification-{hook.received[0][2]['id']}"}  # the receiver can drop duplicates
    body = hook.received[-1][2]
    assert body["alert"]["id"] == alert and body["alert"]["link"] == "/sea?mmsi=574123456"
    assert body["reason"] == "raised" and body["critical"] is True
    webhook_attempts = [a for a in attempts(plain_store) if a != (True, None)]
    assert [ok for ok, _ in webhook_attempts] == [False, False]
    assert all("HTTP 503" in (err or "") for _, err in webhook_attempts)
    assert svc.console_notices()[0]["critical"] is True


def test_a_notification_that_gives_up_stays_visible(plain_store: Store) -> None:
    clock = Clock(T0)
    dead_url = f"http://127.0.0.1:{free_port()}/nobody-listens"
    cfg = AlertSettings(
        notifications=NotificationSettings(
            channels=[ConsoleChannelSettings(), WebhookChannelSettings(url=dead_url, timeout_seconds=2)],
            on_raise={"critical": ["webhook"]},
            backoff_seconds=1,
            max_attempts=3,
        )
    )
    svc = AlertService(plain_store.pool, cfg, clock)
    alert = fire(svc, "storm-2")
    sender = NotificationSender(plain_store.pool, build_channels(cfg), cfg.notifications, clock)
    outcomes = []
    for _ in range(3):
        run = sender.run_once()
        outcomes.append((run.retrying, run.failed))
        clock.advance(60)
    assert outcomes == [(1, 0), (1, 0), (0, 1)]
    assert sender.run_once().failed == 0  # failed for good: not tried again by itself
    failed = svc.failed_notifications()
    assert [(f["alert_id"], f["channel"], f["attempts"]) for f in failed] == [(alert, "webhook", 3)]
    assert "cannot reach" in failed[0]["last_error"]
    # the console says why in its reader's language (the stored text stays English, as logged)
    said_vi = delivery_error_in(failed[0]["last_error"], "vi")
    assert said_vi.startswith("không kết nối được tới http://127.0.0.1:"), said_vi
    assert delivery_error_in(failed[0]["last_error"], "en") == failed[0]["last_error"]
    assert svc.shift_figures().notifications_failed == 1
    assert [n["state"] for n in svc.notifications_of(alert)] == ["failed"]


def test_a_webhooks_secret_url_stays_out_of_errors_logs_and_the_console(
    plain_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(T0)
    hook = FlakyHook(fail=99)
    secret_url = hook.url + "/T0KEN-in-the-path?key=sk_live_51secret"  # how chat hooks carry their token
    shown = f"http://127.0.0.1:{hook.server.server_port}"
    cfg = AlertSettings(
        notifications=NotificationSettings(
            channels=[ConsoleChannelSettings(), WebhookChannelSettings(url=secret_url)],
            on_raise={"critical": ["webhook"]},
            max_attempts=2,
        )
    )
    svc = AlertService(plain_store.pool, cfg, clock)
    alert = fire(svc, "storm-secret")
    sender = NotificationSender(plain_store.pool, build_channels(cfg), cfg.notifications, clock)
    try:
        with caplog.at_level("INFO"):
            assert sender.run_once().retrying == 1
            clock.advance(600)
            assert sender.run_once().failed == 1
    finally:
        hook.close()
    assert len(hook.received) == 2  # it was really sent to the whole URL
    with plain_store.pool.connection() as conn:
        stored = conn.execute(
            "SELECT error FROM notification_attempts UNION ALL SELECT last_error FROM notifications"
        ).fetchall()
    seen = [e for (e,) in stored] + [n["last_error"] for n in svc.notifications_of(alert)]
    seen += [f["last_error"] for f in svc.failed_notifications()] + [caplog.text]
    assert all(f"HTTP 503 Service Unavailable from {shown}" in e for e in seen), seen
    assert delivery_error_in(svc.failed_notifications()[0]["last_error"], "vi") == \
        f"{shown} trả về lỗi HTTP 503 Service Unavailable"
    assert not any("T0KEN" in e or "sk_live" in e for e in seen), seen
    # an error stored before this change, with the whole URL in it, is cut down when shown
    with plain_store.pool.connection() as conn:
        conn.execute("UPDATE notifications SET last_error = %s",
                     ("cannot reach https://hooks.example.org/services/T0KEN?key=sk_live_1: timed out",))
    assert svc.failed_notifications()[0]["last_error"] == "cannot reach https://hooks.example.org: timed out"
    assert svc.notifications_of(alert)[0]["last_error"] == "cannot reach https://hooks.example.org: timed out"


def test_email_through_a_real_smtp_server_and_a_missing_address(plain_store: Store) -> None:
    smtp = TinySMTP()
    try:
        clock = Clock(T0)
        cfg = AlertSettings(
            notifications=NotificationSettings(
                channels=[
                    ConsoleChannelSettings(),
                    EmailChannelSettings(host="127.0.0.1", port=smtp.port, sender="ioc@hue.example"),
                ],
                on_raise={"critical": ["email"]},
            ),
            recipients={
                "duty": Recipient(name="Duty desk", email="duty@hue.example"),
                "shift_lead": Recipient(name="Shift lead"),
                "director": Recipient(name="Director"),
            },
        )
        svc = AlertService(plain_store.pool, cfg, clock)
        fire(svc, "storm-3")
        sender = NotificationSender(plain_store.pool, build_channels(cfg), cfg.notifications, clock)
        assert sender.run_once().sent == 1
        ((sender_addr, rcpts, data),) = smtp.messages
        assert sender_addr == "<ioc@hue.example>" and rcpts == ["<duty@hue.example>"]
        assert "Subject: [CRITICAL] new: Vessel at sea during the storm ban" in data
        assert "Link: /sea?mmsi=574123456" in data and "Severity: critical" in data

        # a recipient without an address can never be mailed: failed at once, with the reason
        cfg.recipients["duty"].email = None
        fire(svc, "storm-4")
        run = sender.run_once()
        assert (run.sent, run.failed) == (0, 1)
        assert "no email address configured for 'duty'" in svc.failed_notifications()[0]["last_error"]
        assert delivery_error_in(svc.failed_notifications()[0]["last_error"], "vi") == \
            "chưa cấu hình địa chỉ email cho 'duty'"
    finally:
        smtp.shutdown()
        smtp.server_close()


def test_each_recipient_reads_in_their_language(plain_store: Store) -> None:
    """The duty desk's console user reads Vietnamese: its mail, subject and body, is Vietnamese, times
    in the city's zone; the shift lead (no user) gets the configured English; the console's notice
    and the audit's note read in each reader's language."""
    from alerts.escalation import Escalator
    from alerts.people import People
    from alerts.settings import EscalationPolicy, EscalationStep
    from alerts.wording import note_in
    from detectors.vessels.storm_ban import STORM_BAN_TITLE

    People(plain_store.pool).add_user("lan", "duty_officer", "a-long-enough-password")
    People(plain_store.pool).set_language("lan", "vi")
    smtp = TinySMTP()
    try:
        clock = Clock(T0)
        cfg = AlertSettings(
            notifications=NotificationSettings(
                channels=[ConsoleChannelSettings(),
                          EmailChannelSettings(host="127.0.0.1", port=smtp.port, sender="ioc@hue.example")],
                on_raise={"critical": ["email", "console"]}, language="en"),
            recipients={"duty": Recipient(name="Duty desk", email="duty@hue.example", user="lan"),
                        "shift_lead": Recipient(name="Shift lead", email="lead@hue.example")},
            escalation=[EscalationPolicy(severity="critical", steps=[
                EscalationStep(after_minutes=2.5, notify="shift_lead", channels=["email"])])],
            timezone="Asia/Ho_Chi_Minh",
        )
        svc = AlertService(plain_store.pool, cfg, clock)
        params = {"mmsi": 574123456, "area": "Thuận An"}
        alert_id = svc.apply(AlertSignal(
            time=T0, source_id="574123456", detector="storm_ban", rule="storm", fingerprint="storm-vi",
            status="firing", severity="critical", title=STORM_BAN_TITLE.format(**params),
            title_template=STORM_BAN_TITLE, title_params=params, area="Thuận An",
            details={"mmsi": 574123456})).alert_id
        sender = NotificationSender(plain_store.pool, build_channels(cfg), cfg.notifications, clock)
        assert sender.run_once().sent == 2
        ((_, rcpts, data),) = smtp.messages
        mail = email.message_from_string(data, policy=email.policy.default)
        assert rcpts == ["<duty@hue.example>"]
        title_vi = "Tàu 574123456 đang ở trên biển trong vùng cấm bão Thuận An"
        assert mail["Subject"] == f"[NGHIÊM TRỌNG] mới: {title_vi}"
        body = mail.get_content()
        assert f"Cảnh báo mới, mức nghiêm trọng: {title_vi}" in body
        assert "Mức độ: nghiêm trọng" in body and "Trạng thái: mở" in body
        assert "Lần đầu: 04:00:00 26 thg 11, 2026" in body  # 21:00 UTC on the 25th is 04:00 in Huế
        assert "21:00" not in body and "Severity" not in body
        # the console's notice: each reader's language
        [notice] = svc.console_notices()
        assert notice["subjects"]["vi"] == mail["Subject"]
        assert notice["subjects"]["en"] == \
            "[CRITICAL] new: Vessel 574123456 at sea in storm-ban area Thuận An"

        clock.advance(150)  # the step after 2.5 min: the shift lead has no user, the configured English
        assert Escalator(plain_store.pool, cfg, clock).run_once().escalated == 1
        assert sender.run_once().sent == 1
        lead = email.message_from_string(smtp.messages[-1][2], policy=email.policy.default)
        assert lead["Subject"] == \
            "[CRITICAL] ESCALATED to Shift lead: Vessel 574123456 at sea in storm-ban area Thuận An"
        assert "Severity: critical" in lead.get_content()
    finally:
        smtp.shutdown()
        smtp.server_close()
    [entry] = [e for e in svc.history(alert_id) if e.action == "escalate"]
    assert entry.note == "unacknowledged for 2.5 min: escalated to Shift lead (email)"
    # "Shift lead" is a default recipient's name: a catalogue message, said in the reader's language
    assert note_in(entry.note, entry.details, "vi") == \
        "chưa được xác nhận sau 2,5 phút: đã chuyển cấp cho Trưởng ca (email)"
    with plain_store.pool.connection() as conn:
        subjects = conn.execute("SELECT payload->'subjects' FROM notifications WHERE reason = 'escalation'"
                                ).fetchone()[0]
    assert "Trưởng ca" in subjects["vi"] and "Shift lead" in subjects["en"], subjects


def test_the_hue_config_notifies_in_vietnamese_in_its_time_zone() -> None:
    """Unless [alerts] says otherwise, notifications speak the city's language in the city's zone."""
    from alerts.settings import alert_settings
    from ioc.config import DEFAULT_CONFIG, load_settings

    settings = load_settings(DEFAULT_CONFIG)
    cfg = alert_settings(settings)
    assert (cfg.notifications.language, cfg.timezone) == ("vi", "Asia/Ho_Chi_Minh")
    object.__setattr__(settings, "alerts", {"notifications": {"language": "en"}, "timezone": "UTC"})
    cfg = alert_settings(settings)
    assert (cfg.notifications.language, cfg.timezone) == ("en", "UTC")  # the city's own choice wins


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_delivery_error_reads_in_vietnamese(template: str) -> None:
    """Each error a channel records has its Vietnamese wording, its fields read back from the stored
    English: an error without a translation would show English on a Vietnamese console."""
    fields = {"channel": "'hook'", "status": "502", "reason": "Bad Gateway", "where": "https://chat.example",
              "recipient": "'duty'", "server": "mail.hue.example:25"}
    stored = said(template, **{k: v for k, v in fields.items() if "{" + k + "}" in template})
    vi = delivery_error_in(stored, "vi")
    assert vi != stored and all(v in vi for k, v in fields.items() if "{" + k + "}" in template), vi
    assert delivery_error_in(stored, "en") == stored
    assert delivery_error_in("ConnectionResetError", "vi") == "ConnectionResetError"  # no template: as is
