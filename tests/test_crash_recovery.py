"""``kill -9`` of a sink in the middle of a batch, five times in one run: nothing lost, nothing doubled.

Two ``ioc run sink`` processes share the readings while the test publishes
them steadily through Kafka. One of them (its database sessions are named
``crash-victim``) is killed with SIGKILL at a moment when PostgreSQL shows its
batch transaction open, i.e. after it polled a batch and before it committed
the offsets (every other kill may instead land just after its transaction
committed, before its offsets are committed), then started again. Its uncommitted batches go to the other sink
(or to its next incarnation) and are written again; the natural keys absorb
the rows that had been written already. At the end the store holds exactly
the records produced, each once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import test_distributed_e2e as e2e
from conftest import migrated_database
from test_distributed_e2e import (
    Deployment,
    SteadyProducer,
    migrate,
    scalar,
    stored,
    wait_for,
    write_config,
)

from ioc.topics import TOPIC_BY_KIND

pytest_plugins = ["kafka_broker"]
deployment_factory = e2e.deployment_factory  # the fixture, shared with the end-to-end test

READINGS = TOPIC_BY_KIND["environment.reading"]
KILLS = 5
VICTIM = "crash-victim"
#: A session of the victim inside its batch transaction (heartbeats write role_health: not those).
IN_BATCH = """
SELECT pid, state, left(query, 60) FROM pg_stat_activity
WHERE application_name = %s AND xact_start IS NOT NULL AND state IN ('active', 'idle in transaction')
  AND query !~* 'role_health' AND query ~* '(readings|stored_counts|rollup_dirty)'
"""
#: ... or one that has just committed its batch transaction, before (or while) the sink commits
#: its Kafka offsets: the batch is then redelivered although its rows are stored.
JUST_COMMITTED = """
SELECT pid, state, left(query, 60) FROM pg_stat_activity
WHERE application_name = %s AND state = 'idle' AND query ~* '^COMMIT'
  AND state_change > clock_timestamp() - interval '3 milliseconds'
"""


def test_kill_9_of_a_sink_mid_batch_five_times_loses_and_doubles_nothing(
        deployment_factory: Callable[..., Deployment], pg_timescale: Any, tmp_path: Path) -> None:
    dsn = migrated_database(pg_timescale, timescaledb=True)
    migrate(dsn)
    d = deployment_factory(dsn, write_config(tmp_path / "ioc.toml"))
    victim_dsn = f"{dsn}?application_name={VICTIM}"
    steady = d.start("sink", name="steady-sink")
    victim = d.start("sink", dsn=victim_dsn, name="victim-sink-0")
    producer = SteadyProducer(d)
    producer.start()
    evidence: list[tuple[Any, ...]] = []
    with psycopg.connect(dsn, autocommit=True) as watch:
        for kill in range(KILLS):
            deadline = time.monotonic() + 40
            seen = None
            # Mostly inside the batch transaction; every other time just after it (best effort).
            moments = [IN_BATCH] if kill % 2 == 0 else [JUST_COMMITTED, IN_BATCH]
            while seen is None:
                assert time.monotonic() < deadline, f"the victim never opened a batch:\n{victim.log_tail()}"
                assert victim.alive, victim.log_tail()
                for moment in moments:
                    seen = watch.execute(moment, (VICTIM,)).fetchone()
                    if seen is not None:
                        break
                if seen is None:
                    time.sleep(0.001)
            victim.kill9()  # right now, while its batch transaction is open
            evidence.append((kill, *seen))
            victim = d.start("sink", dsn=victim_dsn, name=f"victim-sink-{kill + 1}")
        # the last incarnation takes part too: the producer goes on until it has a batch open
        wait_for("the last incarnation storing a batch",
                 lambda: watch.execute(IN_BATCH, (VICTIM,)).fetchone(), timeout=120, every=0.001,
                 roles=[steady, victim])
        producer.halt.set()
        producer.join(timeout=60)
    assert producer.error is None, producer.error
    produced = producer.sent
    wait_for(f"all {produced} readings stored",
             lambda: scalar(dsn, "SELECT count(*) FROM readings") >= produced,
             timeout=90, every=0.5, roles=[steady, victim])
    d.settle([steady, victim])
    assert stored(dsn, "readings", "station_id, metric, time") == (produced, produced)
    assert scalar(dsn, "SELECT n FROM stored_counts WHERE kind = 'environment.reading'") == produced
    assert scalar(dsn, "SELECT count(*) FROM dead_letters") == 0
    assert len(evidence) == KILLS
    in_batch = [row for row in evidence if row[2] != "idle"]
    assert len(in_batch) >= (KILLS + 1) // 2  # at least the even-numbered kills were mid-batch
    redone = scalar(dsn, "SELECT coalesce(sum((details->>'duplicates')::int), 0) FROM role_health "
                         "WHERE role = 'sink'")
    print(f"\n{produced} readings; victim killed {KILLS} times; rows written again and absorbed by "
          f"the natural keys (as far as heartbeats tell): {redone}")
    for row in evidence:
        print("  kill", row)
    assert steady.alive and victim.alive
    assert steady.stop() == 0 and victim.stop() == 0
