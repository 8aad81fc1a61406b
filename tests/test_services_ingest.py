"""Services ingest: the SIMULATED catalogue's shape, CSV import with dead letters, and HTTP polling of
a real local server (paging, conditional requests, backoff after a 503)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from ingest.services.csv_import import MAX_LINE, read_csv, read_csv_file
from ingest.services.poller import DossierPoller
from ingest.services.server import DossierServer
from ingest.services.simulator import DEPARTMENTS, dossier_rows, procedures
from ingest.services.worker import ServicesWorker
from ioc.bus.memory import MemoryBus
from ioc.feeds.services.records import DossierEvent
from ioc.topics import DEAD_LETTERS, topic_for
from tests.waiting import wait_for

HUE = ZoneInfo("Asia/Ho_Chi_Minh")
START = datetime(2026, 3, 2, tzinfo=HUE)


def test_simulated_catalogue_has_the_provinces_shape() -> None:
    catalogue = procedures()
    assert len(catalogue) == 2129
    assert Counter(p.level for p in catalogue) == {"online_3": 814, "online_4": 976, "in_person": 339}
    rows = list(dossier_rows(START, START + timedelta(days=30), per_day=200))
    finished = [r for r in rows if r["finished"] is not None]
    on_time = sum(r["finished"] <= r["due"] for r in finished) / len(finished)
    assert 0.85 < on_time < 0.995  # late dossiers exist, at a realistic rate
    assert {r["department"] for r in rows} <= set(DEPARTMENTS)
    assert all(r["simulated"] for r in rows)
    DossierEvent(time=rows[0]["time"], source_id="sim", **{k: v for k, v in rows[0].items() if k != "time"})


def test_csv_import_publishes_rows_and_dead_letters_each_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "dossier_id,procedure_code,procedure_name,level,department,status,time,received,due,finished\n"
        "H1,01.0001,Cấp phiếu lý lịch tư pháp,4,Sở Tư pháp,received,2026-03-02T08:00,2026-03-02T08:00,"
        "2026-03-12T17:00,\n"
        "H1,01.0001,Cấp phiếu lý lịch tư pháp,4,Sở Tư pháp,resolved,2026-03-05T09:00,2026-03-02T08:00,"
        "2026-03-12T17:00,2026-03-05T09:00\n"
        "H2,01.0001,x,9,Sở Tư pháp,received,2026-03-02T08:00,2026-03-02T08:00,2026-03-12T17:00,\n"
        "H3,01.0001,x,3,Sở Tư pháp,resolved,2026-03-02T08:00,2026-03-02T08:00,2026-03-12T17:00,\n"
        "H4,01.0001,x,3,Sở Tư pháp,received,yesterday,2026-03-02T08:00,2026-03-12T17:00,\n"
        "H5,too,few\n"
        # day first, as a spreadsheet's export writes it
        "H6,01.0001,x,4,Sở Tư pháp,received,02/03/2026 08:00,02/03/2026 08:00,12/03/2026 17:00,\n"
        "H7,01.0001,x,4,Sở Tư pháp,received,02/03/2026 8h,02/03/2026 08:00,12/03/2026 17:00,\n",
        encoding="utf-8",
    )
    items = list(read_csv_file(path, source="csv", tz=HUE))
    events = [i for i in items if isinstance(i, DossierEvent)]
    reasons = [i[0] for i in items if isinstance(i, tuple)]
    assert [(e.dossier_id, e.status) for e in events] == [("H1", "received"), ("H1", "resolved"),
                                                          ("H6", "received")]
    assert events[0].received == datetime(
        2026, 3, 2, 1, 0, tzinfo=ZoneInfo("UTC")
    )  # local time read as UTC+7
    assert (events[2].received, events[2].due) == (events[0].received, events[0].due)  # 2 March, not 3 Feb
    assert len(reasons) == 5
    assert reasons[0].startswith("line 4: level: unknown")
    assert "finished time" in reasons[1] and reasons[2].startswith("line 6: time: not ISO 8601")
    assert reasons[3] == "line 7: 3 cells for 10 columns"
    assert reasons[4].startswith("line 9: time: not ISO 8601 (nor dd/mm/yyyy hh:mm): '02/03/2026 8h'")


HEADER = "dossier_id,procedure_code,procedure_name,level,department,status,time,received,due,finished"
TIMES = "received,2026-03-02T08:00,2026-03-02T08:00,2026-03-12T17:00,"


def test_csv_quoted_line_breaks_stay_in_their_cell_and_reasons_name_the_starting_line() -> None:
    text = (f"{HEADER}\r\n"
            f'H1,1.002,"Cấp giấy phép\r\nxây dựng",3,Sở Xây dựng,{TIMES}\r\n'  # lines 2-3
            f'H2,1.003,"Cấp giấy phép\u2028xây dựng",3,Sở Xây dựng,{TIMES}\r\n'  # line 4
            f'H3,1.004,"Cấp\x0bphép",3,Sở Xây dựng,{TIMES}\r\n'  # line 5: Excel's soft break
            "\r\n"  # line 6: blank
            "H4,too,few\r\n"  # line 7
            f'H5,1.005,"hai\ndòng",9,Sở Xây dựng,{TIMES}\r\n'  # lines 8-9: a bad level
            f"H6,1.006,x,4,Sở Tư pháp,{TIMES}\r\n")  # line 10
    items = list(read_csv(text, source="csv", tz=HUE))
    events = [i for i in items if isinstance(i, DossierEvent)]
    dead = [i for i in items if isinstance(i, tuple)]
    assert [(e.dossier_id, e.procedure_name) for e in events] == [
        ("H1", "Cấp giấy phép\r\nxây dựng"), ("H2", "Cấp giấy phép\u2028xây dựng"), ("H3", "Cấp\x0bphép"),
        ("H6", "x")]
    assert dead[0] == ("line 7: 3 cells for 10 columns", "H4,too,few")
    assert dead[1][0].startswith("line 8: level: unknown")
    assert dead[1][1].startswith('H5,1.005,"hai\ndòng",9,')  # the record as written, both lines
    assert len(dead) == 2


def test_csv_text_with_a_bom_and_a_quote_left_open() -> None:
    [event] = read_csv(f"\ufeff{HEADER}\nH1,1.001,x,3,Sở Tư pháp,{TIMES}\n", source="csv", tz=HUE)
    assert isinstance(event, DossierEvent) and event.dossier_id == "H1"
    filler = "".join(f"H{n},1.001,x,3,Sở Tư pháp,{TIMES}\n" for n in range(2, 2000))  # ~140 000 characters
    text = f'{HEADER}\nH1,1.001,"open,3,Sở Tư pháp,{TIMES}\n{filler}H9,1.009,x,3,UBND,{TIMES}\n'
    items = list(read_csv(text, source="csv", tz=HUE))
    reason, raw = items[0]
    assert reason == f"line 2: longer than {MAX_LINE} characters" and len(raw) == MAX_LINE
    assert isinstance(items[-1], DossierEvent) and items[-1].dossier_id == "H9"  # read on after it
    assert len(items) > 1000  # the records after the bound are read again, one by one


def _windows_1258(text: str) -> bytes:
    """``text`` as windows-1258 writes it: a letter (with its circumflex, breve or horn) then its tone
    as a combining mark (the code page has no precomposed ấ, ộ, ự...)."""
    import unicodedata

    tones = "\u0300\u0301\u0303\u0309\u0323"
    out = []
    for ch in text:
        parts = unicodedata.normalize("NFD", ch)
        marks = "".join(c for c in parts if c in tones)
        out.append(unicodedata.normalize("NFC", "".join(c for c in parts if c not in tones)) + marks)
    return "".join(out).encode("cp1258")


def test_an_excel_export_from_a_vietnamese_windows_semicolons_and_windows_1258(tmp_path: Path) -> None:
    """Excel writes ';' between cells where the decimal mark is a comma, and its plain "CSV" in the
    system's code page (windows-1258 in Vietnam): read with ``options.encoding``; unset, the file is one
    dead letter that says what to set."""
    from ingest.services.csv_import import read_csv_file

    rows = [HEADER, "H1,1.001,Cấp phép xây dựng,3,Sở Xây dựng," + TIMES.replace(",", ";"),
            "H2,1.002,Đăng ký hộ tịch,4,Sở Tư pháp," + TIMES.replace(",", ";")]
    text = "\r\n".join(r.replace(",", ";") for r in rows) + "\r\n"
    export = tmp_path / "export.csv"
    export.write_bytes(_windows_1258(text))
    events = list(read_csv_file(export, encoding="windows-1258", source="csv", tz=HUE))
    assert [(e.dossier_id, e.procedure_name, e.department) for e in events] == [  # type: ignore[union-attr]
        ("H1", "Cấp phép xây dựng", "Sở Xây dựng"), ("H2", "Đăng ký hộ tịch", "Sở Tư pháp")]
    [(reason, _)] = read_csv_file(export, source="csv", tz=HUE)
    assert "not utf-8 text" in reason and "windows-1258" in reason
    export.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))  # Excel's "CSV UTF-8": the BOM decides
    assert len(list(read_csv_file(export, encoding="windows-1258", source="csv", tz=HUE))) == 2
    # Excel's "Unicode Text": UTF-16 (little-endian) with its BOM, cells between tabs
    export.write_bytes("\r\n".join(r.replace(";", "\t").replace(",", "\t") for r in text.split("\r\n"))
                       .encode("utf-16"))
    events = list(read_csv_file(export, source="csv", tz=HUE))
    assert [(e.dossier_id, e.procedure_name) for e in events] == [  # type: ignore[union-attr]
        ("H1", "Cấp phép xây dựng"), ("H2", "Đăng ký hộ tịch")]


def test_polling_pages_conditional_requests_backoff_and_worker() -> None:
    rows = list(dossier_rows(START, START + timedelta(days=2), per_day=300))
    now = START + timedelta(days=1)
    clock = [0.0]
    with DossierServer(rows, now=now) as server:
        poller = DossierPoller(
            server.url, source="motcua", tz=HUE, page_size=100, simulated=True, monotonic=lambda: clock[0]
        )
        events, dead = poller.poll()
        visible = [r for r in rows if r["time"] <= now]
        assert dead == [] and len(events) == len(visible) and len(visible) > 300  # several pages
        assert len({(e.dossier_id, e.time, e.status) for e in events}) == len(events)
        assert poller.poll() == ([], [])  # nothing after the cursor: an empty page and its ETag
        assert poller.poll() == ([], [])  # the same question again: 304 to the conditional request
        assert poller.not_modified == 1 and server.requests[-1][1].get("If-None-Match")
        server.fail_next = 1
        server.now = START + timedelta(days=2)
        assert poller.poll() == ([], []) and poller.failures == 1 and "503" in (poller.last_error or "")
        asked = len(server.requests)
        assert poller.poll() == ([], []) and len(server.requests) == asked  # backing off: no request
        clock[0] += 1.0  # Retry-After: 1
        events2, _ = poller.poll()
        assert len(events) + len(events2) == len(rows) and poller.failures == 0

        bus = MemoryBus().publisher()
        server.rows.append({**rows[0], "level": "7", "time": server.now})  # a bad row at the end
        server.times.append(server.now)
        fresh = DossierPoller(server.url, source="motcua", tz=HUE, page_size=500)
        worker = ServicesWorker("motcua", fresh.poll, bus, interval=0.05)
        stop = threading.Event()
        thread = threading.Thread(target=worker.run, args=(stop,))
        thread.start()
        try:
            wait_for(lambda: worker.events == len(rows) and worker.health["dead_letters"] == 1)
        finally:
            stop.set()
            thread.join()
        assert worker.health["dead_letter_reasons"] == {"level": 1}
        assert worker.out.published[DEAD_LETTERS] == 1


def test_the_demo_sample_imports_without_dead_letters() -> None:
    sample = Path(__file__).parent.parent / "sample_streams" / "services" / "dossiers.csv"
    items = list(read_csv_file(sample, source="motcua-sample", tz=HUE, simulated=True))
    assert items and all(isinstance(i, DossierEvent) and i.simulated for i in items)


def test_the_huế_config_builds_the_services_worker_and_it_imports_the_sample() -> None:
    from ingest.registry import build_feed_worker
    from ioc.config import load_settings

    settings = load_settings()
    [feed] = [f for f in settings.feeds if f.name == "motcua-sample"]
    worker = build_feed_worker(feed, settings, MemoryBus().publisher())
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:  # a CSV feed reads its file once, then idles until it is stopped (the role keeps running)
        wait_for(lambda: worker.imported, "the sample imported")
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(timeout=60)
    # what the moved sample dates after now is held for its time: nothing is lost
    health = worker.health
    assert health["events"] > 0 and health["dead_letters"] == 0  # how many: the weekday decides
    sample = Path(__file__).parent.parent / "sample_streams" / "services" / "dossiers.csv"
    assert health["events"] + health["held_until_their_time"] == len(list(
        read_csv_file(sample, source=feed.name, tz=HUE, simulated=True)))


def test_held_events_are_published_as_their_time_comes() -> None:
    """A SIMULATED sample moved to the present: what lies after now waits for its time, in order."""
    t0 = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    clock = [t0]

    def dossier(n: int, minutes: int) -> DossierEvent:
        at = t0 + timedelta(minutes=minutes)
        return DossierEvent(time=at, source_id="s", dossier_id=f"D{n}", procedure_code="P", department="UBND",
                            status="received", received=at, due=at + timedelta(days=3), simulated=True)

    bus = MemoryBus()
    out = bus.subscribe([topic_for(dossier(0, 0))], "check")
    worker = ServicesWorker("s", lambda: ([], []), bus.publisher(), once=True, as_time_passes=True,
                            clock=lambda: clock[0])
    worker.handle([dossier(2, 90), dossier(0, -30), dossier(1, 0), dossier(3, 200)], [])
    worker.out.flush(force=True)
    assert [m.value for m in out.poll(100, 0.1)] == [dossier(0, -30).to_wire(), dossier(1, 0).to_wire()]
    assert worker.health["held_until_their_time"] == 2 and worker.events == 2
    clock[0] = t0 + timedelta(minutes=100)
    worker.handle([], [])
    worker.out.flush(force=True)
    assert [m.value for m in out.poll(100, 0.1)] == [dossier(2, 90).to_wire()]
    assert [e.dossier_id for e in worker.held] == ["D3"]


def test_a_simulated_sample_is_moved_by_whole_weeks_so_its_last_week_covers_now() -> None:
    """The demo's two weeks of dossiers, made for November, read in a later month: moved by whole
    weeks so their last week covers now, each dossier's weekday and time of day kept."""
    import pytest

    from ingest.services import ServicesFeedOptions
    from ingest.services.csv_import import to_recent_weeks

    sample = Path(__file__).parent.parent / "sample_streams" / "services" / "dossiers.csv"
    events = [i for i in read_csv_file(sample, source="motcua-sample", tz=HUE, simulated=True)
              if isinstance(i, DossierEvent)]
    now = max(e.time for e in events) + timedelta(days=38, hours=5)  # five weeks and three days on
    moved = to_recent_weeks(events, now)
    step = moved[0].time - events[0].time
    assert step == timedelta(weeks=6)
    assert now <= max(e.time for e in moved) < now + timedelta(weeks=1)
    assert min(e.time for e in moved) < now  # the first week and more are in the past
    assert all((m.time - e.time, m.received - e.received, m.due - e.due) == (step, step, step)
               and (e.finished is None) == (m.finished is None) for e, m in zip(events, moved, strict=True))
    assert all(m.time.astimezone(HUE).strftime("%a %H:%M") == e.time.astimezone(HUE).strftime("%a %H:%M")
               for e, m in zip(events, moved, strict=True))
    assert to_recent_weeks(events, max(e.time for e in events) - timedelta(days=6)) == events  # covers now
    with pytest.raises(ValueError, match="simulated"):  # a real export's times are never moved
        ServicesFeedOptions(path="x.csv", shift_to_recent=True)
