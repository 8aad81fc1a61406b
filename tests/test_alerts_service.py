"""Alert signals to stored alerts: raise, dedupe by fingerprint, resolve, audit (real PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.consumer import AlertSignalConsumer
from alerts.service import AlertService
from ioc.bus.memory import MemoryBus
from ioc.events import AlertSignal
from ioc.store.database import Store
from ioc.store.writer import StoreWriter
from ioc.topics import ALERT_SIGNALS

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def signal(status: str, minute: int, fp: str = "threshold:co2-high:hue-air-1") -> AlertSignal:
    return AlertSignal(time=T0 + timedelta(minutes=minute), source_id="hue-air-1", detector="threshold",
                       rule="co2-high", fingerprint=fp, status=status, severity="warning",
                       title="CO₂ above 1000 ppm for 10 min at Đông Ba", area="Đông Ba",
                       started_at=T0, details={"value": 1200})


def rows(store: Store, sql: str) -> list[tuple]:
    with store.pool.connection() as conn:
        return conn.execute(sql).fetchall()


def test_repeat_updates_count_then_resolve_then_new_episode(store: Store) -> None:
    svc = AlertService(store.pool)
    assert svc.apply(signal("firing", 10)).action == "raised"
    assert svc.apply(signal("firing", 12)).action == "repeated"
    assert svc.apply(signal("firing", 12)).action == "repeated"  # redelivery: no double count
    assert rows(store, "SELECT count, state, last_seen FROM alerts") == [
        (2, "open", T0 + timedelta(minutes=12))]
    assert svc.apply(signal("resolved", 20)).action == "resolved"
    assert svc.apply(signal("resolved", 20)).action == "ignored"
    assert svc.apply(signal("firing", 12)).action == "ignored"  # a late repeat of the closed episode
    # firing again within the flapping window (10 min by default) reopens the same alert...
    assert svc.apply(signal("firing", 30)).action == "reopened"
    assert svc.apply(signal("resolved", 35)).action == "resolved"
    # ...and later than that raises a new one
    assert svc.apply(signal("firing", 50)).action == "raised"
    assert rows(store, "SELECT state, count FROM alerts ORDER BY id") == [("resolved", 3), ("open", 1)]
    assert rows(store, "SELECT action, from_state, to_state, actor FROM alert_audit ORDER BY id") == [
        ("raise", None, "open", "system"), ("resolve", "open", "resolved", "system"),
        ("reopen", "resolved", "reopened", "system"), ("resolve", "reopened", "resolved", "system"),
        ("raise", None, "open", "system")]


def test_consumer_applies_signals_and_dead_letters_garbage(store: Store) -> None:
    bus = MemoryBus()
    pub = bus.publisher()
    for s in (signal("firing", 10), signal("firing", 11), signal("firing", 10, fp="stale:x:y")):
        pub.publish(ALERT_SIGNALS, s.source_id, s.to_wire())
    pub.publish(ALERT_SIGNALS, "x", b"{}")
    consumer = AlertSignalConsumer(bus, AlertService(store.pool), StoreWriter(store.pool, store.caps))
    while consumer.consumer.run_once():
        pass
    assert rows(store, "SELECT fingerprint, count FROM alerts ORDER BY id") == [
        ("threshold:co2-high:hue-air-1", 2), ("stale:x:y", 1)]
    assert consumer.health.extra == {"raised": 2, "resolved": 0, "reopened": 0, "silenced": 0,
                                     "undecodable": 1}
    assert rows(store, "SELECT stage, reason FROM dead_letters") == [("alerts", "unknown kind None")]
