"""Incident reports show what happened: a track map for a maritime incident, key frames for a camera
incident (in the HTML and in its PDF); each recipient gets the report in their own language."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image
from pypdf import PdfReader

from alerts.people import People
from dashboards.reports import archive
from dashboards.reports.making import make_report, run_due
from dashboards.reports.periods import Period
from dashboards.reports.settings import ReportSettings
from ioc.feeds.cameras.records import CameraKeyFrame
from ioc.feeds.vessels.records import VesselPosition
from ioc.store.database import Store
from ioc.store.writer import StoreWriter
from tests.test_reports import SHIFTS, TZ, make_day

T0 = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)
BOAT = 574001234


def incident(store: Store, detector: str, source: str, fingerprint: str, at: datetime) -> int:
    """An incident of one alert, as the alerts service groups them."""
    with store.pool.connection() as conn:
        row = conn.execute("INSERT INTO incidents (group_key, detector, area, first_at, last_at, alerts) "
                           "VALUES (%s, %s, 'Thuận An', %s, %s, 1) RETURNING id",
                           (fingerprint, detector, at, at + timedelta(minutes=20))).fetchone()
        assert row is not None
        conn.execute("INSERT INTO alerts (fingerprint, detector, rule, source_id, severity, title, "
                     "started_at, first_seen, last_seen, incident_id, created_at) VALUES (%s, %s, %s, %s, "
                     "'warning', %s, %s, %s, %s, %s, %s)",
                     (fingerprint, detector, detector, source, f"{detector} at {source}", at, at,
                      at + timedelta(minutes=20), row[0], at))
    return int(row[0])


def pdf_of(store: Store, report_id: int) -> PdfReader:
    data = archive.body(store.pool, report_id, "pdf")
    assert data is not None
    return PdfReader(io.BytesIO(data))


def test_a_maritime_incident_report_draws_the_boats_track(plain_store: Store) -> None:
    StoreWriter(plain_store.pool, plain_store.caps).write([
        VesselPosition(time=T0 - timedelta(minutes=50) + timedelta(minutes=2 * i), source_id=str(BOAT),
                       mmsi=BOAT, lat=16.55 + 0.004 * i, lon=107.62 + 0.006 * i, sog=6.0, simulated=True)
        for i in range(40)])
    incident_id = incident(plain_store, "ais_gap", str(BOAT), f"ais_gap:{BOAT}", T0)
    cfg = ReportSettings(pdf=True)
    report_id = make_report(plain_store.pool, Period("incident", T0, T0 + timedelta(hours=1)), "en", cfg,
                            tz=TZ, city="Huế", maker="t", incident_id=incident_id)
    assert report_id is not None
    html = archive.body(plain_store.pool, report_id, "html")
    assert html is not None and b"<polyline" in html and str(BOAT).encode() in html
    text = " ".join(p.extract_text() for p in pdf_of(plain_store, report_id).pages)
    assert "Vessel tracks" in text and str(BOAT) in text  # the map's title and the boat's label


def test_a_camera_incident_report_holds_the_key_frames_of_that_moment(plain_store: Store,
                                                                      tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    records = []
    for i, minutes in enumerate((-30, 2, 9, 40)):  # two frames inside the incident's margin
        at = T0 + timedelta(minutes=minutes)
        name = f"cam-07/{at:%Y%m%dT%H%M%S}.000Z.jpg"
        (frames / "cam-07").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (160, 90), (40 * i, 120, 80)).save(frames / name, "JPEG")
        records.append(CameraKeyFrame(time=at, source_id="cam-07", path=name, width=160, height=90,
                                      size_bytes=(frames / name).stat().st_size))
    StoreWriter(plain_store.pool, plain_store.caps).write(records)
    incident_id = incident(plain_store, "intrusion", "cam-07", "intrusion:cam-07:lawn", T0)
    report_id = make_report(plain_store.pool, Period("incident", T0, T0 + timedelta(hours=1)), "vi",
                            ReportSettings(pdf=True), tz=TZ, city="Huế", maker="t", incident_id=incident_id,
                            keyframes_dir=frames)
    assert report_id is not None
    html = archive.body(plain_store.pool, report_id, "html")
    assert html is not None and html.count(b"data:image/jpeg;base64,") == 2
    # the image objects are counted, not decoded: decoding goes through PIL.Image.open, which
    # ultralytics (imported by the camera tests in this process) replaces with a wrapper that
    # refuses pypdf's keyword call
    images = [x for page in pdf_of(plain_store, report_id).pages
              for x in (page["/Resources"].get("/XObject") or {}).values()
              if x.get_object()["/Subtype"] == "/Image"]
    assert len(images) == 2  # the two key frames of that moment, printed in the PDF


def test_each_recipient_gets_the_report_in_their_language(plain_store: Store) -> None:
    make_day(plain_store)
    people = People(plain_store.pool)
    people.add_user("mai", "viewer", "a long enough password")
    people.set_language("mai", "en")
    cfg = ReportSettings(kinds=["daily"], languages=["vi"], pdf=False, catch_up_days=1,
                         recipients=["director", "shift_lead"], channels=["email"])
    made = run_due(plain_store.pool, cfg, tz=TZ, city="Huế", shift_starts=SHIFTS, maker="s",
                   now=datetime(2026, 12, 5, 1, 0, tzinfo=UTC),
                   recipient_users={"director": "mai", "shift_lead": None})
    assert sorted(r.lang for r in archive.recent(plain_store.pool) if r.id in made) == ["en", "vi"]
    with plain_store.pool.connection() as conn:
        sent = dict(conn.execute("SELECT recipient, subject FROM notifications WHERE reason = 'report'")
                    .fetchall())
    assert sent["director"].startswith("Daily incident report")
    assert sent["shift_lead"].startswith("Báo cáo sự cố hằng ngày")
