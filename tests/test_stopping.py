"""A long-running ``ioc`` process stops on SIGTERM/SIGINT and shows its threads' stacks on SIGUSR1."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: the main loop of ``ioc demo`` and ``ioc run`` in small, with a busy second thread
PROGRAM = """
import threading
from ioc.app.stopping import StopRequest
stopping = StopRequest().install()
threading.Thread(target=lambda: [sum(range(1000)) for _ in iter(int, 1)], name="busy", daemon=True).start()
print("ready", flush=True)
while not stopping.wait(0.5):
    pass
print("stopped by", stopping.signum, flush=True)
"""


def started() -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", PROGRAM], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    return proc


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_ends_the_main_loop(signum: int) -> None:
    proc = started()
    for _ in range(50):  # many signals in a row: each one is noticed, none deadlocks the main thread
        proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out == f"stopped by {int(signum)}\n"


def test_sigusr1_prints_every_threads_stack_and_the_process_goes_on() -> None:
    proc = started()
    try:
        proc.send_signal(signal.SIGUSR1)
        assert proc.stderr is not None
        lines = []
        while not ("<lambda>" in "".join(lines) and "<module>" in "".join(lines)):  # "busy" and main
            line = proc.stderr.readline()
            assert line, "".join(lines)
            lines.append(line)
        dump = "".join(lines)
        assert dump.count("(most recent call first)") == 2, dump
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert proc.returncode == 0
