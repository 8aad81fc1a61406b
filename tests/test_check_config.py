"""``ioc check-config``: every error of a configuration with its TOML path; the Huế sample is valid."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ioc.app.check_config import check_config, toml_path
from ioc.config import DEFAULT_CONFIG

ROOT = Path(__file__).resolve().parents[1]


def run_check(path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    return subprocess.run([sys.executable, "-m", "ioc.app.cli", "check-config", str(path)], cwd=ROOT,
                          env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)


def test_the_hue_sample_configuration_is_valid() -> None:
    settings, errors = check_config(DEFAULT_CONFIG)
    assert errors == [] and settings is not None and settings.city == "Huế"
    done = run_check(DEFAULT_CONFIG)
    assert done.returncode == 0 and "valid" in done.stdout


def test_each_error_is_reported_with_its_toml_path(tmp_path: Path) -> None:
    bad_zone = tmp_path / "zones.geojson"
    bad_zone.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"id": "bowtie", "kind": "no_fishing"},
        "geometry": {"type": "Polygon",
                     "coordinates": [[[107, 16], [108, 17], [108, 16], [107, 17], [107, 16]]]},
    }]}))
    config = tmp_path / "city.toml"
    config.write_text(DEFAULT_CONFIG.read_text(encoding="utf-8").replace(
        'zones = ["vessels/hue-zones.geojson"]', f'zones = ["{bad_zone}"]') + """
[rules.pres]               # a mistyped section: no feed declares it
outlets = ["tuoitre"]
""")
    text = config.read_text(encoding="utf-8").replace("\nfor_minutes =", "\nfor_minuts =", 1)
    config.write_text(text.replace('title = { vi = "CO₂ trên 1000 ppm", en =', 'title = { vn = "CO₂", en ='))
    settings, errors = check_config(config)
    assert settings is None  # the file itself does not validate: those errors first
    assert any(e.startswith("rules.thresholds[0].title") and "vn" in e for e in errors), errors  # a language
    assert "rules.pres: Extra inputs are not permitted" in errors
    assert any(e.startswith("rules.thresholds[0].for_minuts: Extra inputs are not permitted") for e in errors)
    # with the file's own errors fixed, the zone file is judged as the rules read it
    config.write_text(text.replace("\nfor_minuts =", "\nfor_minutes =").split("[rules.pres]")[0])
    settings, errors = check_config(config)
    assert settings is not None
    assert any(e.startswith("rules.vessels.zones[0]: ") and "bowtie" in e for e in errors), errors
    done = run_check(config)
    assert done.returncode == 1 and "rules.vessels.zones[0]" in done.stdout and "Traceback" not in done.stderr


def test_toml_paths() -> None:
    assert toml_path(("rules", "thresholds", 0, "metrc")) == "rules.thresholds[0].metrc"
    assert toml_path(("feeds", 2, "options", "port")) == "feeds[2].options.port"
    assert toml_path(()) == "(file)"


def test_vessel_and_camera_rule_options_are_checked_at_load_time(tmp_path: Path) -> None:
    """The vessel and camera rule sections are typed models: a misspelled option is named by its path."""
    config = tmp_path / "city.toml"
    config.write_text(DEFAULT_CONFIG.read_text(encoding="utf-8")
                      .replace("[rules.vessels.ais_gap]\n", "[rules.vessels.ais_gap]\ngap_minute = 5\n", 1)
                      .replace("[[rules.camera_faults]]\n", "[[rules.camera_faults]]\ndark_belw = 3\n", 1))
    settings, errors = check_config(config)
    assert settings is None
    assert "rules.vessels.ais_gap.gap_minute: Extra inputs are not permitted" in errors
    assert "rules.camera_faults[0].dark_belw: Extra inputs are not permitted" in errors


def test_the_reasons_in_vietnamese(tmp_path: Path) -> None:
    """check-config says its reasons in the command line's language: its own and pydantic's commonest,
    the TOML path as it is."""
    text = DEFAULT_CONFIG.read_text(encoding="utf-8").replace("\nfor_minutes =", "\nfor_minuts =", 1)
    text = text.replace("\nrefresh_ms = 2000", "\nrefresh_ms = 2000\nstale_after_s = -1", 1)
    config = tmp_path / "city.toml"
    config.write_text(text + "\n[bogus]\nx = 1\n")
    assert "bogus: không phải một mục của cấu hình" in check_config(config, "vi")[1]
    assert "bogus: not a section of the settings" in check_config(config, "en")[1]
    config.write_text(text)
    _, errors = check_config(config, "vi")
    assert "rules.thresholds[0].for_minuts: Không được phép có khóa này" in errors, errors
    assert "web.stale_after_s: Giá trị phải lớn hơn 0" in errors, errors
    _, english = check_config(config, "en")
    assert "web.stale_after_s: Input should be greater than 0" in english, english


def test_a_screen_profiles_errors_on_the_admin_page_in_the_readers_language() -> None:
    """The /screens/ admin page names a profile's faults with the same catalogue reasons."""
    import pytest
    from pydantic import ValidationError

    from dashboards.screens.routes import _validation_lines
    from ioc.screens import ScreenProfile

    with pytest.raises(ValidationError) as refused:
        ScreenProfile.model_validate({"name": "wall-1", "items": [{"page": "/", "dwell_s": 1.5}],
                                      "colour": 1})
    vi, en = _validation_lines(refused.value, "vi"), _validation_lines(refused.value, "en")
    assert "items.0.dwell_s: Giá trị phải lớn hơn hoặc bằng 2" in vi, vi
    assert "colour: Không được phép có khóa này" in vi, vi
    assert "items.0.dwell_s: Input should be greater than or equal to 2" in en, en


