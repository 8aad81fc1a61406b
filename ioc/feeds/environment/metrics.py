"""The environment feed's metrics as people name them: ``pm25`` is "PM2.5", ``water_flow`` "Water
flow" ("Lưu lượng" in Vietnamese). One vocabulary for the pages' panels and the rules' alert titles.

The names are English message ids of the ``environment`` catalogue (:data:`METRIC_DOMAIN`); a
formula (PM2.5, CO₂) reads the same in every language. A metric not listed keeps its id's words.
"""

from __future__ import annotations

from ioc.i18n import gettext

METRIC_DOMAIN = "environment"

METRIC_NAMES: dict[str, str] = {
    "pm25": "PM2.5", "pm2_5": "PM2.5", "pm10": "PM10", "pm1": "PM1", "no2": "NO₂", "so2": "SO₂",
    "o3": "O₃", "co": "CO", "co2": "CO₂", "aqi": "AQI", "temperature": "Temperature", "temp": "Temp",
    "humidity": "Humidity", "rh": "Humidity", "pressure": "Pressure", "rain": "Rain",
    "rainfall": "Rainfall", "water_level": "Water level", "wind_speed": "Wind",
    "relative_humidity": "Humidity", "illuminance": "Light", "water_flow": "Water flow",
}


def metric_name(metric: str, lang: str = "en") -> str:
    """``metric`` as people name it, in ``lang`` (``relative_humidity`` -> ``Độ ẩm`` in Vietnamese)."""
    known = METRIC_NAMES.get(metric)
    return gettext(METRIC_DOMAIN, known, lang) if known else metric.replace("_", " ").capitalize()
