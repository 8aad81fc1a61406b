"""Security feed: the syslog listener at 20,000 messages/s over UDP, with every loss counted.

A sender process paces RFC 5424 sshd messages (SIMULATED, documentation addresses) at ``--rate``
for ``--seconds`` to 127.0.0.1. Two receivers, one after the other, in the same run:

* baseline: a bare ``recvmsg`` loop on a socket set up like the listener's (the same receive buffer), nothing
  done with what arrives;
* the listener: :class:`~ingest.security.sources.UdpSyslogSource` read by the
  :class:`~ingest.security.worker.SecurityWorker` (parse, validate, publish on the in-process bus),
  as ``ioc run ingest`` runs it.

Counted for each: sent, received (read by us), the kernel's drops for a full receive buffer (the
``SO_RXQ_OVFL`` count that comes with every datagram, so it lags by the drops after the last one
read, and the socket's ``drops`` in ``/proc/net/udp``, exact), and the shortfall ``sent -
received``; for the listener also its events and dead letters, and the CPU seconds it used.

    .venv/bin/python -m bench.security_udp [--rate 20000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import socket
import struct
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bench.common import machine
from ingest.security.sockets import SO_RCVBUFFORCE, SO_RXQ_OVFL
from ingest.security.sources import UdpSyslogSource
from ingest.security.worker import SecurityWorker
from ioc.bus.memory import MemoryBus

T0 = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)


def messages(n: int = 2000) -> list[bytes]:
    out = []
    for i in range(n):
        at = T0 + timedelta(milliseconds=50 * i)
        stamp = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        what = ("Failed password for root" if i % 3 else "Accepted publickey for hue")
        out.append(f"<38>1 {stamp} hue-gw sshd {4000 + i % 500} - - {what} from 203.0.113.{i % 250 + 1} "
                   f"port {40000 + i % 20000} ssh2".encode())
    return out


def send(port: int, rate: int, seconds: float, result: mp.Queue) -> None:  # type: ignore[type-arg]
    """Send ``rate * seconds`` datagrams, paced: at any moment no more than are due by then."""
    batch = messages()
    total = int(rate * seconds)
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("127.0.0.1", port))
        start = time.monotonic()
        while sent < total:
            due = min(total, int((time.monotonic() - start) * rate) + 1)
            if sent >= due:
                time.sleep(0.0005)
                continue
            while sent < due:
                try:
                    s.send(batch[sent % len(batch)])
                except OSError:  # ENOBUFS: the sender's own queue full; the message counts as sent
                    pass
                sent += 1
        result.put((sent, time.monotonic() - start))


def proc_drops(port: int) -> int:
    """The ``drops`` column of ``/proc/net/udp`` for the socket bound to ``port`` (0 if not found)."""
    with open("/proc/net/udp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port:
                return int(fields[-1])
    return 0


def run(port: int, rate: int, seconds: float, received: Callable[[], int]) -> tuple[int, float]:
    """Run a sender against ``port``; return (sent, its seconds) once ``received`` stops growing."""
    result: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    sender = mp.Process(target=send, args=(port, rate, seconds, result))
    sender.start()
    sent, took = result.get()
    sender.join()
    last, still = -1, 0
    while still < 5:  # drained: nothing new for 5 looks, 0.2 s apart (a bench, not a test)
        now = received()
        still = still + 1 if now == last else 0
        last = now
        time.sleep(0.2)
    return sent, took


class BareReceiver:
    """The baseline: receive and count, nothing else."""

    def __init__(self, receive_buffer: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, receive_buffer)
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.25)
        self.port = self.sock.getsockname()[1]
        self.count = self.kernel_drops = 0
        self.stop = threading.Event()

    def loop(self) -> None:
        while not self.stop.is_set():
            try:
                _, anc, _, _ = self.sock.recvmsg(65537, socket.CMSG_SPACE(4))
            except TimeoutError:
                continue
            self.count += 1
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL:
                    self.kernel_drops = struct.unpack("=I", value[:4])[0]


def report(name: str, sent: int, took: float, received: int, kernel: int, proc: int, extra: str = "") -> None:
    print(f"  {name:9s} sent {sent:,} in {took:.2f} s ({sent / took:,.0f}/s); received {received:,} "
          f"({received / sent:.2%}); kernel drops SO_RXQ_OVFL {kernel:,}, /proc/net/udp {proc:,}; "
          f"shortfall {sent - received:,}{extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--buffer", type=int, default=16 << 20, help="receive buffer asked for, bytes")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"UDP syslog at {args.rate:,} messages/s for {args.seconds:g} s (RFC 5424 sshd lines, SIMULATED):")

    bare = BareReceiver(args.buffer)
    thread = threading.Thread(target=bare.loop, daemon=True)
    thread.start()
    sent, took = run(bare.port, args.rate, args.seconds, lambda: bare.count)
    report("baseline", sent, took, bare.count, bare.kernel_drops, proc_drops(bare.port))
    bare.stop.set()
    thread.join()
    bare.sock.close()

    bus = MemoryBus()
    source = UdpSyslogSource("127.0.0.1", 0, name="bench-syslog", receive_buffer=args.buffer)
    print(f"  receive buffer granted {source.receive_buffer:,} bytes (asked {args.buffer:,})")
    port = source.address[1]
    worker = SecurityWorker(source, bus.publisher(), log_kind="syslog", host="gw", tz=UTC)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    started = time.process_time()
    sent, took = run(port, args.rate, args.seconds, lambda: worker.lines)
    cpu = time.process_time() - started
    drops = proc_drops(port)
    stop.set()
    thread.join(timeout=30)
    h = worker.health
    report("listener", sent, took, worker.lines, h["kernel_drops"] or 0, drops,
           f"; events {h['events']:,}, dead letters {h['dead_letters']:,}, published "
           f"{sum(h['published'].values()):,}; this process's CPU {cpu:.1f} s "
           f"({worker.lines / cpu:,.0f} messages per CPU second)")


if __name__ == "__main__":
    main()
