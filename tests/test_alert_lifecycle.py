"""The alert lifecycle on a real PostgreSQL: transitions, roles, concurrency, silences, flapping, figures."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import Clock
from psycopg_pool import ConnectionPool

from alerts.lifecycle import (
    STATES,
    TRANSITIONS,
    Actor,
    AlertNotFound,
    NotAllowed,
    NoteRequired,
    StaleAlertError,
    TransitionRefused,
)
from alerts.models import Alert, AlertFilter
from alerts.people import People
from alerts.reads import current_shift
from alerts.service import AlertService
from alerts.settings import AlertSettings
from alerts.transitions import actions_for
from ioc.events import AlertSignal
from ioc.store.database import Store

T0 = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
LAN = Actor("lan", "duty_officer")
MINH = Actor("minh", "duty_officer")
VIEWER = Actor("kiosk", "viewer")
OPERATOR = Actor("hoa", "operator")


def signal(
    fp: str,
    status: str = "firing",
    minute: float = 0,
    *,
    detector: str = "threshold",
    area: str | None = "Đông Ba",
    severity: str = "warning",
    source: str | None = None,
) -> AlertSignal:
    return AlertSignal(
        time=T0 + timedelta(minutes=minute),
        source_id=source or fp,
        detector=detector,
        rule="co2-high",
        fingerprint=fp,
        status=status,
        severity=severity,  # type: ignore[arg-type]
        title=f"CO₂ high at {fp}",
        area=area,
        started_at=T0,
        details={"metric": "co2"},
    )


def rows(store: Store, sql: str, *params: object) -> list[tuple]:
    with store.pool.connection() as conn:
        return conn.execute(sql, params).fetchall()


def audit(store: Store, alert_id: int) -> list[tuple]:
    return rows(
        store,
        "SELECT actor, action, from_state, to_state, note FROM alert_audit WHERE alert_id = %s ORDER BY id",
        alert_id,
    )


def into_state(svc: AlertService, people_clock: Clock, fp: str, state: str) -> Alert:
    """A fresh alert brought into ``state`` through the service's own transitions."""
    alert_id = svc.apply(signal(fp)).alert_id
    assert alert_id is not None
    if state == "acknowledged":
        svc.acknowledge(alert_id, LAN)
    elif state == "assigned":
        svc.assign(alert_id, LAN, "minh")
    elif state == "silenced":
        svc.silence(alert_id, LAN, people_clock() + timedelta(hours=1), "maintenance")
    elif state in ("resolved", "reopened"):
        svc.resolve(alert_id, LAN, "fixed")
        if state == "reopened":
            svc.reopen(alert_id, LAN, "not fixed after all")
    alert = svc.get(alert_id)
    assert alert.state == state
    return alert


def test_every_legal_and_illegal_transition(plain_store: Store) -> None:
    clock = Clock(T0)
    svc = AlertService(plain_store.pool, clock=clock)
    People(plain_store.pool).add_user("minh", "duty_officer", "correct horse battery")
    calls = {
        "acknowledge": lambda a: svc.acknowledge(a.id, MINH, "on it"),
        "assign": lambda a: svc.assign(a.id, MINH, "minh", "mine"),
        "resolve": lambda a: svc.resolve(a.id, MINH, "sensor cleaned"),
        "silence": lambda a: svc.silence(a.id, MINH, clock() + timedelta(hours=2), "works on the pump"),
        "unsilence": lambda a: svc.unsilence(a.id, MINH, "works done"),
        "reopen": lambda a: svc.reopen(a.id, MINH, "still smells"),
        "comment": lambda a: svc.comment(a.id, MINH, "called the ward"),
    }
    assert set(calls) == set(TRANSITIONS)
    expected_to = {
        "acknowledge": "acknowledged",
        "assign": "assigned",
        "resolve": "resolved",
        "silence": "silenced",
        "reopen": "reopened",
    }
    legal = illegal = 0
    for n, (state, action) in enumerate((s, a) for s in STATES for a in TRANSITIONS):
        clock.advance(minutes=1)
        alert = into_state(svc, clock, f"fp-{n}", state)
        before = audit(plain_store, alert.id)
        sources, _ = TRANSITIONS[action]
        if state in sources:
            calls[action](alert)
            after = svc.get(alert.id)
            if action == "comment":
                assert after.state == state and after.version == alert.version
            elif action == "unsilence":
                assert after.state == "open", (
                    "an alert silenced before anyone acknowledged it comes back open"
                )
            else:
                assert after.state == expected_to[action], (state, action)
            assert after.version == alert.version + (action != "comment")
            new = audit(plain_store, alert.id)[len(before) :]
            assert [r[:3] for r in new] == [("minh", action, state)], (state, action, new)
            assert new[0][3] == after.state and new[0][4]  # to-state and the note are recorded
            legal += 1
        else:
            with pytest.raises(TransitionRefused) as refused:
                calls[action](alert)
            assert f"#{alert.id}" in str(refused.value)
            assert svc.get(alert.id) == alert, f"a refused {action} from {state} changed the alert"
            assert audit(plain_store, alert.id) == before
            illegal += 1
    assert (legal, illegal) == (23, 19)
    with pytest.raises(AlertNotFound):
        svc.acknowledge(10_000, LAN)


