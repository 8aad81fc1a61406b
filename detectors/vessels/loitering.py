"""Loitering: a vessel averaging under 2 knots for 2 hours or more, away from port.

After Global Fishing Watch's loitering events (a vessel's average speed stays under
``max_speed_kn`` for at least ``min_duration_minutes``, away from port; GFW uses it for
carriers meeting fishing boats at sea). Folding each vessel's positions in event-time order:

* a position within ``min_port_distance_m`` of a port zone (``port_kinds``), or more than
  ``max_gap_minutes`` after the vessel's previous position, starts the vessel's window afresh;
* the speed of each position is its reported speed over ground, or the speed implied by the
  previous position where none is reported; their time integral (trapezoids) is kept, with
  an anchor sample every ``sample_seconds`` (memory: one per vessel per sample);
* the window runs from the newest anchor at least ``min_duration_minutes`` old to the newest
  position (so it spans ``min_duration_minutes`` to that plus ``sample_seconds``); its mean
  speed is the integral over it divided by its span;
* when the window spans ``min_duration_minutes`` and its mean speed is below
  ``max_speed_kn``, the rule fires (``time`` = the deciding position, ``started_at`` = the
  window's start; details: mean speed, centre of the window's anchors, distance to the
  nearest port);
* while firing, the first position at which the window's mean speed is back to
  ``max_speed_kn`` or more resolves it, as does a position near port, one after a data gap,
  or forgetting a silent vessel (``details.reason``: ``moving``, ``port``, ``data_gap``,
  ``tracking stopped``).

Fingerprint: ``loitering:{mmsi}``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from detectors.vessels.common import (
    MINUTE_US,
    US,
    Fix,
    VesselRule,
    fix_from_list,
    minutes,
    speed_knots,
)
from detectors.vessels.zones import ZoneIndex, distance_m
from ioc.events import AlertSignal
from ioc.feeds.vessels.settings import LoiteringConfig  # noqa: F401  (re-exported)

# alert titles: messages of the ``alerts`` catalogue, rendered in the reader's language
LOITERING_TITLE = "Vessel {mmsi} loitering: mean speed {speed} kn for {hours} h away from port"
LOITERING_OVER_TITLE = "Vessel {mmsi} no longer loitering ({reason})"
LOITERING_OVER_TITLES = {  # by why it ended: the reason is a word to translate, not a field
    reason: LOITERING_OVER_TITLE.replace("{reason}", reason.replace("_", " "))
    for reason in ("moving", "port", "data_gap", "tracking stopped")
}





_Sample = tuple[int, float, float, float]  # (time us, speed integral kn*s since window start, lat, lon)


@dataclass(slots=True)
class _Window:
    """A vessel's speed integral and its anchor samples over the last ``min_duration``."""

    samples: deque[_Sample] = field(default_factory=deque)
    last: Fix | None = None
    last_speed: float = 0.0
    integral: float = 0.0  # knots x seconds since the window started
    firing: bool = False
    started: int | None = None  # while firing: time the episode started


