"""The command line speaks Vietnamese when asked (IOC_LANG or a vi locale) and English otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_configuration_errors_are_said_in_the_command_lines_language(tmp_path: Path) -> None:
    """A file that is not TOML, a missing file, a rules file without [rules] or with a bad value: the
    project's own words in the reader's language (the TOML parser's position stays Python's)."""
    from ioc.app.check_config import check_config
    from ioc.config import ConfigError, load_settings
    from ioc.rules_overlay import rules_from_text

    broken = tmp_path / "broken.toml"
    broken.write_text("city = \n")
    [vi] = check_config(broken, "vi")[1]
    [en] = check_config(broken, "en")[1]
    assert vi.startswith("(tệp): không phải TOML hợp lệ: ") and en.startswith("(file): not valid TOML: ")
    assert check_config(tmp_path / "nowhere.toml", "vi")[1][0].startswith("(tệp): không đọc được: ")
    settings = load_settings()
    with pytest.raises(ConfigError) as missing:
        load_settings(tmp_path / "nowhere.toml")
    assert missing.value.said("vi") == f"không tìm thấy tệp cấu hình: {tmp_path / 'nowhere.toml'}"
    with pytest.raises(ConfigError) as no_rules:
        rules_from_text(settings, "[feeds]\nx = 1\n", "edited")
    assert str(no_rules.value) == "edited: no [rules] table"
    assert no_rules.value.said("vi") == "edited: không có bảng [rules]"
    with pytest.raises(ConfigError) as deep:  # a rules file of `ioc replay --rules` nested 5,000 deep
        rules_from_text(settings, "x = " + "[" * 5000 + "]" * 5000 + "\n", "edited")
    assert str(deep.value) == "edited: not valid TOML: nested too deeply"
    assert deep.value.said("vi") == "edited: không phải TOML hợp lệ: lồng nhau quá sâu"
    with pytest.raises(ConfigError) as negative:
        rules_from_text(settings, "[rules.vessels.ais_gap]\ngap_minutes = -5\n", "edited")
    said = negative.value.said("vi")
    assert said.startswith("edited: rules.vessels.ais_gap.gap_minutes: "), said
    assert "Input should be" not in said
    assert "Input should be" in str(negative.value)
    printed = _ioc("vi", "check-config", str(broken))
    assert printed.returncode == 1 and "(tệp): không phải TOML hợp lệ: " in printed.stdout, printed.stdout
