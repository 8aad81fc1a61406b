"""Vessel positions and the vessel register in the store (both capability levels)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ioc.feeds.vessels.records import VesselPosition, VesselStatic
from ioc.store.database import Store
from ioc.store.writer import StoreWriter

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def rows(store: Store, sql: str) -> list[tuple]:
    with store.pool.connection() as conn:
        return conn.execute(sql).fetchall()


def test_positions_idempotent_and_latest_per_vessel(store: Store) -> None:
    w = StoreWriter(store.pool, store.caps)
    track = [VesselPosition(time=T0 + timedelta(minutes=i), source_id="574001230", mmsi=574001230,
                            lat=16.58 + i / 100, lon=107.62, sog=5.5, cog=45.0, msg_type=1)
             for i in range(30)]
    assert w.write(track[10:]).inserted == {"vessel.position": 20}
    assert w.write(track).inserted == {"vessel.position": 10}  # only the older, late ones are new
    assert rows(store, "SELECT count(*) FROM vessel_positions") == [(30,)]
    assert rows(store, "SELECT time, lat FROM vessel_latest") == [(track[-1].time, track[-1].lat)]


def test_register_merges_static_parts_and_keeps_known_fields(store: Store) -> None:
    w = StoreWriter(store.pool, store.caps)
    part_a = VesselStatic(time=T0, source_id="574001230", mmsi=574001230, name="TTH 90123 TS")
    part_b = VesselStatic(time=T0 + timedelta(seconds=6), source_id="574001230", mmsi=574001230,
                          callsign="XVAB1", ship_type=30, length_m=17.0, beam_m=4.5)
    w.write([part_a, part_b])
    w.write([VesselStatic(time=T0 + timedelta(hours=1), source_id="574001230", mmsi=574001230,
                          destination="THUAN AN")])
    w.write([part_a])  # a redelivery changes nothing
    assert rows(store, "SELECT name, callsign, ship_type, length_m, destination FROM vessels") == [
        ("TTH 90123 TS", "XVAB1", 30, 17.0, "THUAN AN")]
    assert rows(store, "SELECT count(*) FROM vessel_static_reports") == [(3,)]


def test_raw_ship_type_codes_reach_the_register_and_the_sea_map(store: Store) -> None:
    """Ship and cargo types decoded raw (not folded by pyais's enum) are stored and shown as such."""
    from dashboards.sea import ship_type_label
    from ingest.vessels.nmea import AisDecoder
    from ioc.store.vessel_queries import latest_vessels
    from tests.test_ais_spec import T1, T5_PART1, T5_PART2, with_bits

    codes = {66: "passenger", 77: "cargo", 26: "wing in ground", 150: "type 150", 19: "type 19"}
    now = datetime.now(UTC)
    w = StoreWriter(store.pool, store.caps)
    for i, code in enumerate(codes):
        mmsi = 244660274 + i
        decoder = AisDecoder()
        part1 = with_bits(with_bits(T5_PART1, 232, 8, code), 8, 30, mmsi)  # type 5 of this MMSI and code
        [static] = decoder.feed(part1, now) + decoder.feed(T5_PART2, now)
        [pos] = decoder.feed(with_bits(T1, 8, 30, mmsi), now)
        w.write([static, pos])
    assert rows(store, "SELECT ship_type FROM vessels ORDER BY mmsi") == [(c,) for c in codes]
    assert rows(store, "SELECT ship_type FROM vessel_static_reports ORDER BY mmsi") == [(c,) for c in codes]
    shown = [ship_type_label(v.ship_type) for v in latest_vessels(store.pool).vessels]
    assert shown == list(codes.values())