class LoiteringDetector(VesselRule):
    """Fires when a vessel's mean speed stays under ``max_speed_kn`` for long, away from port."""

    name = "loitering"

    def __init__(self, zones: ZoneIndex, config: Mapping[str, Any] | LoiteringConfig | None = None) -> None:
        cfg = config if isinstance(config, LoiteringConfig) else LoiteringConfig.model_validate(config or {})
        super().__init__(cfg)
        self.cfg = cfg
        self._near_port = zones.buffered(cfg.port_kinds, cfg.min_port_distance_m)
        self._ports = zones.of_kind(*cfg.port_kinds)
        self._span = round(cfg.min_duration_minutes * MINUTE_US)
        self._max_gap = round(cfg.max_gap_minutes * MINUTE_US)
        self._sample = round(cfg.sample_seconds * US)
        self._windows: dict[int, _Window] = {}

    def near_port(self, lon: float, lat: float) -> bool:
        """Within ``min_port_distance_m`` of a port zone."""
        return bool(self._near_port.zones) and self._near_port.contains(lon, lat)

    def _fold(self, fix: Fix, out: list[AlertSignal]) -> None:
        window = self._windows.get(fix.mmsi)
        if self.near_port(fix.lon, fix.lat):
            if window is not None:
                if window.firing:
                    out.append(self._resolved(window, fix, "port"))
                del self._windows[fix.mmsi]
            return
        if window is None:
            window = self._windows[fix.mmsi] = _Window()
        last = window.last
        if last is not None and fix.t - last.t > self._max_gap:
            if window.firing:
                out.append(self._resolved(window, fix, "data_gap"))
            window = self._windows[fix.mmsi] = _Window()
            last = None
        if last is None:
            speed = max(fix.sog, 0.0)
        else:
            dt = fix.t - last.t
            if fix.sog >= 0:
                speed = fix.sog
            else:
                speed = speed_knots(distance_m(last.lon, last.lat, fix.lon, fix.lat), dt)
            window.integral += 0.5 * (window.last_speed + speed) * (dt / US)
        window.last, window.last_speed = fix, speed
        samples = window.samples
        if not samples or fix.t - samples[-1][0] >= self._sample:
            samples.append((fix.t, window.integral, fix.lat, fix.lon))
        horizon = fix.t - self._span
        while len(samples) >= 2 and samples[1][0] <= horizon:
            samples.popleft()
        span = fix.t - samples[0][0]
        if span < self._span or span <= 0:
            return
        mean = (window.integral - samples[0][1]) / (span / US)
        if not window.firing and mean < self.cfg.max_speed_kn:
            window.firing = True
            window.started = samples[0][0]
            out.append(self._firing(window, fix, mean))
        elif window.firing and mean >= self.cfg.max_speed_kn:
            out.append(self._resolved(window, fix, "moving", mean))
            window.firing = False
            window.started = None

    def _forget(self, mmsi: int, at: int, out: list[AlertSignal]) -> None:
        window = self._windows.pop(mmsi, None)
        if window is not None and window.firing and window.last is not None:
            out.append(self._resolved(window, window.last, "tracking stopped", at=at))

    @staticmethod
    def _centre(window: _Window) -> tuple[float, float]:
        n = len(window.samples)
        return (
            round(sum(s[3] for s in window.samples) / n, 6),
            round(sum(s[2] for s in window.samples) / n, 6),
        )

    def _port_km(self, lon: float, lat: float) -> float | None:
        best: float | None = None
        for port in self._ports:
            c = port.geometry.centroid
            d = distance_m(lon, lat, c.x, c.y) / 1000
            best = d if best is None or d < best else best
        return None if best is None else round(best, 2)

    def _firing(self, window: _Window, fix: Fix, mean: float) -> AlertSignal:
        lon, lat = self._centre(window)
        started = window.started
        assert started is not None
        return self.signal(
            fingerprint=f"loitering:{fix.mmsi}",
            status="firing",
            t=fix.t,
            mmsi=fix.mmsi,
            title_template=LOITERING_TITLE,
            title_params={"mmsi": fix.mmsi, "speed": round(mean, 1),
                          "hours": round(minutes(fix.t - started) / 60, 1)},
            started_at=started,
            details={
                "mean_speed_kn": round(mean, 3),
                "duration_minutes": minutes(fix.t - started),
                "centre": {"lat": lat, "lon": lon},
                "nearest_port_km": self._port_km(lon, lat),
                "position": fix.point(),
                "max_speed_kn": self.cfg.max_speed_kn,
                "min_duration_minutes": self.cfg.min_duration_minutes,
            },
        )

    def _resolved(
        self, window: _Window, fix: Fix, reason: str, mean: float | None = None, at: int | None = None
    ) -> AlertSignal:
        started = window.started
        assert started is not None
        t = fix.t if at is None else at
        details: dict[str, Any] = {
            "reason": reason,
            "duration_minutes": minutes(t - started),
            "position": fix.point(),
        }
        if mean is not None:
            details["mean_speed_kn"] = round(mean, 3)
        return self.signal(
            fingerprint=f"loitering:{fix.mmsi}",
            status="resolved",
            t=t,
            mmsi=fix.mmsi,
            title_template=LOITERING_OVER_TITLES.get(reason, LOITERING_OVER_TITLE),
            title_params={"mmsi": fix.mmsi, "reason": reason.replace("_", " ")},
            started_at=started,
            details=details,
        )

    def _body(self) -> dict[str, Any]:
        return {
            str(mmsi): {
                "samples": [list(s) for s in w.samples],
                "last": None if w.last is None else list(w.last),
                "last_speed": w.last_speed,
                "integral": w.integral,
                "firing": w.firing,
                "started": w.started,
            }
            for mmsi, w in sorted(self._windows.items())
        }

    def _load(self, body: dict[str, Any]) -> None:
        self._windows = {}
        for mmsi, raw in body.items():
            self._windows[int(mmsi)] = _Window(
                samples=deque((int(t), float(i), float(la), float(lo)) for t, i, la, lo in raw["samples"]),
                last=None if raw["last"] is None else fix_from_list(raw["last"]),
                last_speed=float(raw["last_speed"]),
                integral=float(raw["integral"]),
                firing=bool(raw["firing"]),
                started=raw["started"],
            )
