"""Notifications through real servers on 127.0.0.1: a webhook that fails the first tries, an SMTP server,
a webhook that redirects, far ends that trickle their answer, a slow webhook shared by two senders.

Retries follow the backoff on a controllable clock; failures are recorded
attempt by attempt and a notification that gives up stays visible.
"""

from __future__ import annotations

import email
import email.policy
import json
import socketserver
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import Clock

from alerts.delivery_errors import TEMPLATES, delivery_error_in, said
from alerts.notify import LEASE, NotificationSender, build_channels, enqueue
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

    def channels(self) -> list[ConsoleChannelSettings | EmailChannelSettings]:
        """The console channel and an e-mail channel to this server."""
        return [ConsoleChannelSettings(),
                EmailChannelSettings(host="127.0.0.1", port=self.port, sender="ioc@hue.example")]

    def critical_by_mail(self) -> AlertSettings:
        """Critical alerts mailed through this server to the duty desk (the only one with an address)."""
        return AlertSettings(
            notifications=NotificationSettings(channels=self.channels(), on_raise={"critical": ["email"]}),
            recipients={"duty": Recipient(name="Duty desk", email="duty@hue.example"),
                        "shift_lead": Recipient(name="Shift lead"), "director": Recipient(name="Director")})

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


class Hook:
    """A real HTTP server on 127.0.0.1: ``answer(body)`` gives each request's status and headers;
    it keeps every request it got as (method, path, headers, body)."""

    def __init__(self, answer: Callable[[bytes], tuple[int, dict[str, str]]]) -> None:
        self.received: list[tuple[str, str, dict, bytes]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.received.append((self.command, self.path, dict(self.headers), body))
                status, headers = answer(body)
                self.send_response(status)
                for name, value in {"Content-Length": "0", **headers}.items():
                    self.send_header(name, value)
                self.end_headers()

            do_GET = do_POST = _any  # noqa: N815 - http.server's names

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}/hooks/ioc"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Trickler(socketserver.ThreadingTCPServer):
    """A far end that answers one byte of ``first`` every ``pace`` seconds (each read well within a
    socket's timeout), then ``rest`` at once. ``finished``: it got its whole answer out; ``hung_up``:
    its client closed the connection while it trickled. An HTTP request is read first when ``http``."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, first: bytes, rest: bytes, pace: float, http: bool) -> None:
        self.finished, self.hung_up, self.stop = threading.Event(), threading.Event(), threading.Event()
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                if http:
                    length = 0
                    while (line := self.rfile.readline()) not in (b"\r\n", b""):
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":", 1)[1])
                    self.rfile.read(length)
                try:
                    for byte in first:
                        self.wfile.write(bytes([byte]))
                        if outer.stop.wait(pace):
                            return
                    self.wfile.write(rest)
                except OSError:  # the client hung up
                    outer.hung_up.set()
                    return
                outer.finished.set()

        super().__init__(("127.0.0.1", 0), Handler)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.shutdown()
        self.server_close()


def eventually(condition: Callable[[], bool], within: float = 30.0) -> bool:
    """Whether ``condition()`` comes true (``within`` seconds bounds a stuck test; it measures nothing)."""
    end = time.monotonic() + within
    while not condition():
        if time.monotonic() > end:
            return False
        threading.Event().wait(0.02)
    return True


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
        cfg = smtp.critical_by_mail()
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
                channels=smtp.channels(),
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
              "recipient": "'duty'", "server": "mail.hue.example:25", "location": "https://moved.example",
              "seconds": "2.5"}
    stored = said(template, **{k: v for k, v in fields.items() if "{" + k + "}" in template})
    vi = delivery_error_in(stored, "vi")
    assert vi != stored and all(v in vi for k, v in fields.items() if "{" + k + "}" in template), vi
    assert delivery_error_in(stored, "en") == stored
    assert delivery_error_in("ConnectionResetError", "vi") == "ConnectionResetError"  # no template: as is


def test_a_webhook_that_redirects_is_not_followed_and_not_delivered(plain_store: Store) -> None:
    """A 302 to another host is an error, retried and then failed: nothing (least of all the configured
    Authorization) goes to the new host, and the error names the status and the new host only."""
    clock = Clock(T0)
    elsewhere = Hook(lambda body: (200, {}))
    moved_to = f"http://127.0.0.1:{elsewhere.port}/catch/T0KEN?key=sk_live_moved"
    hook = Hook(lambda body: (302, {"Location": moved_to}))
    cfg = AlertSettings(
        notifications=NotificationSettings(
            channels=[ConsoleChannelSettings(),
                      WebhookChannelSettings(url=hook.url, headers={"Authorization": "Bearer s3cret"})],
            on_raise={"critical": ["webhook"]},
            max_attempts=2,
        )
    )
    svc = AlertService(plain_store.pool, cfg, clock)
    fire(svc, "storm-redirect")
    sender = NotificationSender(plain_store.pool, build_channels(cfg), cfg.notifications, clock)
    try:
        run = sender.run_once()
        assert (run.sent, run.retrying) == (0, 1)
        # the redirect would have been followed before the send returned: nothing reached the new host
        assert elsewhere.received == []
        state, tries, _, error = notification(plain_store, "webhook")
        assert (state, tries) == ("pending", 1)
        shown = f"http://127.0.0.1:{hook.port}"
        assert error == (f"{shown} redirected to http://127.0.0.1:{elsewhere.port} (HTTP 302); "
                         "redirects are not followed")
        assert delivery_error_in(error, "vi") == (
            f"{shown} chuyển hướng sang http://127.0.0.1:{elsewhere.port} (HTTP 302); "
            "hệ thống không đi theo chuyển hướng")
        clock.advance(600)
        assert sender.run_once().failed == 1
    finally:
        hook.close()
        elsewhere.close()
    assert elsewhere.received == []
    assert [(method, headers["Authorization"]) for method, _, headers, _ in hook.received] == \
        [("POST", "Bearer s3cret")] * 2
    seen = [e for (_, e) in attempts(plain_store)] + [svc.failed_notifications()[0]["last_error"]]
    assert not any("T0KEN" in (e or "") or "sk_live" in (e or "") or "catch" in (e or "") for e in seen), seen


def test_a_trickling_webhook_is_given_up_at_its_deadline(plain_store: Store) -> None:
    """A far end that sends its answer a byte at a time, each well within the socket's timeout, holds
    the send no longer than ``timeout_seconds``: the sender returns while it still trickles, the
    connection is closed (the far end sees its client hang up) and the send's thread ends."""
    trickler = Trickler(b"HTTP/1.1 200 OK\r\nX-Trickle: " + b"." * 40, b"\r\nContent-Length: 0\r\n\r\n",
                        pace=0.2, http=True)
    try:
        clock = Clock(T0)
        cfg = AlertSettings(
            notifications=NotificationSettings(
                channels=[ConsoleChannelSettings(), WebhookChannelSettings(
                    url=f"http://127.0.0.1:{trickler.port}/hook", timeout_seconds=1)],
                on_raise={"critical": ["webhook"]},
            )
        )
        svc = AlertService(plain_store.pool, cfg, clock)
        fire(svc, "storm-trickle")
        sender = NotificationSender(plain_store.pool, build_channels(cfg), cfg.notifications, clock)
        run = sender.run_once()
        assert not trickler.finished.is_set()  # returned before the far end got its answer out
        assert (run.sent, run.retrying) == (0, 1)
        error = notification(plain_store, "webhook")[3]
        assert error == f"no answer from http://127.0.0.1:{trickler.port} within 1 s"
        assert delivery_error_in(error, "vi") == \
            f"http://127.0.0.1:{trickler.port} không trả lời trong vòng 1 giây"
        assert trickler.hung_up.wait(30), "the connection was left open"
        assert eventually(lambda: not any(t.name.startswith("webhook ") for t in threading.enumerate()))
        assert not trickler.finished.is_set()
    finally:
        trickler.close()


