"""The services feed's tables on real PostgreSQL (plain and TimescaleDB): events stored once, each
dossier's current state, and daily/monthly rollups on local (UTC+7) days recomputed exactly."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ioc.feeds.services.records import DossierEvent
from ioc.feeds.services.schema import DOSSIER_EVENTS
from ioc.store.database import Store
from ioc.store.writer import StoreWriter

HUE = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 3, 31, 8, 0, tzinfo=HUE)


def ev(i: str, status: str, t: datetime, due: datetime, dept: str = "Sở Tư pháp") -> DossierEvent:
    final = status in ("resolved", "returned")
    return DossierEvent(
        time=t,
        source_id="motcua",
        dossier_id=i,
        procedure_code="TP-01",
        level="online_3",
        department=dept,
        status=status,
        received=T0,
        due=due,
        finished=t if final else None,
    )


def test_events_dossiers_and_rollups(store: Store) -> None:
    writer = StoreWriter(store.pool, store.caps)
    due = T0 + timedelta(days=1)
    events = [
        ev("A", "received", T0, due),
        ev("B", "received", T0, due),
        ev("C", "received", T0, due),
        ev("A", "resolved", T0 + timedelta(hours=5), due),  # on time, 5 h
        ev("B", "processing", T0 + timedelta(hours=1), due),
        # 00:30 on 2 April local is still 1 April in UTC: the rollup counts it on the local day
        ev("C", "resolved", datetime(2026, 4, 2, 0, 30, tzinfo=HUE), due),  # late
    ]
    writer.write(events[3:])  # out of order: the finish before the receipt
    writer.write(events)  # a redelivery of all of them
    with store.pool.connection() as conn:
        assert conn.execute("SELECT count(*) FROM services_dossier_events").fetchone()[0] == 6
        states = dict(conn.execute("SELECT dossier_id, status FROM services_dossiers").fetchall())
        assert states == {"A": "resolved", "B": "processing", "C": "resolved"}
        daily = conn.execute(
            "SELECT day::text, received, finished, on_time, handling_s FROM services_daily ORDER BY day"
        ).fetchall()
        assert daily == [("2026-03-31", 3, 1, 1, 5 * 3600.0), ("2026-04-02", 0, 1, 0, (40.5) * 3600.0)]
        monthly = conn.execute(
            "SELECT month::text, received, finished, on_time FROM services_monthly ORDER BY month"
        ).fetchall()
        assert monthly == [("2026-03-01", 3, 1, 1), ("2026-04-01", 0, 1, 0)]
        for table in ("services_department_daily", "services_department_monthly"):  # the sums of the above
            sql = f"SELECT sum(received), sum(finished), sum(on_time) FROM {table}"
            per_dept = conn.execute(sql).fetchone()
            assert per_dept == (3, 2, 1)
        names = [c for c, _ in DOSSIER_EVENTS.columns]
        rows = conn.execute(f"SELECT {', '.join(names)} FROM services_dossier_events").fetchall()
        back = {DOSSIER_EVENTS.from_row(dict(zip(names, r, strict=True))) for r in rows}
        assert back == set(events)  # what a recording exports and a replay reads
