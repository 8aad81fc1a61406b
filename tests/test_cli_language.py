"""The command line speaks Vietnamese when asked (IOC_LANG or a vi locale) and English otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _help(lang: str) -> str:
    env = {**os.environ, "IOC_LANG": lang, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "ioc.app.cli", "--help"], env=env, capture_output=True,
                         text=True, timeout=120, check=True)
    return out.stdout


def test_cli_help_in_both_languages() -> None:
    assert "Trung tâm Giám sát, Điều hành Đô thị thông minh" in _help("vi")
    english = _help("en")
    assert "Smart-city Intelligent Operations Centre" in english and "Trung tâm" not in english


def _ioc(lang: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    env.update({"IOC_LANG": lang, "PYTHONPATH": str(ROOT)})
    return subprocess.run([sys.executable, "-m", "ioc.app.cli", *args], env=env, capture_output=True,
                          text=True, timeout=120, cwd=ROOT, stdin=subprocess.DEVNULL)


def test_cli_errors_and_reports_in_both_languages(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("city = \n")
    vi, en = _ioc("vi", "check-config", str(broken)), _ioc("en", "check-config", str(broken))
    assert vi.returncode == en.returncode == 1
    assert f"{broken}: 1 lỗi" in vi.stdout and f"{broken}: 1 error" in en.stdout
    vi, en = _ioc("vi", "users", "list"), _ioc("en", "users", "list")  # no store named
    assert vi.returncode == en.returncode == 2
    assert "ioc users: hãy đặt IOC_DATABASE__DSN" in vi.stderr
    assert "ioc users: set IOC_DATABASE__DSN" in en.stderr
    vi = _ioc("vi", "run", "sink")  # the in-process bus cannot serve a role of its own
    assert vi.returncode == 2 and "bus trong tiến trình không nối được" in vi.stderr
    assert "thời điểm ISO kèm múi giờ" in _ioc("vi", "replay", "--help").stdout


def test_ioc_users_speaks_the_command_lines_language(plain_store) -> None:  # noqa: ANN001
    """``ioc users`` answers, lists and refuses in its language, last logins in the city's zone."""
    import contextlib
    import io
    from datetime import UTC, datetime

    from alerts.people import People, users_command

    People(plain_store.pool).add_user("lan", "duty_officer", "a-long-enough-password")
    with plain_store.pool.connection() as conn:  # a login at 01:30 UTC: 08:30 in Huế
        conn.execute("UPDATE users SET last_login_at = %s WHERE name = 'lan'",
                     (datetime(2026, 12, 5, 1, 30, tzinfo=UTC),))
    out = io.StringIO()
    assert users_command(plain_store.pool, "list", stdout=out, lang="vi", tz="Asia/Ho_Chi_Minh") == 0
    listing = out.getvalue()
    assert listing.startswith("tên") and "cán bộ trực ban" in listing and "08:30" in listing, listing
    out = io.StringIO()
    assert users_command(plain_store.pool, "add", "hoa", "operator", stdin=io.StringIO("a-long-enough-pw\n"),
                         stdout=out, lang="vi") == 0
    assert out.getvalue() == "đã thêm hoa (điều hành viên)\n"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert users_command(plain_store.pool, "add", "hoa", "operator",
                             stdin=io.StringIO("a-long-enough-pw\n"), stdout=io.StringIO(), lang="vi") == 2
    assert err.getvalue() == "ioc users: đã có người dùng tên hoa\n"
