"""The read-side queries against a real store, at both capability levels (plain PostgreSQL, TimescaleDB)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from ioc.feeds.environment.records import EnvironmentReading
from ioc.store.database import Store
from ioc.store.maintenance import refresh_rollups
from ioc.store.queries import (
    AlertRow,
    LatestValue,
    SeriesPoint,
    escape_preview,
    kpis,
    latest_values,
    recent_alerts,
    recent_dead_letters,
    station_series,
)
from ioc.store.writer import DeadLetter, StoreWriter

MINUTE = timedelta(minutes=1)


def _floor(t: datetime, width: timedelta) -> datetime:
    """The start of the ``width`` bucket holding ``t`` (UTC-aligned, as ``time_bucket`` does)."""
    epoch = datetime(2000, 1, 3, tzinfo=UTC)
    return t - ((t - epoch) % width)


def _r(station: str, metric: str, value: float, time: datetime, unit: str = "") -> EnvironmentReading:
    return EnvironmentReading(time=time, source_id=station, metric=metric, value=value, unit=unit)


def _insert_alert(store: Store, **row: object) -> int:
    cols = {
        "fingerprint": row["fingerprint"],
        "detector": "threshold",
        "rule": row.get("rule", "pm25_high"),
        "source_id": row["source_id"],
        "area": row.get("area"),
        "severity": row["severity"],
        "title": row["title"],
        "state": row.get("state", "open"),
        "started_at": row["started_at"],
        "first_seen": row["started_at"],
        "last_seen": row["last_seen"],
        "resolved_at": row.get("resolved_at"),
        "count": row.get("count", 1),
    }
    with store.pool.connection() as conn:
        got = conn.execute(
            f"INSERT INTO alerts ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) RETURNING id",
            list(cols.values()),
        ).fetchone()
    assert got is not None
    return int(got[0])


@pytest.fixture
def filled(store: Store) -> tuple[Store, datetime, list[EnvironmentReading]]:
    """A store with readings from three stations, two dead letters and three alerts; rollups refreshed."""
    now = datetime.now(UTC)
    b = _floor(now, MINUTE)  # the current minute: readings here count fully in the per-minute rate
    readings = [
        _r("s1", "pm25", 10.0, b - 30 * MINUTE + timedelta(seconds=1), "µg/m³"),
        _r("s1", "pm25", 20.0, b - 30 * MINUTE + timedelta(seconds=20), "µg/m³"),
        _r("s1", "pm25", 30.0, b, "µg/m³"),
        _r("s1", "temp", 25.5, b, "°C"),
        _r("s2", "pm25", 5.0, b - 20 * MINUTE, "µg/m³"),
        _r("s3", "pm25", 7.0, b, "µg/m³"),
    ]
    dead = [
        DeadLetter(
            stage="decode",
            source="env-http",
            reason="not JSON: Expecting value",
            payload=b"\x00\xffnot json\n",
            key="s9",
            topic="ioc.environment.readings",
            partition=0,
            offset=41,
        ),
        DeadLetter(
            stage="validate",
            source="env-http",
            reason="value: must be finite",
            payload=b'{"value": NaN, "title": "\xe2\x80\xaeevil"}',
            key="s1",
            topic="ioc.environment.readings",
            partition=0,
            offset=42,
        ),
    ]
    result = StoreWriter(store.pool, store.caps).write(readings, dead)
    assert result.inserted == {"environment.reading": 6, "dead_letter": 2}
    refresh_rollups(store.pool, store.caps)
    _insert_alert(
        store,
        fingerprint="a1",
        source_id="s1",
        area="Citadel",
        severity="critical",
        title="PM2.5 above 25 at s1",
        started_at=now - 10 * MINUTE,
        last_seen=now - MINUTE,
        count=4,
    )
    _insert_alert(
        store,
        fingerprint="a2",
        source_id="s2",
        area=None,
        severity="warning",
        title="s2 silent for 15 min",
        state="acknowledged",
        started_at=now - 5 * MINUTE,
        last_seen=now - 2 * MINUTE,
    )
    _insert_alert(
        store,
        fingerprint="a3",
        source_id="s3",
        area="Vỹ Dạ",
        severity="info",
        title="s3 back to normal",
        state="resolved",
        started_at=now - 9 * MINUTE,
        last_seen=now - MINUTE / 2,
        resolved_at=now - MINUTE / 2,
    )
    return store, now, readings


def test_kpis_on_empty_store(store: Store) -> None:
    k = kpis(store.pool)
    assert (k.readings_stored, k.readings_last_minute, k.stations_reporting, k.stations_known) == (0,) * 4
    assert (k.alerts_critical, k.alerts_warning, k.alerts_info, k.alerts_open, k.dead_letters) == (0,) * 5
    assert k.last_write is None
    assert abs((k.as_of - datetime.now(UTC)).total_seconds()) < 5
    assert latest_values(store.pool) == []
    assert station_series(store.pool, datetime.now(UTC) - timedelta(hours=2)) == []
    assert recent_alerts(store.pool) == []
    assert recent_dead_letters(store.pool) == []


def test_kpis(filled: tuple[Store, datetime, list[EnvironmentReading]]) -> None:
    store, now, readings = filled
    k = kpis(store.pool)
    assert k.readings_stored == 6
    assert k.dead_letters == 2
    assert k.stations_reporting == 2  # s1 and s3; s2 last reported 20 minutes ago
    assert k.stations_known == 3
    assert (k.alerts_critical, k.alerts_warning, k.alerts_info, k.alerts_open) == (1, 1, 0, 2)
    assert k.open_by_severity == {"critical": 1, "warning": 1, "info": 0}
    assert k.last_write is not None and now - timedelta(seconds=30) < k.last_write <= k.as_of
    # three readings sit in the minute the test started in; should the minute have turned
    # since, they count by the share of that minute still inside the trailing 60 s
    started = _floor(now, MINUTE)
    if _floor(k.as_of, MINUTE) == started:
        expected = 3
    else:
        share = max(0.0, (started + 2 * MINUTE - k.as_of).total_seconds() / 60)
        expected = round(3 * share)
    assert k.readings_last_minute == expected


def test_kpis_rate_counts_previous_minute_by_its_share(store: Store) -> None:
    now = datetime.now(UTC)
    prev = _floor(now, MINUTE) - MINUTE
    StoreWriter(store.pool, store.caps).write(
        [_r("s1", "pm25", float(i), prev + timedelta(seconds=i)) for i in range(60)]
    )
    refresh_rollups(store.pool, store.caps)
    k = kpis(store.pool)
    share = max(0.0, (prev + 2 * MINUTE - k.as_of).total_seconds() / 60)
    assert abs(k.readings_last_minute - 60 * share) <= 0.5 + 1e-9
    assert 0 <= k.readings_last_minute <= 60


def test_latest_values(filled: tuple[Store, datetime, list[EnvironmentReading]]) -> None:
    store, now, _ = filled
    b = _floor(now, MINUTE)
    assert latest_values(store.pool) == [
        LatestValue("s1", "pm25", b, 30.0, "µg/m³"),
        LatestValue("s1", "temp", b, 25.5, "°C"),
        LatestValue("s2", "pm25", b - 20 * MINUTE, 5.0, "µg/m³"),
        LatestValue("s3", "pm25", b, 7.0, "µg/m³"),
    ]


def test_station_series_1m(filled: tuple[Store, datetime, list[EnvironmentReading]]) -> None:
    store, now, _ = filled
    b = _floor(now, MINUTE)
    everything = [
        SeriesPoint("s1", "pm25", b - 30 * MINUTE, 15.0, 10.0, 20.0, 2),
        SeriesPoint("s1", "pm25", b, 30.0, 30.0, 30.0, 1),
        SeriesPoint("s1", "temp", b, 25.5, 25.5, 25.5, 1),
        SeriesPoint("s2", "pm25", b - 20 * MINUTE, 5.0, 5.0, 5.0, 1),
        SeriesPoint("s3", "pm25", b, 7.0, 7.0, 7.0, 1),
    ]
    assert station_series(store.pool, b - 90 * MINUTE) == everything
    # the bucket holding ``since`` is included
    assert station_series(store.pool, b - 30 * MINUTE + timedelta(seconds=50)) == everything
    assert station_series(store.pool, b - 25 * MINUTE) == everything[1:]
    only = station_series(store.pool, b - 90 * MINUTE, station_ids=["s1"], metrics=["temp"])
    assert only == [everything[2]]
    assert station_series(store.pool, b - 90 * MINUTE, station_ids=["s2", "s3"]) == everything[3:]
    assert station_series(store.pool, b - 90 * MINUTE, metrics=["pm25"]) == [
        everything[i] for i in (0, 1, 3, 4)
    ]
    assert station_series(store.pool, b - 90 * MINUTE, station_ids=[]) == []
    assert station_series(store.pool, b - 90 * MINUTE, station_ids=["x'); DROP TABLE readings; --"]) == []


def test_station_series_1h(filled: tuple[Store, datetime, list[EnvironmentReading]]) -> None:
    store, now, readings = filled
    groups: dict[tuple[str, str, datetime], list[float]] = defaultdict(list)
    for r in readings:
        groups[(r.source_id, r.metric, _floor(r.time, timedelta(hours=1)))].append(r.value)
    expected = [
        SeriesPoint(s, m, h, sum(v) / len(v), min(v), max(v), len(v))
        for (s, m, h), v in sorted(groups.items())
    ]
    assert station_series(store.pool, now - timedelta(hours=3), bucket="1h") == expected
    with pytest.raises(ValueError):
        station_series(store.pool, now, bucket="5m")  # type: ignore[arg-type]


def test_recent_alerts(filled: tuple[Store, datetime, list[EnvironmentReading]]) -> None:
    store, now, _ = filled
    rows = recent_alerts(store.pool)
    assert [(a.severity, a.state, a.title) for a in rows] == [
        ("info", "resolved", "s3 back to normal"),
        ("critical", "open", "PM2.5 above 25 at s1"),
        ("warning", "acknowledged", "s2 silent for 15 min"),
    ]
    crit = rows[1]
    assert crit == AlertRow(
        id=crit.id,
        severity="critical",
        title="PM2.5 above 25 at s1",
        state="open",
        detector="threshold",
        rule="pm25_high",
        source_id="s1",
        area="Citadel",
        started_at=now - 10 * MINUTE,
        last_seen=now - MINUTE,
        resolved_at=None,
        count=4,
    )
    assert rows[0].resolved and rows[0].area == "Vỹ Dạ" and rows[0].resolved_at == now - MINUTE / 2
    assert [a.severity for a in recent_alerts(store.pool, open_first=True)] == ["critical", "warning", "info"]
    assert [a.severity for a in recent_alerts(store.pool, include_resolved=False)] == ["critical", "warning"]
    assert [a.severity for a in recent_alerts(store.pool, limit=1)] == ["info"]
    assert [a.severity for a in recent_alerts(store.pool, limit=1, open_first=True)] == ["critical"]
    assert recent_alerts(store.pool, limit=0) == []


def test_recent_dead_letters(filled: tuple[Store, datetime, list[EnvironmentReading]]) -> None:
    store, _, _ = filled
    rows = recent_dead_letters(store.pool)
    assert [(d.stage, d.key, d.offset) for d in rows] == [("validate", "s1", 42), ("decode", "s9", 41)]
    newest, oldest = rows
    assert newest.reason == "value: must be finite"
    assert newest.payload_preview == '{"value": NaN, "title": "\\u202eevil"}'
    assert newest.payload_bytes == len(b'{"value": NaN, "title": "\xe2\x80\xaeevil"}')
    assert (newest.source, newest.topic, newest.partition) == ("env-http", "ioc.environment.readings", 0)
    assert oldest.payload_preview == "\\x00\\xffnot json\\n"
    assert oldest.payload_bytes == 11
    assert [d.offset for d in recent_dead_letters(store.pool, limit=1)] == [42]


def test_dead_letter_preview_of_large_payload(store: Store) -> None:
    payload = ("Huế " * 1000).encode()  # far longer than the head the query fetches
    StoreWriter(store.pool, store.caps).write([], [DeadLetter("decode", "env", "too long", payload)])
    (row,) = recent_dead_letters(store.pool)
    assert row.payload_bytes == len(payload)
    assert row.payload_preview.endswith("…") and row.payload_preview.startswith("Huế Huế ")
    assert len(row.payload_preview) <= 121


def test_escape_preview() -> None:
    assert escape_preview(b"plain text") == "plain text"
    assert escape_preview(b"a\tb\r\nc\\d") == "a\\tb\\r\\nc\\\\d"
    assert escape_preview("zero\u200bwidth <b>".encode()) == "zero\\u200bwidth <b>"
    assert escape_preview(b"x" * 200, limit=10) == "x" * 10 + "…"
    assert escape_preview("Huế".encode()[:-1], complete=False) == "Hu…"
    assert escape_preview(b"\xf0\x9f\x98\x80 ok") == "\U0001f600 ok"
    assert escape_preview(b"") == ""