def test_roles_and_notes(plain_store: Store) -> None:
    svc = AlertService(plain_store.pool)
    alert_id = svc.apply(signal("roles")).alert_id
    assert alert_id is not None
    for actor in (VIEWER, OPERATOR):
        with pytest.raises(NotAllowed, match="duty officer or above"):
            svc.acknowledge(alert_id, actor)
        with pytest.raises(NotAllowed):
            svc.resolve(alert_id, actor, "note")
    with pytest.raises(NotAllowed):
        svc.comment(alert_id, VIEWER, "hello")
    svc.comment(alert_id, OPERATOR, "ward chief informed")
    with pytest.raises(NotAllowed):
        svc.create_silence(OPERATOR, reason="x", ends_at=T0 + timedelta(days=1), detector="threshold")
    with pytest.raises(NoteRequired):
        svc.resolve(alert_id, LAN, "  ")
    assert svc.get(alert_id).state == "open"
    svc.acknowledge(alert_id, Actor("thu", "analyst"))  # the order: analysts rank above duty officers
    assert actions_for("viewer", "open") == []
    assert actions_for("operator", "open") == ["comment"]
    assert actions_for("duty_officer", "acknowledged") == ["assign", "resolve", "silence", "comment"]
    assert [r[:4] for r in audit(plain_store, alert_id)] == [
        ("system", "raise", None, "open"),
        ("hoa", "comment", "open", "open"),
        ("thu", "acknowledge", "open", "acknowledged"),
    ]


def test_an_alert_is_only_assigned_to_someone_who_can_act_on_it(plain_store: Store) -> None:
    svc = AlertService(plain_store.pool)
    people = People(plain_store.pool)
    people.add_user("kiosk", "viewer", "correct horse battery")
    people.add_user("hoa", "operator", "correct horse battery")
    alert_id = svc.apply(signal("assignees")).alert_id
    assert alert_id is not None
    with pytest.raises(NotAllowed, match=r"kiosk \(viewer\): that role cannot act on alerts"):
        svc.assign(alert_id, LAN, "kiosk")
    assert svc.get(alert_id).state == "open" and svc.get(alert_id).assignee is None
    assert [u.name for u in people.assignable()] == ["hoa"]  # what the console offers: the same rule
    assert svc.assign(alert_id, LAN, "hoa").assignee == "hoa"


def test_a_stale_version_is_refused_naming_who_was_first(plain_store: Store) -> None:
    svc = AlertService(plain_store.pool)
    alert = svc.get(svc.apply(signal("stale")).alert_id)  # type: ignore[arg-type]
    svc.comment(alert.id, OPERATOR, "a comment does not make anyone's view stale")
    svc.acknowledge(alert.id, LAN, expected_version=alert.version)
    with pytest.raises(StaleAlertError, match=r"just acknowledged by lan at \d\d:\d\d:\d\d UTC"):
        svc.resolve(alert.id, MINH, "done", expected_version=alert.version)
    assert svc.get(alert.id).state == "acknowledged"