def test_a_trickling_mail_server_is_given_up_at_its_deadline(plain_store: Store) -> None:
    """The same for SMTP: a greeting trickled a byte at a time is given up after ``timeout_seconds``."""
    trickler = Trickler(b"220 slow" + b"." * 40, b"\r\n", pace=0.2, http=False)
    try:
        clock = Clock(T0)
        cfg = AlertSettings(
            notifications=NotificationSettings(
                channels=[ConsoleChannelSettings(),
                          EmailChannelSettings(host="127.0.0.1", port=trickler.port, timeout_seconds=1)],
                on_raise={"critical": ["email"]},
            ),
            recipients={"duty": Recipient(name="Duty desk", email="duty@hue.example"),
                        "shift_lead": Recipient(name="Shift lead"), "director": Recipient(name="Director")},
        )
        svc = AlertService(plain_store.pool, cfg, clock)
        fire(svc, "storm-slow-mail")
        sender = NotificationSender(plain_store.pool, build_channels(cfg), cfg.notifications, clock)
        assert sender.run_once().retrying == 1
        assert not trickler.finished.is_set()
        assert notification(plain_store, "email")[3] == \
            f"no answer from SMTP 127.0.0.1:{trickler.port} within 1 s"
        assert trickler.hung_up.wait(30), "the connection was left open"
        assert eventually(lambda: not any(t.name.startswith("email ") for t in threading.enumerate()))
    finally:
        trickler.close()


