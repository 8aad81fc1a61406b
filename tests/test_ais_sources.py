"""AIS sources over real sockets and files, and the worker that publishes what they yield."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.vessels.nmea import TooLong
from ingest.vessels.sources import FileSource, LineSplitter, TcpSource, UdpSource
from ingest.vessels.worker import VesselWorker
from ioc.bus.memory import MemoryBus
from ioc.events import decode
from ioc.feeds.vessels.records import VesselPosition, VesselStatic
from ioc.topics import DEAD_LETTERS
from tests.waiting import wait_for

SAMPLES = Path(__file__).resolve().parent.parent / "sample_streams" / "vessels"
GPSD_LOG = SAMPLES / "ais-nmea.log"
AISDB_LOG = SAMPLES / "test_data_20211101.nm4"
T5_PART1 = b"!AIVDM,2,1,9,B,55R3Vn82=ILTQ3KKS>1<D60Dq@E918U<F222221J1`?164vc03S1CCAD,0*2A"
T5_PART2 = b"!AIVDM,2,2,9,B,`88888888888880,2*76"
T1 = b"!AIVDM,1,1,,B,13aDp<PP000IwSlN?Wm@0?wN2<1T,0*29"


def ais_lines(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if b"!AIVDM" in line]


def drain(bus: MemoryBus, group: str = "check") -> dict[str, list]:
    """Everything published on the bus so far, by topic: (key, value) pairs."""
    topics = ["ioc.vessels.positions", "ioc.vessels.static", DEAD_LETTERS]
    sub = bus.subscribe(topics, group)
    out: dict[str, list] = {t: [] for t in topics}
    while True:
        batch = sub.poll(max_records=10_000, timeout=0.05)
        if not batch:
            break
        for message in batch:
            out[message.topic].append((message.key, message.value))
    sub.close()
    return out


# -- line splitting -------------------------------------------------------------------------


def test_line_splitter_chunks_crlf_and_too_long_lines() -> None:
    splitter = LineSplitter(max_line_bytes=100)
    data = T1 + b"\r\n" + b"X" * 5000 + b"\n" + T5_PART1 + b"\r\n" + T5_PART2
    lines = []
    for i in range(0, len(data), 7):  # arbitrary chunk boundaries
        lines += splitter.feed(data[i : i + 7])
    assert lines[0] == T1
    too_long = lines[1]
    assert isinstance(too_long, TooLong) and too_long.size == 5000
    assert 100 < len(too_long.prefix) <= 4096 and set(too_long.prefix) == {ord("X")}
    assert lines[2] == T5_PART1
    assert splitter.rest() == T5_PART2 and splitter.rest() is None


# -- file ---------------------------------------------------------------------------------


def test_file_source_replays_with_original_timing(tmp_path: Path) -> None:
    # Tag-block times 0, 10 and 30 s apart, replayed at 10x: waits of 1 s and 2 s.
    lines = [
        b"\\c:1700000000*3D\\" + T1,
        b"\\c:1700000010*3C\\" + T1,
        b"# no time stamp: released with the previous line",
        b"\\c:1700000030*3E\\" + T1,
    ]
    path = tmp_path / "paced.nmea"
    path.write_bytes(b"\n".join(lines) + b"\n")
    clock = {"now": 0.0}
    waits: list[float] = []

    class FakeStop(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            waits.append(round(timeout or 0.0, 6))
            clock["now"] += timeout or 0.0
            return False

    source = FileSource(path, speed=10.0, monotonic=lambda: clock["now"])
    batches = [batch for batch, _ in source.read(FakeStop())]
    assert waits == [1.0, 2.0]
    assert [len(b) for b in batches] == [1, 2, 1]
    assert source.passes == 1 and not source.connected


def test_file_source_paces_nais_archives_by_their_receive_times(tmp_path: Path) -> None:
    # Real USCG NAIS lines (libais's tests, github.com/schwehr/libais, Apache-2.0): no tag block,
    # the UNIX time last; 1, 58 and 10 s apart, replayed at 10x.
    lines = [
        b"!SAVDM,1,1,,A,15N4OMPP01I<cGrA1v>Id?vF060l,0*22,b003669978,1429287189",
        b"!SAVDM,2,1,4,B,54h@7?02BAF=`L4wN21<eTH4hj2222222222220U4HG6553U06T0C3H0Q@@j,0*5D,d-86,S389,"
        b"t161310.00,T10.377780,D07MN-MI-LAKBS1,1429287190",
        b"!SAVDM,2,2,4,B,88888888880,2*39,d-86,S389,t161310.00,T10.377780,D07MN-MI-LAKBS1,1429287190",
        b"!AIVDM,1,1,,B,3592u`iP03GWEflBRosm0Ov@0000,0*70,d-107,S0297,t161407.00,T07.92201452,r11CSDO1,"
        b"1429287248",
        b"!SAVDM,1,1,,B,K8VSqb9LdU28WP8<,0*17,rMySat,1429287258",
    ]
    path = tmp_path / "nais.nmea"
    path.write_bytes(b"\r\n".join(lines) + b"\r\n")
    clock = {"now": 0.0}
    waits: list[float] = []

    class FakeStop(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            waits.append(round(timeout or 0.0, 6))
            clock["now"] += timeout or 0.0
            return False

    source = FileSource(path, speed=10.0, monotonic=lambda: clock["now"])
    batches = [batch for batch, _ in source.read(FakeStop())]
    assert waits == [0.1, 5.8, 1.0]
    assert [len(b) for b in batches] == [1, 2, 1, 1]


def test_file_source_missing_file_is_an_error_not_an_exception(tmp_path: Path) -> None:
    source = FileSource(tmp_path / "nope.nmea")
    assert list(source.read(threading.Event())) == []
    assert "cannot open" in source.take_errors()[0]


# -- TCP ----------------------------------------------------------------------------------


class DroppingServer:
    """A real TCP server on 127.0.0.1 that sends ``first`` then drops the connection mid-line,
    stops listening (the client's reconnects are refused) until ``reopen_when()`` holds, then
    listens again on the same port and sends ``second``."""

    def __init__(self, first: bytes, second: bytes) -> None:
        self.first, self.second = first, second
        self.reopen_when: Callable[[], bool] = lambda: True
        self.listener = self._listen(0)
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @staticmethod
    def _listen(port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(1)
        sock.settimeout(10)
        return sock

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        self.accepted += 1
        conn.sendall(self.first)
        conn.close()
        self.listener.close()
        wait_for(self.reopen_when, "the client to be refused while the server is away")
        self.listener = self._listen(self.port)
        conn, _ = self.listener.accept()
        self.accepted += 1
        for i in range(0, len(self.second), 1000):  # in pieces, as a network would
            conn.sendall(self.second[i : i + 1000])
        self.done.wait(10)
        conn.close()
        self.listener.close()


def test_tcp_source_reconnects_after_a_drop_and_loses_nothing() -> None:
    lines = ais_lines(GPSD_LOG)
    half = len(lines) // 2
    cut = lines[half][:20]  # the connection drops in the middle of this sentence
    first = b"\r\n".join(lines[:half]) + b"\r\n" + cut
    second = b"\r\n".join(lines[half:]) + b"\r\n"
    server = DroppingServer(first, second)
    bus = MemoryBus()
    source = TcpSource("127.0.0.1", server.port, backoff_initial=0.05, backoff_max=0.2, read_timeout=0.05)
    worker = VesselWorker(source, bus.publisher(), feed="ais-tcp", flush_seconds=0.05)
    # back once the client has seen the drop and at least one refused retry, however busy the machine
    server.reopen_when = lambda: worker.health["source_errors"] >= 2
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: worker.health["positions"] == 141)
        wait_for(lambda: worker.health["published"].get("ioc.vessels.positions") == 141)
        health = worker.health
        assert health["connected"] is True
    finally:
        stop.set()
        server.done.set()
        thread.join(5)
    assert not thread.is_alive()
    assert server.accepted == 2 and source.connects == 2 and source.disconnects >= 1
    health = worker.health
    assert health["statics"] == 21
    assert health["source_errors"] >= 2  # the dropped connection and at least one refused retry
    assert health["dead_letters"] == 4  # 3 "position not available" + the line cut by the drop
    assert health["sentences"] == 183  # every sentence sent, the cut one included as a reject
    published = drain(bus)
    assert len(published["ioc.vessels.positions"]) == 141
    assert len(published["ioc.vessels.static"]) == 21
    reasons = [json.loads(v)["reason"] for _, v in published[DEAD_LETTERS]]
    assert "missing checksum" in reasons and reasons.count("position not available") == 3
    assert any(json.loads(v)["payload"] == cut.decode() for _, v in published[DEAD_LETTERS])
    for key, value in published["ioc.vessels.positions"]:
        record = decode(value)
        assert isinstance(record, VesselPosition) and key == str(record.mmsi)


def test_tcp_source_refused_connection_is_counted_and_retried() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source = TcpSource("127.0.0.1", port, backoff_initial=0.01, backoff_max=0.02)
    stop = threading.Event()
    batches = source.read(stop)
    for _ in range(3):
        assert next(batches)[0] == []
    stop.set()
    assert list(batches) == []
    errors = source.take_errors()
    assert len(errors) == 3 and all("refused" in e.lower() for e in errors)
    assert source.connected is False


# -- UDP ----------------------------------------------------------------------------------


@pytest.fixture
def udp_worker() -> Iterator[tuple[UdpSource, VesselWorker, MemoryBus]]:
    bus = MemoryBus()
    source = UdpSource("127.0.0.1", 0, read_timeout=0.05)
    source.open()
    worker = VesselWorker(source, bus.publisher(), feed="ais-udp", flush_seconds=0.05)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    yield source, worker, bus
    stop.set()
    thread.join(5)
    assert not thread.is_alive()


def test_udp_listener_with_real_datagrams(udp_worker: tuple[UdpSource, VesselWorker, MemoryBus]) -> None:
    source, worker, bus = udp_worker
    address = source.open()
    lines = ais_lines(AISDB_LOG)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for i in range(0, len(lines), 5):  # five sentences per datagram, CRLF-separated
            sender.sendto(b"\r\n".join(lines[i : i + 5]) + b"\r\n", address)
            if i % 200 == 195:  # UDP drops what overflows: let the listener catch up, however slow
                sent = i // 5 + 1
                wait_for(lambda sent=sent: source.datagrams >= sent, "the listener catching up")
        sender.sendto(T5_PART1, address)  # a multi-part message split over two datagrams
        sender.sendto(T5_PART2, address)
        sender.sendto(b"\x00\xff junk \xfe", address)
        wait_for(lambda: worker.health["lines"] == 997 + 3)
    wait_for(lambda: worker.health["unpublished"] == 0)
    health = worker.health
    assert source.datagrams == 200 + 3
    assert health["positions"] == 914 and health["statics"] == 46 + 1
    assert health["dead_letters"] == 3 + 1
    assert health["ignored_by_type"] == {"4": 5, "6": 1, "8": 1, "21": 11, "25": 2}
    published = drain(bus)
    statics = [decode(v) for _, v in published["ioc.vessels.static"]]
    assert any(isinstance(s, VesselStatic) and s.name == "SEA ENTERPRISE" for s in statics)
    assert len(published["ioc.vessels.positions"]) == 914
    junk = [json.loads(v) for _, v in published[DEAD_LETTERS] if b"junk" in v]
    assert junk and junk[0]["reason"] == "invalid UTF-8 (binary data?)" and junk[0]["feed"] == "ais-udp"


# -- worker -------------------------------------------------------------------------------


class FlakyPublisher:
    """Fails the first ``failures`` flushes, then works (records kept in between)."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent: list[tuple[str, str | None, bytes]] = []
        self._batch: list[tuple[str, str | None, bytes]] = []

    def publish(self, topic: str, key: str | None, value: bytes) -> None:
        self._batch.append((topic, key, value))

    def flush(self, timeout: float | None = None) -> None:
        batch, self._batch = self._batch, []
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("broker unavailable")
        self.sent.extend(batch)

    def close(self) -> None:
        pass


def test_worker_keeps_records_when_publishing_fails_and_marks_simulated() -> None:
    now = {"t": 0.0}
    publisher = FlakyPublisher(failures=2)
    source = FileSource(GPSD_LOG, clock=lambda: datetime(2020, 4, 7, 21, 40, tzinfo=UTC))
    worker = VesselWorker(
        source,
        publisher,
        simulated=True,
        monotonic=lambda: now["t"],
        backoff_initial=1.0,
        flush_records=10**6,
    )
    for lines, received in source.read(threading.Event()):
        worker.handle(lines, received)
    assert worker.flush() is False  # first failure: retry in 1 s
    assert worker.feed_health().state == "retrying" and worker.feed_health().pending > 0
    assert worker.flush() is False  # backing off: not tried
    now["t"] = 1.5
    assert worker.flush() is False  # second failure: retry in 2 s
    now["t"] = 4.0
    assert worker.flush() is True
    health = worker.health
    assert health["publish_errors"] == 2 and health["unpublished"] == 0
    kept = ("ioc.vessels.positions", "ioc.vessels.static")
    records = [decode(v) for t, _, v in publisher.sent if t in kept]
    assert len(records) == 162 and all(r.simulated for r in records)  # type: ignore[attr-defined]
    # every position is also copied to each map cell the router names (pair rules' topic)
    cell_copies = sum(len(worker.cells.records(r)) for r in records if isinstance(r, VesselPosition))
    assert cell_copies >= 141
    assert health["published"] == {
        DEAD_LETTERS: 3,
        "ioc.vessels.positions": 141,
        "ioc.vessels.static": 21,
        "ioc.vessels.cells": cell_copies,
    }
    assert health["last_time"] == datetime(2020, 4, 7, 21, 40, tzinfo=UTC)
    typed = worker.feed_health()  # the same counts in the record every feed reports
    assert (typed.worker, typed.published, typed.dead_lettered, typed.pending, typed.errors) == (
        "vessels", 141 + 21 + cell_copies, 3, 0, 2)
    assert typed.last_data_time == health["last_time"] and typed.received == health["lines"]
