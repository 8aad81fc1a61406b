"""The scheduler's jobs: rollup refresh and retention, alert escalation and notifications, run by apscheduler.

Where TimescaleDB's own job scheduler can do the work (continuous
aggregates, retention policies on the community licence), the policy is
installed once and the job here does nothing.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler

from alerts.escalation import register_alert_jobs
from alerts.settings import alert_settings
from dashboards.reports.jobs import register_report_jobs
from ioc.config import Settings
from ioc.store.database import Store
from ioc.store.maintenance import apply_retention, install_policies, refresh_rollups

log = logging.getLogger(__name__)


def _guarded(name: str, fn, *args) -> None:  # noqa: ANN001
    try:
        fn(*args)
    except Exception as exc:  # a failed run is logged; the next run tries again
        log.warning("scheduled job %s failed: %s", name, exc)


def build_scheduler(store: Store, settings: Settings) -> BackgroundScheduler:
    """A scheduler (not started) with the store's maintenance jobs."""
    install_policies(store.pool, store.caps, settings.database.retention_days)
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    scheduler.add_job(
        _guarded, "interval", args=("refresh_rollups", refresh_rollups, store.pool, store.caps),
        seconds=settings.database.rollup_refresh_seconds, id="refresh_rollups",
    )
    scheduler.add_job(
        _guarded, "interval",
        args=("retention", apply_retention, store.pool, store.caps, settings.database.retention_days),
        hours=1, id="retention",
    )
    alerts = alert_settings(settings)
    register_alert_jobs(scheduler, store.pool, alerts)  # escalation, reminders, notifying
    register_report_jobs(scheduler, store.pool, settings, alerts.shift_starts)  # scheduled reports
    return scheduler
