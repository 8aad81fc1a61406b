"""A replay worker in a process of its own, for the takeover tests (it is killed with SIGKILL).

``python -m tests.replay_worker DSN WORKER``: runs :class:`~ioc.app.replay_jobs.ReplayJobs` on the
store at ``DSN`` under the name ``WORKER`` with the fleet's vessel rules, until it is killed.
"""

from __future__ import annotations

import sys
import threading

from ioc.app.replay_jobs import ReplayJobs
from ioc.config import RuleSettings, Settings, load_settings
from ioc.store.database import open_store


def takeover_settings() -> Settings:
    """The Huế configuration's vessel rules alone (as ``tests.test_replay.vessel_settings``), with a
    heartbeat every 0.2 s and a run abandoned after 1 s without one."""
    hue = load_settings()
    web = hue.web.model_copy(update={"replay_heartbeat_s": 0.2, "replay_abandoned_after_s": 1.0,
                                     "replay_max_attempts": 3})
    return Settings(samples_dir=hue.samples_dir, rules=RuleSettings(vessels=hue.rules.vessels.as_config()),
                    bus=hue.bus, web=web)


def main() -> None:
    dsn, worker = sys.argv[1:3]
    store = open_store(dsn, 1, 4, want_timescaledb=False)
    jobs = ReplayJobs(store, takeover_settings(), worker=worker, poll_s=0.1, report_every_s=0.2)
    print("replay worker ready", flush=True)
    jobs.run(threading.Event())


if __name__ == "__main__":
    main()