def test_fifty_concurrent_acknowledgements_one_wins(plain_store: Store) -> None:
    alert_id = AlertService(plain_store.pool).apply(signal("race")).alert_id
    assert alert_id is not None
    n = 50
    pool = ConnectionPool(plain_store.dsn, min_size=n, max_size=n, open=True)
    pool.wait(timeout=30)
    try:
        svc = AlertService(pool)
        barrier = threading.Barrier(n)
        results: list[tuple[str, str]] = [("", "")] * n

        def officer(i: int) -> None:
            with pool.connection():  # hold a connection of one's own before the start line
                barrier.wait()
            try:
                svc.acknowledge(alert_id, Actor(f"officer-{i}", "duty_officer"), f"mine ({i})")
                results[i] = ("ok", "")
            except TransitionRefused as exc:
                results[i] = (type(exc).__name__, str(exc))

        threads = [threading.Thread(target=officer, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        pool.close()
    winners = [i for i, (r, _) in enumerate(results) if r == "ok"]
    assert len(winners) == 1, results
    winner = f"officer-{winners[0]}"
    refusals = [msg for r, msg in results if r != "ok"]
    assert len(refusals) == n - 1
    assert all(winner in msg and f"#{alert_id}" in msg and "acknowledged" in msg for msg in refusals), (
        refusals
    )
    assert rows(plain_store, "SELECT actor FROM alert_audit WHERE action = 'acknowledge'") == [(winner,)]
    assert rows(plain_store, "SELECT state, version, acknowledged_by FROM alerts") == [
        ("acknowledged", 2, winner)
    ]


def test_dedupe_and_grouping_into_incidents(plain_store: Store) -> None:
    svc = AlertService(plain_store.pool, AlertSettings(grouping_minutes=30))
    a = svc.apply(signal("a", minute=0))
    assert svc.apply(signal("a", minute=2)).action == "repeated"
    assert svc.apply(signal("a", minute=2)).action == "repeated"  # redelivered: counted once
    b = svc.apply(signal("b", minute=20))  # same detector and area within 30 min: same incident
    c = svc.apply(signal("c", minute=25, area="Vỹ Dạ"))  # another area
    d = svc.apply(signal("d", minute=51))  # 31 min after b: a new incident
    e = svc.apply(signal("e", minute=52, detector="stale"))  # another detector
    got = dict(rows(plain_store, "SELECT fingerprint, incident_id FROM alerts"))
    assert got["a"] == got["b"] and len({got["a"], got["c"], got["d"], got["e"]}) == 4
    assert rows(plain_store, "SELECT count, last_seen FROM alerts WHERE fingerprint = 'a'") == [
        (2, T0 + timedelta(minutes=2))
    ]
    assert rows(plain_store, "SELECT count(*) FROM alerts") == [(5,)]
    assert {x.action for x in (a, b, c, d, e)} == {"raised"}
    assert [x.id for x in svc.incident_alerts(got["a"])] == [b.alert_id, a.alert_id]


def test_silences_suppress_raising_but_keep_a_record(plain_store: Store) -> None:
    clock = Clock(T0)
    svc = AlertService(plain_store.pool, clock=clock)
    loud = svc.apply(signal("before", severity="critical"))
    silence = svc.create_silence(
        LAN,
        reason="pump station maintenance",
        area="Đông Ba",
        severity="critical",
        ends_at=T0 + timedelta(hours=2),
    )
    assert svc.get(loud.alert_id).state == "silenced"  # type: ignore[arg-type]  # active ones are held too
    held = svc.apply(signal("held", severity="critical"))
    other = svc.apply(signal("other", severity="warning"))  # the severity does not match
    elsewhere = svc.apply(signal("elsewhere", severity="critical", area="Vỹ Dạ"))
    assert (held.action, other.action, elsewhere.action) == ("silenced", "raised", "raised")
    assert svc.apply(signal("held", minute=3, severity="critical")).action == "repeated"
    kept = svc.get(held.alert_id)  # type: ignore[arg-type]
    assert (kept.state, kept.count, kept.silence_id) == ("silenced", 2, silence.id)
    assert "silenced by silence" in audit(plain_store, kept.id)[0][4]
    notified = {r[0] for r in rows(plain_store, "SELECT alert_id FROM notifications")}
    assert kept.id not in notified and elsewhere.alert_id in notified
    assert rows(plain_store, "SELECT matched FROM silences") == [(2,)]
    with pytest.raises(NotAllowed):
        svc.expire_silence(silence.id, VIEWER)
    clock.advance(minutes=30)
    svc.expire_silence(silence.id, LAN, "maintenance over")
    back = svc.get(kept.id)
    assert (back.state, back.silence_id, back.opened_at) == ("open", None, clock())  # escalates from now
    assert audit(plain_store, kept.id)[-1][:4] == ("lan", "unsilence", "silenced", "open")
    assert kept.id in {r[0] for r in rows(plain_store, "SELECT alert_id FROM notifications")}
    with pytest.raises(TransitionRefused, match="already ended by lan"):
        svc.expire_silence(silence.id, MINH)

    # a silence that runs out by itself: the escalation job's sweep brings its alerts back
    short = svc.create_silence(
        LAN,
        reason="bridge works",
        detector="threshold",
        source_id="bridge",
        ends_at=clock() + timedelta(minutes=10),
    )
    quiet = svc.apply(signal("bridge-1", source="bridge"))
    assert quiet.action == "silenced" and svc.end_expired_silences() == 0
    clock.advance(minutes=10)
    assert svc.end_expired_silences() == 1
    assert svc.get(quiet.alert_id).state == "open"  # type: ignore[arg-type]
    assert audit(plain_store, quiet.alert_id)[-1][:2] == ("system", "unsilence")
    assert [s.id for s in svc.silences()] == []
    assert {s.id for s in svc.silences(include_ended=True)} == {silence.id, short.id}


def test_flapping_reopens_instead_of_duplicating(plain_store: Store) -> None:
    clock = Clock(T0)
    svc = AlertService(plain_store.pool, AlertSettings(flapping_minutes=10), clock=clock)
    first = svc.apply(signal("flap", minute=0)).alert_id
    assert first is not None
    svc.acknowledge(first, LAN)
    assert svc.apply(signal("flap", "resolved", minute=5)).action == "resolved"
    clock.advance(minutes=9)
    again = svc.apply(signal("flap", minute=14))  # 9 min after resolving: flapping
    assert again == type(again)("reopened", first)
    alert = svc.get(first)
    assert (alert.state, alert.reopened_count, alert.count, alert.acknowledged_by) == ("reopened", 1, 2, None)
    assert alert.opened_at == clock() and alert.resolved_at is None
    assert audit(plain_store, first)[-1][:4] == ("system", "reopen", "resolved", "reopened")
    assert "flapping" in audit(plain_store, first)[-1][4]
    svc.acknowledge(first, MINH)  # it needs acknowledging again
    assert svc.apply(signal("flap", "resolved", minute=20)).action == "resolved"
    later = svc.apply(signal("flap", minute=31))  # 11 min later: a new alert
    assert later.action == "raised" and later.alert_id != first
    assert rows(plain_store, "SELECT count(*) FROM alerts") == [(2,)]
    with pytest.raises(TransitionRefused, match=f"already active as alert #{later.alert_id}"):
        svc.reopen(first, LAN, "by hand")


def test_console_reads_and_shift_figures(plain_store: Store) -> None:
    clock = Clock(datetime(2026, 11, 25, 16, 0, tzinfo=UTC))  # 23:00 in Huế: the night shift began at 22:00
    svc = AlertService(plain_store.pool, clock=clock)
    crit = svc.apply(signal("c1", severity="critical", detector="ais_gap", source="574001234")).alert_id
    warn = svc.apply(signal("w1", severity="warning")).alert_id
    svc.apply(signal("i1", severity="info"))
    clock.advance(minutes=2)
    svc.acknowledge(crit, LAN)  # type: ignore[arg-type]
    clock.advance(minutes=4)
    svc.acknowledge(warn, LAN)  # type: ignore[arg-type]
    clock.advance(minutes=4)
    svc.resolve(warn, LAN, "false alarm")  # type: ignore[arg-type]
    figures = svc.shift_figures("Asia/Ho_Chi_Minh")
    assert figures.shift_start == datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    assert figures.shift_end == datetime(2026, 11, 25, 23, 0, tzinfo=UTC)
    assert figures.open_by_severity == {"critical": 1, "warning": 0, "info": 1}
    assert (figures.unacknowledged, figures.raised, figures.acknowledged, figures.resolved) == (1, 3, 2, 1)
    assert figures.mean_time_to_acknowledge == timedelta(minutes=4)  # (2 + 6) / 2
    assert figures.mean_time_to_resolve == timedelta(minutes=10)
    vessels = svc.alerts(AlertFilter(feeds=("vessels",)))
    assert [a.id for a in vessels] == [crit] and vessels[0].link == (
        "Open the vessel on the sea map",
        "/sea?mmsi=574001234",
    )
    assert [a.severity for a in svc.alerts()] == ["critical", "info", "warning"]  # active first, worst first
    assert [a.id for a in svc.alerts(AlertFilter(states=("resolved",)))] == [warn]
    start, end = current_shift(
        datetime(2026, 11, 25, 22, 30, tzinfo=UTC), _tz("Asia/Ho_Chi_Minh"), ["06:00", "14:00", "22:00"]
    )
    assert (start.hour, end.hour) == (15, 23)  # 05:30 local belongs to the night shift from 22:00


def _tz(name: str):  # noqa: ANN202
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def test_refusals_read_in_the_readers_language(plain_store: Store) -> None:
    """A refusal is a catalogue message with fields: English in ``str()`` (logs), the reader's language
    and the city's time in :meth:`text`, its words (state, action, role) translated too."""
    svc = AlertService(plain_store.pool)
    alert = svc.get(svc.apply(signal("refusals")).alert_id)  # type: ignore[arg-type]
    with pytest.raises(NotAllowed) as refused:
        svc.acknowledge(alert.id, VIEWER)
    assert str(refused.value) == \
        "kiosk (viewer) may not acknowledge alerts; that needs a duty officer or above"
    assert refused.value.text("vi") == \
        "kiosk (người xem) không được xác nhận cảnh báo; việc này cần cán bộ trực ban trở lên"
    with pytest.raises(NoteRequired) as refused:
        svc.resolve(alert.id, LAN, " ")
    assert refused.value.text("vi") == "Hãy viết ghi chú để xử lý xong: ca sau cần biết lý do."
    done = svc.acknowledge(alert.id, LAN)
    with pytest.raises(TransitionRefused) as refused:
        svc.acknowledge(alert.id, MINH)
    at = done.acknowledged_at
    assert at is not None
    assert str(refused.value) == f"Alert #{alert.id} is already acknowledged by lan at {at:%H:%M:%S} UTC."
    hue = at.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    assert refused.value.text("vi", "Asia/Ho_Chi_Minh") == \
        f"Cảnh báo #{alert.id} đã ở trạng thái “đã xác nhận” (do lan, lúc {hue:%H:%M:%S})."
    assert refused.value.text("en", "Asia/Ho_Chi_Minh") == \
        f"Alert #{alert.id} is already acknowledged by lan at {hue:%H:%M:%S}."
    with pytest.raises(AlertNotFound) as refused:
        svc.get(999_999)
    assert refused.value.text("vi") == "Không có cảnh báo #999999."


def test_every_refusal_has_a_vietnamese_form_with_the_same_fields() -> None:
    """Each message the alerts service refuses with (read from its source, the refusal variants
    included) is in the catalogue with the same fields."""
    import ast
    from pathlib import Path
    from string import Formatter

    from alerts import lifecycle as lc
    from ioc.i18n import gettext

    kinds = {"AlertError", "AlertNotFound", "NotAllowed", "TransitionRefused", "StaleAlertError",
             "NoteRequired", "NoteRefused"}
    messages = set()
    for path in (Path(lc.__file__).parent).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            first = node.args[0]
            if name in kinds and isinstance(first, ast.Constant) and isinstance(first.value, str):
                messages.add(first.value)
    last = ("lan", "acknowledge", T0)
    for action in TRANSITIONS:
        for state in STATES:
            for who in (None, ("lan", "acknowledge", None), last):
                messages.add(lc.refusal(action, state, 1, who)[0])
    assert len(messages) >= 25
    for message in sorted(messages):
        vi = gettext("alerts", message, "vi")
        assert vi != message, f"no Vietnamese for {message!r}"
        fields = {f for _, f, _, _ in Formatter().parse(message) if f}
        assert {f for _, f, _, _ in Formatter().parse(vi) if f} == fields, message
    for word in [*STATES, *TRANSITIONS, *lc.PAST.values(), *(lc.label(r) for r in lc.ROLES), "change"]:
        assert gettext("alerts", word, "vi") != word, word


def test_the_services_own_notes_read_in_the_readers_language(plain_store: Store) -> None:
    """The audit keeps the English note and its template: the console's history says it in each
    reader's language (the condition clearing, a flapping re-fire reopening the alert)."""
    from alerts.wording import note_in

    svc = AlertService(plain_store.pool, AlertSettings(flapping_minutes=10))
    alert_id = svc.apply(signal("notes")).alert_id
    assert alert_id is not None
    svc.apply(signal("notes", "resolved", minute=1))
    svc.apply(signal("notes", minute=4))  # back within the flapping window: reopened
    entries = {e.action: e for e in svc.history(alert_id)}
    cleared, again = entries["resolve"], entries["reopen"]
    assert cleared.note == "condition cleared" and note_in(cleared.note, cleared.details, "vi") == \
        "tình huống đã hết"
    assert again.note == "fired again 3 min after it resolved (flapping): reopened, not raised anew"
    assert note_in(again.note, again.details, "vi") == \
        "phát lại 3 phút sau khi đã xử lý (dao động): mở lại, không phát sinh mới"
    assert note_in(again.note, again.details, "en") == again.note


def test_a_note_is_bounded_keepable_and_visible_and_refused_otherwise(plain_store: Store) -> None:
    """An operator posted 15 MB notes; a NUL reached the store as "the store did not answer"; a lone
    zero-width space passed for the note a resolve needs. Each is refused by the service, with a
    reason in the reader's language, and nothing is written."""
    from alerts.lifecycle import MAX_NOTE_CHARS, AlertError, NoteRefused

    clock = Clock(T0)
    svc = AlertService(plain_store.pool, clock=clock)
    alert_id = svc.apply(signal("notes")).alert_id
    assert alert_id is not None
    before = audit(plain_store, alert_id)
    huge = "x" * (MAX_NOTE_CHARS + 1)
    calls = {
        "comment": lambda note: svc.comment(alert_id, OPERATOR, note),
        "acknowledge": lambda note: svc.acknowledge(alert_id, LAN, note),
        "assign": lambda note: svc.assign(alert_id, LAN, "minh", note),
        "resolve": lambda note: svc.resolve(alert_id, LAN, note),
        "silence": lambda note: svc.silence(alert_id, LAN, clock() + timedelta(hours=1), note),
        "incident": lambda note: svc.acknowledge_incident(svc.get(alert_id).incident_id, LAN, note),
        "create_silence": lambda note: svc.create_silence(
            LAN, reason=note, ends_at=clock() + timedelta(hours=1), fingerprint="notes"),
    }
    People(plain_store.pool).add_user("minh", "duty_officer", "correct horse battery")
    for action, call in calls.items():
        with pytest.raises(NoteRefused) as refused:
            call(huge)
        assert str(refused.value) == (f"The note is {MAX_NOTE_CHARS + 1} characters long; "
                                      f"at most {MAX_NOTE_CHARS} are kept. Shorten it."), action
        with pytest.raises(NoteRefused) as refused:
            call("pump\x00 station")
        assert refused.value.text("vi") == \
            "Ghi chú chứa một ký tự không lưu được (U+0000); hãy xoá ký tự đó.", action
    assert refused.value.text("en") == "The note holds a character that cannot be kept (U+0000); remove it."
    for blank in ("\u200b", " \u200b\ufeff\u2060 ", "\u200d\t"):
        with pytest.raises(NoteRequired):
            svc.resolve(alert_id, LAN, blank)
        with pytest.raises(NoteRequired):
            svc.comment(alert_id, OPERATOR, blank)
        with pytest.raises(NoteRequired):
            svc.silence(alert_id, LAN, clock() + timedelta(hours=1), blank)
    assert audit(plain_store, alert_id) == before and svc.get(alert_id).state == "open"
    assert rows(plain_store, "SELECT count(*) FROM silences") == [(0,)]
    longest = "y" * MAX_NOTE_CHARS  # the limit itself is kept, whole
    assert svc.comment(alert_id, OPERATOR, f"  {longest}\n").note == longest
    assert svc.resolve(alert_id, LAN, "\u200bpump fixed").state == "resolved"  # something visible
    # an id is an integer: 1.5 is not alert 1
    with pytest.raises(TypeError):
        svc.reopen(1.5, LAN)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        svc.assign(alert_id, LAN, {"name": "minh"})  # type: ignore[arg-type]
    with pytest.raises(AlertError, match="no active console user"):
        svc.assign(alert_id, LAN, "mi\x00nh")
    assert svc.get(alert_id).state == "resolved"


def test_the_history_read_is_bounded_and_says_what_it_left_out(plain_store: Store) -> None:
    """The console re-read every alert's whole history every 2 s (64 MB once notes were huge): the read
    returns the latest entries, counts the rest, and cuts a long note stored before notes were bounded."""
    from alerts.ledger import MAX_AUDIT_NOTE_CHARS
    from alerts.reads import HISTORY_LIMIT

    svc = AlertService(plain_store.pool)
    alert_id = svc.apply(signal("chatty")).alert_id
    assert alert_id is not None
    assert (len(svc.history(alert_id)), svc.history(alert_id).earlier) == (1, 0)
    with plain_store.pool.connection() as conn:  # a note of 1 MB, stored before notes were bounded
        conn.execute("INSERT INTO alert_audit (alert_id, at, actor, action, from_state, to_state, note) "
                     "VALUES (%s, now(), 'hoa', 'comment', 'open', 'open', %s)", (alert_id, "z" * 1_000_000))
    for n in range(HISTORY_LIMIT + 50):
        svc.comment(alert_id, OPERATOR, f"call {n}")
    history = svc.history(alert_id)
    assert len(history) == HISTORY_LIMIT and history.earlier == 52  # the raise, the long note, 50 calls
    assert [e.note for e in history][:2] == ["call 50", "call 51"]  # the latest, oldest first
    assert history[-1].note == f"call {HISTORY_LIMIT + 49}"
    assert len(svc.reads.history(alert_id, limit=10)) == 10
    with plain_store.pool.connection() as conn:
        long_id = conn.execute("SELECT id FROM alert_audit WHERE length(note) > 100").fetchone()[0]
        conn.execute("DELETE FROM alert_audit WHERE alert_id = %s AND id > %s", (alert_id, long_id))
    shown = svc.history(alert_id)
    assert shown.earlier == 0 and len(shown[-1].note or "") == MAX_AUDIT_NOTE_CHARS
    assert (shown[-1].note or "").endswith("z…")


def test_silences_are_bounded_in_time_name_what_they_match_and_count_it(plain_store: Store) -> None:
    """A silence to 9999-12-31 held every critical alert quiet for ever; a blank matcher was taken;
    a naive end raised TypeError; a silence that held an alert said it matched none."""
    from alerts.lifecycle import AlertError
    from alerts.silences import MAX_SILENCE

    clock = Clock(T0)
    svc = AlertService(plain_store.pool, clock=clock)
    loud = svc.apply(signal("loud", severity="critical")).alert_id
    assert loud is not None
    forever = datetime(9999, 12, 31, tzinfo=UTC)
    with pytest.raises(AlertError) as refused:
        svc.create_silence(LAN, reason="quiet night", severity="critical", ends_at=forever)
    assert str(refused.value) == "A silence may last at most 7 days; end it sooner and renew it if need be."
    assert refused.value.text("vi").startswith("Lệnh tạm tắt chỉ được kéo dài tối đa 7 ngày")
    with pytest.raises(AlertError, match="start at most 7 days from now"):
        svc.create_silence(LAN, reason="later", severity="critical", starts_at=forever - timedelta(days=1),
                           ends_at=forever)
    with pytest.raises(AlertError, match="must end in the future"):
        svc.create_silence(LAN, reason="past", severity="critical", starts_at=T0 - timedelta(days=2),
                           ends_at=T0 - timedelta(days=1))
    with pytest.raises(ValueError, match="ends_at must be timezone-aware"):
        svc.create_silence(LAN, reason="naive", severity="critical", ends_at=datetime(2026, 11, 26, 8))
    with pytest.raises(ValueError, match="starts_at must be timezone-aware"):
        svc.create_silence(LAN, reason="naive", severity="critical", starts_at=datetime(2026, 11, 25),
                           ends_at=T0 + timedelta(hours=1))
    for blank in (" ", "\t\u200b", ""):
        with pytest.raises(AlertError, match="matcher area is blank") as refused:
            svc.create_silence(LAN, reason="works", area=blank, severity="critical",
                               ends_at=T0 + timedelta(hours=1))
        assert "để trống" in refused.value.text("vi")
    with pytest.raises(AlertError, match="critical, warning or info, not loud"):
        svc.create_silence(LAN, reason="works", severity="loud", ends_at=T0 + timedelta(hours=1))
    with pytest.raises(AlertError, match="not a name an alert can have"):
        svc.create_silence(LAN, reason="works", source_id="a\x00b", ends_at=T0 + timedelta(hours=1))
    with pytest.raises(ValueError):
        svc.silence(loud, LAN, datetime(2026, 11, 26, 8), "naive")
    with pytest.raises(AlertError, match="at most 7 days"):
        svc.silence(loud, LAN, forever, "for ever")
    assert rows(plain_store, "SELECT count(*) FROM silences") == [(0,)]
    assert svc.get(loud).state == "open"

    week = svc.create_silence(LAN, reason="  pump works ", area=" Đông Ba ", severity="critical",
                              ends_at=T0 + MAX_SILENCE)  # the longest is allowed
    assert (week.matched, week.area, week.reason) == (1, "Đông Ba", "pump works")  # re-read after matching
    assert svc.get(loud).state == "silenced"
    assert rows(plain_store, "SELECT matched FROM silences WHERE id = %s", week.id) == [(1,)]
    svc.expire_silence(week.id, LAN, "works done")
    held = svc.silence(loud, LAN, T0 + timedelta(hours=1), "one alert")
    assert rows(plain_store, "SELECT matched FROM silences WHERE id = %s", held.silence_id) == [(1,)]


def test_the_longest_silence_is_the_citys_to_set(plain_store: Store) -> None:
    """``[alerts] max_silence_days``: a fortnight of roadworks may be one silence where a city says so."""
    from alerts.lifecycle import AlertError

    clock = Clock(T0)
    fortnight = AlertService(plain_store.pool, AlertSettings(max_silence_days=14), clock=clock)
    works = fortnight.create_silence(LAN, reason="roadworks", area="Đông Ba", ends_at=T0 + timedelta(days=14))
    assert works.ends_at == T0 + timedelta(days=14)
    with pytest.raises(AlertError, match="at most 14 days"):
        fortnight.create_silence(LAN, reason="roadworks", area="Đông Ba", ends_at=T0 + timedelta(days=15))
    loud = fortnight.apply(signal("works-noise", area="Phú Hội")).alert_id
    assert fortnight.silence(loud, LAN, T0 + timedelta(days=10), "roadworks").state == "silenced"  # type: ignore[arg-type]
    with pytest.raises(AlertError, match="at most 2 days"):
        AlertService(plain_store.pool, AlertSettings(max_silence_days=2), clock=clock).create_silence(
            LAN, reason="long", area="Đông Ba", ends_at=T0 + timedelta(days=3))
    with pytest.raises(ValueError, match="max_silence_days"):
        AlertSettings(max_silence_days=0)
