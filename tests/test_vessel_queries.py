"""The sea map's read queries on a real store, at both capability levels (plain PostgreSQL, TimescaleDB)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ioc.feeds.vessels.records import VesselPosition, VesselStatic
from ioc.store import vessel_queries as vq
from ioc.store.database import Store
from ioc.store.writer import StoreWriter


def _now(store: Store) -> datetime:
    with store.pool.connection() as conn:
        return conn.execute("SELECT now()").fetchone()[0]


def _track(mmsi: int, end: datetime, n: int, every: timedelta = timedelta(minutes=1),
           lat0: float = 16.60, lon0: float = 107.70, sog: float = 6.0) -> list[VesselPosition]:
    """``n`` positions of one vessel, the last at ``end``, heading north-east."""
    return [
        VesselPosition(time=end - (n - 1 - i) * every, source_id=str(mmsi), mmsi=mmsi,
                       lat=round(lat0 + i * 0.001, 6), lon=round(lon0 + i * 0.0013 + (i % 3) * 0.0002, 6),
                       sog=sog, cog=45.0, heading=44, nav_status=0, msg_type=1, simulated=mmsi >= 999_000_000)
        for i in range(n)
    ]


def _alert(store: Store, fingerprint: str, detector: str, source: str, severity: str, state: str,
           details: dict, seen: datetime, title: str | None = None) -> int:
    with store.pool.connection() as conn:
        return conn.execute(
            "INSERT INTO alerts (fingerprint, detector, rule, source_id, severity, title, state, "
            "started_at, first_seen, last_seen, resolved_at, details) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb) RETURNING id",
            (fingerprint, detector, detector, source, severity, title or f"{detector} {source}", state,
             seen - timedelta(minutes=30), seen - timedelta(minutes=30), seen,
             seen if state == "resolved" else None, json.dumps(details)),
        ).fetchone()[0]


# --------------------------------------------------------------------------- latest positions


def test_latest_vessels_with_register_and_open_alerts(store: Store) -> None:
    now = _now(store)
    w = StoreWriter(store.pool, store.caps)
    w.write(_track(999100001, now - timedelta(seconds=20), 10)
            + _track(999100002, now - timedelta(minutes=3), 10, lat0=16.52)
            + _track(574001230, now - timedelta(minutes=1), 5, lat0=16.40)
            + _track(574009999, now - timedelta(hours=20), 5))  # too old for the map
    w.write([
        VesselStatic(time=now - timedelta(minutes=5), source_id="999100001", mmsi=999100001, name="SIM TA-01",
                     callsign="SIM001", ship_type=30, length_m=18.0, beam_m=5.0, destination="THUAN AN",
                     simulated=True),
        VesselStatic(time=now - timedelta(minutes=5), source_id="574001230", mmsi=574001230,
                     name="TTH 90123 TS"),
    ])
    _alert(store, "loitering:999100001", "loitering", "999100001", "warning", "open",
           {"mmsi": 999100001}, now)
    _alert(store, "storm_ban:999100001", "storm_ban", "999100001", "critical", "acknowledged",
           {"mmsi": 999100001}, now - timedelta(minutes=5), title="in the storm-ban area")
    _alert(store, "encounter:999100001:999100002", "encounter", "999100001", "warning", "open",
           {"mmsi": 999100001, "mmsis": [999100001, 999100002]}, now)
    _alert(store, "ais_gap:574001230", "ais_gap", "574001230", "warning", "resolved", {"mmsi": 574001230},
           now - timedelta(minutes=10))
    _alert(store, "threshold:x", "threshold", "hue-air-dainoi", "critical", "open",
           {"mmsis": "not a list"}, now)

    snap = vq.latest_vessels(store.pool)
    assert abs((snap.as_of - now).total_seconds()) < 60
    by = {v.mmsi: v for v in snap.vessels}
    # by MMSI; the vessel last seen 20 h ago is left out
    assert [v.mmsi for v in snap.vessels] == [574001230, 999100001, 999100002]
    sim = by[999100001]
    assert (sim.label, sim.callsign, sim.ship_type, sim.length_m, sim.destination) == (
        "SIM TA-01", "SIM001", 30, 18.0, "THUAN AN")
    assert sim.simulated and sim.in_alert and sim.alerts_open == 3
    assert sim.alert_severity == "critical" and sim.alert_title == "in the storm-ban area"
    assert sim.alert_detectors == ("encounter", "loitering", "storm_ban")
    assert sim.lat == pytest.approx(16.609) and sim.course == 44.0 and sim.sog == 6.0
    partner = by[999100002]  # named in the encounter's details only
    assert partner.in_alert and partner.alert_detectors == ("encounter",) and partner.label == "999100002"
    real = by[574001230]
    assert not real.in_alert and real.alert_severity is None and not real.simulated
    assert real.label == "TTH 90123 TS"
    assert [v.mmsi for v in vq.latest_vessels(store.pool, recent=timedelta(minutes=2)).vessels] == [
        574001230, 999100001]


def test_latest_vessels_on_an_empty_store(store: Store) -> None:
    snap = vq.latest_vessels(store.pool)
    assert snap.vessels == () and snap.as_of.tzinfo is not None
    assert vq.vessel_tracks(store.pool).lines == ()
    assert vq.vessel_details(store.pool, 999100001) is None


# --------------------------------------------------------------------------- tracks


def test_tracks_are_thinned_to_the_budget_and_keep_first_and_last_points(store: Store) -> None:
    now = _now(store)
    w = StoreWriter(store.pool, store.caps)
    events: list[VesselPosition] = []
    for v in range(40):
        # some vessels report more often than others; the oldest point is 9 minutes or more inside the
        # 3 h window, which moves with the clock between the queries below (a busy machine)
        n = 170 if v % 4 else 380
        every = timedelta(seconds=27) if v % 4 == 0 else timedelta(minutes=1)
        events += _track(574100000 + v, now - timedelta(seconds=v), n, every=every, lat0=16.3 + v * 0.01)
    events += _track(574200000, now - timedelta(hours=5), 60)  # outside a 3 h window entirely
    w.write(events)

    full = vq.vessel_tracks(store.pool, hours=3, budget=1_000_000, count_window=True)
    assert full.points == full.points_in_window  # a budget that fits everything keeps everything
    assert len(full.lines) == 40 and 574200000 not in {line.mmsi for line in full.lines}

    for budget in (2000, 500, 81):
        tracks = vq.vessel_tracks(store.pool, hours=3, budget=budget, count_window=True)
        assert tracks.points <= budget, budget
        assert len(tracks.lines) == 40 and tracks.points_in_window == full.points
        assert tracks.buckets == vq.track_buckets(budget, 40)
        raw = {line.mmsi: line for line in full.lines}
        for line in tracks.lines:
            src = raw[line.mmsi]
            assert (line.lons[0], line.lats[0]) == (src.lons[0], src.lats[0])
            assert (line.lons[-1], line.lats[-1]) == (src.lons[-1], src.lats[-1])
            assert len(line) >= 2
            assert list(line.lats) == sorted(line.lats)  # still in time order (these tracks go north)
    # evenly spread: every vessel gets about the same share, however often it reports
    tracks = vq.vessel_tracks(store.pool, hours=3, budget=2000)
    assert max(len(line) for line in tracks.lines) <= 2000 // 40

    # fewer points than two per vessel: the most recently seen vessels keep first and last points
    few = vq.vessel_tracks(store.pool, hours=3, budget=21)
    assert few.points <= 21 and len(few.lines) == 10
    assert {line.mmsi for line in few.lines} == {574100000 + v for v in range(10)}
    assert all(len(line) == 2 for line in few.lines)

    # Douglas-Peucker on top keeps the endpoints and drops points a straight line already draws
    simple = vq.vessel_tracks(store.pool, hours=3, budget=2000, tolerance_deg=0.001)
    assert simple.points < tracks.points
    for a, b in zip(simple.lines, tracks.lines, strict=True):
        assert a.mmsi == b.mmsi and a.lons[0] == b.lons[0] and a.lats[-1] == b.lats[-1]

    # a past window (replay): only what was stored then, still first and last points of it
    then = now - timedelta(hours=1)
    past = vq.vessel_tracks(store.pool, hours=1, until=then, budget=400, count_window=True)
    assert past.until == then and past.points <= 400 and len(past.lines) == 40
    everything = vq.vessel_tracks(store.pool, hours=1, until=then, budget=10**6).lines
    assert past.points_in_window == sum(len(line) for line in everything)

    with pytest.raises(ValueError):
        vq.vessel_tracks(store.pool, hours=0)


def test_track_budget_helpers() -> None:
    assert vq.track_buckets(50_000, 2000) == 24 and vq.track_buckets(10, 6) == 0
    assert vq.track_buckets(100, 0) == 99
    lines = [vq.TrackLine(i, tuple(float(x) for x in range(50)), tuple(float(x) for x in range(50)))
             for i in range(4)]
    capped = vq.cap_points(lines, 41)
    assert sum(len(line) for line in capped) <= 41
    assert all(line.lons[0] == 0.0 and line.lons[-1] == 49.0 for line in capped)
    assert [len(line) for line in vq.cap_points(lines, 5)] == [2, 2]
    assert vq.cap_points(lines, 1000) == tuple(lines)


# --------------------------------------------------------------------------- one vessel


def test_vessel_details_track_and_alerts(store: Store) -> None:
    now = _now(store)
    w = StoreWriter(store.pool, store.caps)
    w.write(_track(999100004, now - timedelta(seconds=30), 300)  # 5 h of positions
            + _track(999100005, now, 10, lat0=16.2))
    w.write([VesselStatic(time=now, source_id="999100004", mmsi=999100004, name="SIM TH-02",
                          callsign="SIM004", ship_type=30, length_m=15.0, beam_m=5.0, simulated=True)])
    gap = _alert(store, "ais_gap:999100004", "ais_gap", "999100004", "warning", "open",
                 {"mmsi": 999100004, "gap_start": {"lat": 16.7, "lon": 107.9, "time": now.isoformat()}}, now)
    enc = _alert(store, "encounter:999100003:999100004", "encounter", "999100003", "warning", "resolved",
                 {"mmsi": 999100003, "mmsis": [999100003, 999100004]}, now - timedelta(hours=1))
    _alert(store, "loitering:999100004", "loitering", "999100004", "warning", "resolved",
           {"mmsi": 999100004}, now - timedelta(days=3))  # resolved long ago: not listed
    _alert(store, "loitering:999100005", "loitering", "999100005", "critical", "open",
           {"mmsi": 999100005}, now)

    d = vq.vessel_details(store.pool, 999100004, hours=3)
    assert d is not None
    assert d.vessel.label == "SIM TH-02" and d.vessel.in_alert and d.vessel.alert_detectors == ("ais_gap",)
    assert len(d.track) == 180 and not d.track_truncated  # one a minute for 3 h, at full resolution
    assert [p.time for p in d.track] == sorted(p.time for p in d.track)
    assert d.track[-1].time == now - timedelta(seconds=30) and d.track[-1].sog == 6.0
    assert d.since == d.as_of - timedelta(hours=3)
    assert [a.id for a in d.alerts] == [gap, enc]  # open first; the encounter names it in its details
    assert d.alerts[0].details["gap_start"]["lat"] == 16.7 and d.alerts[0].active
    assert not d.alerts[1].active

    capped = vq.vessel_details(store.pool, 999100004, hours=6, max_points=100)
    assert capped is not None and capped.track_truncated and len(capped.track) == 100
    assert capped.track[-1].time == d.track[-1].time  # the newest positions are the ones kept
    assert vq.vessel_details(store.pool, 123456789) is None


def test_vessel_now_helpers() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    v = vq.VesselNow(mmsi=1, time=t, lat=0, lon=0, sog=None, cog=12.5, heading=None, nav_status=None,
                     simulated=False, name="  ")
    assert v.label == "1" and v.course == 12.5 and not v.in_alert