def test_a_misspelt_time_zone_is_an_error_with_its_path(tmp_path: Path) -> None:
    """Zones are IANA names, checked when the settings are read: the city's, and a feed's own for
    times written without an offset (before: a crash when the worker or page first used it)."""
    config = tmp_path / "city.toml"
    config.write_text(DEFAULT_CONFIG.read_text(encoding="utf-8")
                      .replace('timezone = "Asia/Ho_Chi_Minh"', 'timezone = "Asia/Hue"', 1))
    settings, errors = check_config(config)
    assert settings is None
    assert any(e.startswith("timezone: ") and "unknown time zone 'Asia/Hue'" in e for e in errors), errors

    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    services = text.index('kind = "services-csv"')
    options = text.index("[feeds.options]\n", services) + len("[feeds.options]\n")
    config.write_text(text[:options] + 'timezone = "Indochina"\n' + text[options:])
    settings, errors = check_config(config)
    assert settings is not None
    assert any(e.startswith("feeds[") and "unknown time zone 'Indochina'" in e for e in errors), errors
    done = run_check(config)
    assert done.returncode == 1 and "Indochina" in done.stdout and "Traceback" not in done.stderr


def test_hostile_files_are_errors_with_their_path_never_a_traceback_or_a_hang(tmp_path: Path) -> None:
    """TOML nested 500 deep, a zone file that is deeply nested JSON, a device that never ends and a FIFO
    no one writes: each is an error naming where it is, at once."""
    from ioc.config import ConfigError, load_settings

    deep = tmp_path / "deep.toml"
    deep.write_text("[alerts]\nx = " + "[" * 500 + "]" * 500 + "\n", encoding="utf-8")
    settings, errors = check_config(deep)
    assert settings is None and errors == ["(file): not valid TOML: nested too deeply"]
    try:
        load_settings(deep)
    except ConfigError as exc:
        assert "nested too deeply" in str(exc)
    else:
        raise AssertionError("a TOML file nested 500 deep loaded")
    nested = tmp_path / "nested.geojson"
    nested.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    fifo = tmp_path / "zones.fifo"
    os.mkfifo(fifo)
    for zone_file, said in ((nested, "nested too deeply"), (Path("/dev/zero"), "not a regular file"),
                            (fifo, "not a regular file")):
        config = tmp_path / "city.toml"
        config.write_text(DEFAULT_CONFIG.read_text(encoding="utf-8").replace(
            'zones = ["vessels/hue-zones.geojson"]', f'zones = ["{zone_file}"]'))
        settings, errors = check_config(config)
        assert settings is not None
        found = [e for e in errors if e.startswith("rules.vessels.zones[0]: ")]
        assert found and said in found[0], (zone_file, errors)


def test_a_trusted_proxy_that_is_no_address_is_an_error_with_its_path(tmp_path: Path) -> None:
    config = tmp_path / "city.toml"
    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    assert "[web]" in text
    proxies = '[web]\ntrusted_proxies = ["10.0.0.5", "10.1.0.0/16", "not-an-ip"]'
    config.write_text(text.replace("[web]", proxies, 1), encoding="utf-8")
    settings, errors = check_config(config)
    assert settings is None
    assert any(e.startswith("web.trusted_proxies") and "'not-an-ip' is not" in e for e in errors), errors