def test_two_senders_over_a_slow_webhook_send_each_notification_once(plain_store: Store) -> None:
    """A batch that takes longer than its lease: a second sender takes over the rows still waiting,
    and the first one, reaching them, leaves them to it. Each answer takes 4 s of the clock (within
    the 30 s deadline); the second sender runs while the first waits for the answer that passes the
    lease. Every notification is POSTed exactly once."""
    clock = Clock(T0)
    step = 4.0
    count = int(LEASE.total_seconds() // step) + 5  # the batch outlasts its lease
    second: dict[str, object] = {}
    lock = threading.Lock()

    def answer(body: bytes) -> tuple[int, dict[str, str]]:
        clock.advance(step)
        with lock:
            start = clock() > T0 + LEASE and "thread" not in second
            if start:
                second["thread"] = threading.Thread(target=lambda: second.update(run=other.run_once()))
                second["thread"].start()  # type: ignore[attr-defined]
        if start:  # the first sender waits for this answer while the second one works
            second["thread"].join(60)  # type: ignore[attr-defined]
        return 200, {}

    hook = Hook(answer)
    try:
        cfg = AlertSettings(notifications=NotificationSettings(
            channels=[ConsoleChannelSettings(), WebhookChannelSettings(url=hook.url, timeout_seconds=30)]))
        with plain_store.pool.connection() as conn:
            for i in range(count):
                enqueue(conn, alert_id=None, channels=["webhook"], recipient="duty", reason="raised",
                        subject=f"notice {i}", payload={}, now=T0)
        first = NotificationSender(plain_store.pool, build_channels(cfg), cfg.notifications, clock)
        other = NotificationSender(plain_store.pool, build_channels(cfg), cfg.notifications, clock)
        runs = [first.run_once()]
        assert "run" in second, "the second sender never ran while the first one was sending"
        runs.append(second["run"])  # type: ignore[arg-type]
        clock.advance(3600)  # anything left (there should be nothing) is due again
        runs += [first.run_once(), other.run_once()]
    finally:
        hook.close()
    posted = Counter(json.loads(body)["id"] for _, _, _, body in hook.received)
    with plain_store.pool.connection() as conn:
        rows = conn.execute("SELECT id, state, attempts FROM notifications ORDER BY id").fetchall()
    assert len(rows) == count
    assert posted == {nid: 1 for nid, _, _ in rows}, posted
    assert {(state, tries) for _, state, tries in rows} == {("sent", 1)}
    assert sum(r.sent for r in runs) == count and runs[1].sent > 0  # both senders delivered some


def test_a_title_with_line_breaks_is_mailed_on_one_line(plain_store: Store) -> None:
    """A title from outside data may hold line breaks and control characters: the mail's subject is
    one line; a mail that cannot be written at all (an address with a line break) fails at once."""
    smtp = TinySMTP()
    try:
        clock = Clock(T0)
        cfg = smtp.critical_by_mail()
        svc = AlertService(plain_store.pool, cfg, clock)
        svc.apply(AlertSignal(
            time=T0, source_id="HS-12", detector="storm_ban", rule="late", fingerprint="crlf-title",
            status="firing", severity="critical",
            title='Dossier HS-12 "An Cựu\r\nward"\r\n\tlate\x1b \x85now'))
        sender = NotificationSender(plain_store.pool, build_channels(cfg), cfg.notifications, clock)
        assert sender.run_once().sent == 1
        mail = email.message_from_string(smtp.messages[-1][2], policy=email.policy.default)
        assert mail["Subject"] == '[CRITICAL] new: Dossier HS-12 "An Cựu ward" late now'
        # one stored with its line breaks (before subjects were one line) is sent on one line too
        with plain_store.pool.connection() as conn:
            enqueue(conn, alert_id=None, channels=["email"], recipient="duty", reason="raised",
                    subject="line one\r\nline two", payload={}, now=clock())
        assert sender.run_once().sent == 1
        mail = email.message_from_string(smtp.messages[-1][2], policy=email.policy.default)
        assert mail["Subject"] == "line one line two"

        # an address that can never be written into a mail: failed at its first attempt, with why
        cfg.recipients["duty"].email = "duty@hue.example\r\nBcc: someone@elsewhere.example"
        svc.apply(AlertSignal(
            time=T0, source_id="HS-13", detector="storm_ban", rule="late", fingerprint="crlf-address",
            status="firing", severity="critical", title="Dossier HS-13 late"))
        run = sender.run_once()
        assert (run.sent, run.retrying, run.failed) == (0, 0, 1)
        [failed] = svc.failed_notifications()
        assert failed["attempts"] == 1
        assert failed["last_error"].startswith("the e-mail to 'duty' cannot be written: ")
        assert delivery_error_in(failed["last_error"], "vi").startswith("không soạn được thư gửi 'duty': ")
        assert len(smtp.messages) == 2
    finally:
        smtp.shutdown()
        smtp.server_close()
