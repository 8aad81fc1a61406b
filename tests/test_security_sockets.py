"""Suricata EVE over sockets: a Unix stream or datagram socket (Suricata's ``filetype: unix_stream`` /
``unix_dgram``) and UDP, built from ``[[feeds]]`` as the runtime builds them, with hostile records.

The writers are real sockets doing what Suricata's ``eve-log`` does (``util-logopenfile.c``): connect
to the path, write one JSON record ending in a newline per write, reconnect after the reader went away.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.security import build_worker, feed_options
from ingest.security.sockets import DatagramSource, LineFramer
from ingest.security.worker import SecurityWorker
from ioc.bus.memory import MemoryBus
from ioc.config import FeedSettings
from ioc.events import decode
from ioc.topics import DEAD_LETTERS
from tests.waiting import wait_for


def eve(i: int, **extra: Any) -> bytes:
    doc = {"timestamp": f"2026-12-04T10:00:{i % 60:02d}.000000+0700", "flow_id": 1000 + i, "in_iface": "eth0",
           "event_type": "alert", "src_ip": "203.0.113.66", "src_port": 40000 + i, "dest_ip": "192.0.2.10",
           "dest_port": 22, "proto": "TCP", "host": "hue-ids",
           "alert": {"action": "allowed", "gid": 1, "signature_id": 2001219, "rev": 20,
                     "signature": "ET SCAN Potential SSH Scan", "category": "Attempted Information Leak",
                     "severity": 2}}
    doc.update(extra)
    return json.dumps(doc, separators=(",", ":")).encode()


# (record, a word of the dead letter's reason): what a broken or hostile sender may write
HOSTILE = [
    (eve(1)[:57], "not JSON"),  # truncated
    (eve(2, src_port="ssh"), "src_port"),  # wrong types
    (eve(3, alert={"signature": "x", "severity": "high"}), "severity"),
    (eve(4, timestamp=12), "timestamp"),
    (eve(5, host=["a"]), "host"),
    (eve(6, alert="ET SCAN"), "signature"),
    (b"[1, 2, 3]", "object"),
    (b'{"event_type": "alert", "timestamp": "2026-12-04T10:00:00Z", "src_ip": "\xff\xfe", "alert": '
     b'{"signature": "bad utf-8"}}', None),  # invalid UTF-8 is replaced, the record is kept
    (b'{"event_type": "alert\x00", "timestamp": "2026-12-04T10:00:00Z"}', "NUL"),
    (b"[" * 100_000, "not JSON"),  # deep nesting: no RecursionError escapes
]
HUGE = b'{"event_type":"alert","pad":"' + b"A" * 1_000_000 + b'"}'


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path: a Unix socket's path must fit in 108 bytes."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="eve") as d:
        yield Path(d)


def running(worker: SecurityWorker) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    return stop, thread


def published(bus: MemoryBus) -> tuple[list[Any], list[dict[str, Any]]]:
    got = bus.subscribe(["ioc.security.events", DEAD_LETTERS], "t").poll(1000, 0.1)
    events = [decode(m.value) for m in got if m.topic == "ioc.security.events"]
    return events, [json.loads(m.value) for m in got if m.topic == DEAD_LETTERS]


def check_hostile(worker: SecurityWorker, bus: MemoryBus, good: int, huge_reason: str) -> None:
    events, dead = published(bus)
    kept = sum(1 for _, reason in HOSTILE if reason is None)
    assert len(events) == good + kept
    assert {e.signature_id for e in events if e.signature == "ET SCAN Potential SSH Scan"} == {2001219}
    assert events[0].source_id == "hue-ids" and events[0].severity == 2 and events[0].proto == "tcp"
    reasons = [d["reason"] for d in dead]
    assert len(reasons) == len(HOSTILE) - kept + 1, reasons
    for _, word in HOSTILE:
        if word is not None:
            assert any(word in r for r in reasons), (word, reasons)
    assert any(huge_reason in r for r in reasons), reasons
    assert worker.health["dead_letters"] == len(reasons) and worker.health["last_error"] is None


def test_eve_over_a_unix_stream_socket_with_reconnects_and_hostile_records(short_dir: Path) -> None:
    feed = FeedSettings(name="ids-eve", kind="security-unix-stream",
                        options={"log": "suricata", "path": str(short_dir / "eve.sock")})
    bus = MemoryBus()
    worker = build_worker(feed, bus.publisher(), short_dir)
    stop, thread = running(worker)
    try:
        wait_for((short_dir / "eve.sock").exists, "the socket")
        for session in range(2):  # Suricata reconnects after a write error: a second connection
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(str(short_dir / "eve.sock"))
                stream = b"".join(eve(session * 10 + i) + b"\n" for i in range(5))
                for i in range(0, len(stream), 97):  # a record may arrive in pieces
                    s.sendall(stream[i:i + 97])
                if session == 0:
                    s.sendall(b"".join(record + b"\n" for record, _ in HOSTILE) + HUGE + b"\n")
        wait_for(lambda: worker.lines == 10 + len(HOSTILE) + 1, "every record", timeout=240)
        wait_for(lambda: not worker.out.pending, "published")
    finally:
        stop.set()
        thread.join(timeout=30)
    check_hostile(worker, bus, 10, "too long")
    assert not (short_dir / "eve.sock").exists()  # the socket file goes with the reader


def test_eve_over_a_unix_datagram_socket_and_udp(short_dir: Path) -> None:
    for kind, options in (("security-unix-dgram", {"path": str(short_dir / "eve.dgram")}),
                          ("security-udp", {"host": "127.0.0.1", "port": 0})):
        bus = MemoryBus()
        worker = build_worker(FeedSettings(name="ids", kind=kind, options={"log": "suricata", **options}),
                              bus.publisher(), short_dir)
        assert isinstance(worker.source, DatagramSource)
        stop, thread = running(worker)
        family = socket.AF_UNIX if kind == "security-unix-dgram" else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
                s.connect(worker.source.address)
                for i in range(5):
                    s.send(eve(i) + b"\n")
                s.send(eve(5) + b"\n" + eve(6) + b"\n")  # two records in one datagram
                largest = 200_000 if family == socket.AF_UNIX else 65_507  # what one datagram carries
                for record, _ in HOSTILE:
                    s.send(record[:largest])
                s.send(HUGE[:largest])  # Unix: longer than a record may be; UDP: cut JSON
            wait_for(lambda w=worker: w.lines == 7 + len(HOSTILE) + 1, f"every datagram over {kind}")
            wait_for(lambda w=worker: not w.out.pending, "published")
        finally:
            stop.set()
            thread.join(timeout=30)
        check_hostile(worker, bus, 7, "too long" if family == socket.AF_UNIX else "not JSON")
        assert worker.health["kernel_drops"] == 0


def test_socket_feeds_need_a_path_and_a_framer_cuts_endless_lines() -> None:
    with pytest.raises(ValueError, match="needs options.path"):
        feed_options(FeedSettings(name="x", kind="security-unix-stream", options={"log": "suricata"}))
    framer = LineFramer(max_line=10)
    assert framer.feed(b"abc\n0123456789ABCDEF") == [b"abc", b"0123456789A"]
    assert framer.feed(b"GHIJ\nok\n") == [b"ok"]  # the rest of the long line is skipped, once
    assert framer.feed(b"o") == [] and framer.feed(b"k\n") == [b"ok"]


def test_a_stale_socket_file_is_replaced_but_a_live_one_or_a_plain_file_is_not_taken(short_dir: Path) -> None:
    from ingest.security.sockets import UnixStreamSource

    stale = short_dir / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as gone:
        gone.bind(str(stale))  # a reader that died: its file stays, nobody listens
    live = UnixStreamSource(stale, name="a")  # takes the stale path
    datagrams = DatagramSource(name="c", path=short_dir / "d.sock")
    try:
        with pytest.raises(OSError, match="another reader listens there"):
            UnixStreamSource(stale, name="b")
        with pytest.raises(OSError, match="another reader listens there"):
            DatagramSource(name="d", path=short_dir / "d.sock")
    finally:
        live.close()
        datagrams.close()
    plain = short_dir / "eve.json"
    plain.write_text("{}\n")
    with pytest.raises(OSError, match="not a socket"):
        DatagramSource(name="e", path=plain)
    assert plain.read_text() == "{}\n"
