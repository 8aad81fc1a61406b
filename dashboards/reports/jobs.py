"""The report job on apscheduler: every few minutes, make the reports whose period has ended.

One job checks all kinds: a period that ended while no scheduler ran is made at the next check
(``catch_up_days`` back), and the archive's claim makes two schedulers produce one report.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from psycopg_pool import ConnectionPool

from dashboards.reports.making import run_due
from dashboards.reports.settings import report_settings
from ioc.store.health import instance_id


def recipient_users(settings: Any) -> dict[str, str | None]:
    """Recipient key -> its console user (whose language it reads reports in), from ``[alerts]``."""
    from alerts.settings import alert_settings

    return {key: r.user for key, r in alert_settings(settings).recipients.items()}


def register_report_jobs(scheduler: BaseScheduler, pool: ConnectionPool, settings: Any,
                         shift_starts: list[str], check_seconds: float = 60.0) -> None:
    """Add the report job (when ``[reports] enabled``)."""
    cfg = report_settings(settings)
    if not cfg.enabled:
        return
    scheduler.add_job(
        run_due, "interval", seconds=check_seconds, id="reports",
        next_run_time=datetime.now(UTC) + timedelta(seconds=5),  # catch up soon after a start
        kwargs={"pool": pool, "cfg": cfg, "tz": settings.timezone, "city": settings.city,
                "shift_starts": shift_starts, "maker": instance_id(),
                "simulated": cfg.simulated, "keyframes_dir": settings.vision.keyframes_dir,
                "recipient_users": recipient_users(settings)},
    )
