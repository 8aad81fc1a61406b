"""PostgreSQL stops for 10 s during ingest: nothing lost, every worker recovers by itself.

A sink, a detector and the alerts service run as ``ioc run`` processes on a
private PostgreSQL (TimescaleDB where installed) that the test stops for ten
seconds while readings keep arriving through Kafka, and that crosses a
threshold rule's ten minutes during the outage. No process is restarted by
the test: each one waits with backoff, logs why it waited, and carries on
when the database is back. Afterwards every reading is stored once and each
expected alert was raised once.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import test_distributed_e2e as e2e
from test_distributed_e2e import (
    Deployment,
    SteadyProducer,
    migrate,
    scalar,
    sql,
    stored,
    wait_for,
    write_config,
)

from ioc.store.embedded import EmbeddedPostgres, timescaledb_installed

pytest_plugins = ["kafka_broker"]
deployment_factory = e2e.deployment_factory  # the fixture, shared with the end-to-end test

OUTAGE_S = 10.0
#: Readings are 10 s apart in event time; two stations breach pm25 > 100 for more than 5 minutes.
STEP = timedelta(seconds=10)
#: Station -> [first step, end step) of its high values: 10 steps a second, so both fire and clear
#: while the database is down.
BREACHES = {7: (20, 70), 11: (60, 110)}
RULE = {"name": "pm25-high", "metric": "pm25", "above": 100.0, "for_minutes": 5.0, "clear_margin": 10.0}


def value(station: int, step: int) -> float:
    lo, hi = BREACHES.get(station, (0, 0))
    return 400.0 if lo <= step < hi else 20.0 + (station + step) % 30


@pytest.fixture
def private_pg(pg_root: Path) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL server of this test's own, which it stops and starts again (same port)."""
    probe = EmbeddedPostgres(pg_root / "probe-outage")
    pg = EmbeddedPostgres(pg_root / f"outage-{uuid.uuid4().hex[:8]}",
                          timescaledb=timescaledb_installed(probe.bindir),
                          server_options={"fsync": "off", "synchronous_commit": "off"})
    pg.start()
    try:
        yield pg
    finally:
        pg.remove()


def test_postgres_down_for_10_s_loses_nothing_and_workers_recover_by_themselves(
        deployment_factory: Callable[..., Deployment], private_pg: EmbeddedPostgres, tmp_path: Path) -> None:
    dsn = private_pg.dsn
    migrate(dsn, timescaledb=private_pg.timescaledb)
    d = deployment_factory(dsn, write_config(tmp_path / "ioc.toml", thresholds=[RULE]))
    sink, detector, alerts = d.start("sink"), d.start("detectors"), d.start("alerts")
    roles = [sink, detector, alerts]
    t0 = (datetime.now(UTC) - timedelta(hours=6)).replace(microsecond=0)
    producer = SteadyProducer(d, rate=3000, stations=300, step=STEP, t0=t0, value=value)
    wait_for("the roles' first heartbeats", lambda: scalar(dsn, "SELECT count(*) FROM role_health") >= 3,
             timeout=30, roles=roles)
    producer.start()
    wait_for("ingest under way", lambda: scalar(dsn, "SELECT count(*) FROM readings") > 5000,
             timeout=30, roles=roles)
    stopped_at = time.monotonic()
    private_pg.stop()
    during = producer.sent
    time.sleep(OUTAGE_S)
    private_pg.start()
    back_at = time.monotonic()
    assert producer.sent > during  # ingest went on while the database was down
    back_sent = producer.sent
    wait_for("the store holding more than was sent before it came back (the backlog, then new readings)",
             lambda: scalar(dsn, "SELECT count(*) FROM readings") > back_sent, timeout=120, every=0.5,
             roles=roles)
    producer.halt.set()
    producer.join(timeout=60)
    assert producer.error is None, producer.error
    produced = producer.sent
    steps = produced // 300
    expected = sorted(
        (f"hue-aq-{s:03d}", t0 + lo * STEP, "resolved" if hi < steps else "open")
        for s, (lo, hi) in BREACHES.items() if lo + 30 < steps)  # 30 steps = the rule's 5 minutes
    assert len(expected) == 2, f"produce longer: only {steps} steps"
    wait_for(f"all {produced} readings stored and the alerts raised", lambda: (
        scalar(dsn, "SELECT count(*) FROM readings") >= produced
        and scalar(dsn, "SELECT count(*) FROM alerts") >= len(expected)
        and scalar(dsn, "SELECT count(*) FROM alerts WHERE state = 'resolved'")
        >= sum(e[2] == "resolved" for e in expected)), timeout=90, every=0.5, roles=roles)
    caught_up = time.monotonic() - back_at
    d.settle(roles)
    assert stored(dsn, "readings", "station_id, metric, time") == (produced, produced)
    assert scalar(dsn, "SELECT n FROM stored_counts WHERE kind = 'environment.reading'") == produced
    rows = sql(dsn, "SELECT source_id, started_at, state, count FROM alerts ORDER BY source_id")
    assert [r[:3] for r in rows] == expected and all(r[3] == 1 for r in rows)
    assert scalar(dsn, "SELECT count(*) FROM alert_audit WHERE action = 'raise'") == len(expected)
    # Nobody was restarted: each waited, said why, and went on. (The sink and the detector had
    # work in hand when the database went; the alerts service noticed it in its heartbeat.)
    assert all(r.alive for r in roles)
    for role in (sink, detector):
        log = role.log()
        assert "store unavailable (" in log and "waiting" in log, \
            f"{role.name} did not say why it waited:\n{log[-3000:]}"
    assert "could not record role health" in alerts.log()
    print(f"\n{produced} readings; PostgreSQL down {back_at - stopped_at:.1f} s; "
          f"everything stored {caught_up:.1f} s after it came back")
    for role in roles:
        waits = [line for line in role.log().splitlines()
                 if "store unavailable" in line or "could not record role health" in line]
        print(f"  {role.name}: {len(waits)} logged wait(s); first: {waits[0][24:200] if waits else '-'}")
    for role in roles:
        assert role.stop() == 0, role.log_tail()
    with psycopg.connect(dsn, autocommit=True) as conn:  # the server is healthy afterwards
        assert conn.execute("SELECT 1").fetchone() == (1,)
