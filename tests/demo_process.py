"""The real ``ioc demo`` as a subprocess for end-to-end tests: started, read, stopped by its PID."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ioc.config import DEFAULT_CONFIG

ROOT = Path(__file__).resolve().parents[1]


def sample_config(folder: Path, *, cameras: bool = True, text: str | None = None) -> Path:
    """The Huế sample configuration (or ``text``, an edited copy of it) written into ``folder``; with
    ``cameras=False`` its cameras are off: a test of another page does not pay for their video
    analysis (on CI's two busy cores the sea map's test took a third longer with them)."""
    text = DEFAULT_CONFIG.read_text(encoding="utf-8") if text is None else text
    if not cameras:
        text, n = re.subn(r"(?m)^\[\[cameras\]\]$", "[[cameras]]\nenabled = false", text)
        assert n, "the sample configuration has no [[cameras]] to turn off"
    path = folder / "hue-test.toml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class RunningDemo:
    """A demo process, its wall address, its embedded data folder and everything it printed."""

    proc: subprocess.Popen[str]
    url: str = ""
    data_dir: Path | None = None
    lines: list[str] = field(default_factory=list)
    returncode: int | None = None

    @property
    def output(self) -> str:
        return "".join(self.lines)


@contextmanager
def running_demo(*args: str, start_timeout: float = 120, root: Path = ROOT) -> Iterator[RunningDemo]:
    """``ioc [args] demo --port 0`` of the checkout at ``root``; yields once the wall's address is
    printed; SIGTERM on exit.

    The demo's output is read to the end on a thread, so its pipe never fills up and blocks it.
    """
    proc = subprocess.Popen([sys.executable, "-m", "ioc.app.cli", *args, "demo", "--port", "0"], cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    demo = RunningDemo(proc)
    ready = threading.Event()

    def drain() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            demo.lines.append(line)
            if m := re.search(r"\(data in (\S+)/pgdata\)", line):
                demo.data_dir = Path(m.group(1))
            if m := re.search(r"Wall: (http://127\.0\.0\.1:\d+/)", line):
                demo.url = m.group(1)
                ready.set()
        ready.set()

    reader = threading.Thread(target=drain, name="demo-output", daemon=True)
    reader.start()
    try:
        ready.wait(timeout=start_timeout)
        assert demo.url, demo.output
        yield demo
    finally:
        seen = len(demo.lines)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # where it is stuck (``ioc`` answers SIGUSR1 with its stacks)
            proc.send_signal(signal.SIGUSR1)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            print("--- ioc demo did not stop in 30 s; what it said since, and its threads:\n"
                  + "".join(demo.lines[seen:]))
            proc.kill()  # not os.kill: the demo may have ended meanwhile, and its PID been reaped
            proc.wait()
        reader.join(timeout=5)
        demo.returncode = proc.returncode
