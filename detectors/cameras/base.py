"""What the camera rules share: the rule base model, zones, and a frame-fold detector skeleton.

Zones are polygons in normalised image coordinates (0..1, origin top left), named per camera
in the camera's settings (``[[cameras.zones]]``; its ``[[cameras.lanes]]`` are zones too).
A detection is in a zone when the bottom centre of its box (where a person stands, where a
vehicle touches the road), divided by the frame size, is inside the polygon; a detection
without a frame size falls back to the zone name the worker put on it.

:class:`FrameRuleDetector` implements the :class:`detectors.base.Detector` protocol for rules
that are a condition on frames held for a while (see :mod:`detectors.cameras.frames`);
a rule module supplies what an event adds to a frame and what a frame means.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from detectors.base import check_rule_names, check_version, dump_time, load_time
from detectors.cameras.frames import Change, FrameRun, FrameSample, RunTiming
from ioc.camera_settings import point_in_polygon
from ioc.events import AlertSignal, Event
from ioc.feeds.cameras.records import CameraDetection
from ioc.feeds.cameras.rules import CameraRule  # noqa: F401  (re-exported)
from ioc.i18n import render

Polygon = Sequence[tuple[float, float]]
CameraZones = Mapping[str, Mapping[str, Polygon]]  # camera id -> zone name -> polygon
SNAPSHOT_VERSION = 1





def foot_point(event: CameraDetection) -> tuple[float, float] | None:
    """Bottom centre of the box in normalised coordinates, or ``None`` without a frame size."""
    if not event.frame_width or not event.frame_height:
        return None
    return ((event.box.x1 + event.box.x2) / 2 / event.frame_width, event.box.y2 / event.frame_height)


def in_zone(event: CameraDetection, zone: str | None, polygon: Polygon | None) -> bool:
    """Whether a detection is in ``zone`` (``None``: the whole frame)."""
    if zone is None:
        return True
    foot = foot_point(event)
    if polygon is None or foot is None:
        return event.zone == zone
    return point_in_polygon(foot[0], foot[1], polygon)


def _field(obj: Any, name: str, default: Any = None) -> Any:
    return obj.get(name, default) if isinstance(obj, Mapping) else getattr(obj, name, default)


def cameras_from_settings(settings: Any) -> tuple[dict[str, dict[str, Polygon]], dict[str, str]]:
    """``(zones, names)`` from ``settings.cameras`` (models or raw tables), when present."""
    zones: dict[str, dict[str, Polygon]] = {}
    names: dict[str, str] = {}
    for cam in getattr(settings, "cameras", None) or []:
        cid = str(_field(cam, "id"))
        names[cid] = str(_field(cam, "name") or _field(cam, "area") or cid)
        areas = [*(_field(cam, "zones", []) or []), *(_field(cam, "lanes", []) or [])]  # lanes are zones
        zones[cid] = {
            str(_field(z, "name")): [(float(x), float(y)) for x, y in _field(z, "polygon", [])]
            for z in areas
        }
    return zones, names


def lane_names(settings: Any) -> dict[str, set[str]]:
    """Camera id -> the names of its lanes (``[[cameras.lanes]]``)."""
    return {str(_field(cam, "id")): {str(_field(lane, "name")) for lane in _field(cam, "lanes", []) or []}
            for cam in getattr(settings, "cameras", None) or []}


def one_way_lanes(settings: Any) -> dict[str, dict[str, tuple[float, float]]]:
    """Camera id -> lane name -> the lane's ``one_way`` direction, for lanes that have one."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for cam in getattr(settings, "cameras", None) or []:
        for lane in _field(cam, "lanes", []) or []:
            way = _field(lane, "one_way")
            if way is not None:
                out.setdefault(str(_field(cam, "id")), {})[str(_field(lane, "name"))] = (
                    float(way[0]), float(way[1]))
    return out


def rules_from_settings(settings: Any, key: str, model: type[CameraRule]) -> list[Any]:
    """``settings.rules.<key>`` validated as ``model`` (empty until the settings have the key)."""
    raw = getattr(getattr(settings, "rules", None), key, None) or []
    return [r if isinstance(r, model) else model.model_validate(r) for r in raw]


#: an alert title as an ``alerts`` catalogue message and its fields, rendered in the reader's language
Title = tuple[str, dict[str, Any]]


def message_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields a stored title can carry: texts and numbers (JSON, and ``str.format`` alike)."""
    return {k: v for k, v in fields.items() if isinstance(v, str | int | float) and not isinstance(v, bool)}


def titled(template: str, params: dict[str, Any], configured: str = "", fields: dict[str, Any] | None = None
           ) -> tuple[str, str, dict[str, Any]]:
    """``(English title, template, fields)`` of a signal: a rule's own ``configured`` title (filled
    with ``fields``) when it fills, else the rule kind's ``template`` with ``params``."""
    own = render_title(configured, fields or {}, "") if configured else ""
    if own:
        return own, configured, message_fields(fields or {})
    return render("alerts", template, params, "en", template)[:512], template, params


def render_title(template: str, fields: dict[str, Any], fallback: str) -> str:
    """A rule's title template filled in; the fallback when it is empty or broken."""
    if template:
        try:
            text = template.format(**fields)
            if text:
                return text[:512]
        except (KeyError, IndexError, ValueError, AttributeError):
            pass
    return fallback[:512]


class FrameRuleDetector:
    """Skeleton of a camera rule detector: routes events to per-(rule, camera, ...) frame folds.

    Subclasses set ``name``, ``kinds`` and implement :meth:`_targets`, :meth:`_empty`,
    :meth:`_add`, :meth:`_sample`, :meth:`_title` (and :meth:`_timing` when they hold a
    condition for a time other than the rule's ``for_seconds``).
    """

    name = "camera"
    kinds: frozenset[str] = frozenset()
    event_kind = "camera.detection"

    def __init__(
        self,
        rules: Iterable[CameraRule],
        zones: CameraZones | None = None,
        camera_names: Mapping[str, str] | None = None,
        *,
        max_gap: timedelta = timedelta(seconds=10),
        settle: timedelta = timedelta(seconds=1),
        lateness: timedelta = timedelta(seconds=5),
    ) -> None:
        self.rules = list(rules)
        check_rule_names([r.name for r in self.rules], self.name)
        if min(max_gap, settle, lateness) < timedelta(0):
            raise ValueError("max_gap, settle and lateness must not be negative")
        self.zones = {c: dict(z) for c, z in (zones or {}).items()}
        self.camera_names = dict(camera_names or {})
        self.max_gap, self.settle, self.lateness = max_gap, settle, lateness
        self.kinds = frozenset({self.event_kind}) if self.rules else frozenset()
        self._rules = {r.name: r for r in self.rules}
        self._runs: dict[tuple[str, ...], FrameRun] = {}
        self._watermark: datetime | None = None
        self.late = 0

    # -- hooks -----------------------------------------------------------------------------
    def _targets(self, rule: Any, event: Event) -> list[tuple[str, ...]]:
        """The run keys (after the rule name) this event belongs to; empty: not for this rule."""
        raise NotImplementedError

    def _empty(self) -> Any:
        raise NotImplementedError

    def _add(self, rule: Any, key: tuple[str, ...], agg: Any, event: Event) -> None:
        raise NotImplementedError

    def _sample(self, rule: Any, key: tuple[str, ...], t: datetime, agg: Any) -> FrameSample:
        raise NotImplementedError

    def _title(self, rule: Any, key: tuple[str, ...], change: Change, fields: dict[str, Any]) -> Title:
        """The title's catalogue message and its fields (adding to ``fields`` what a configured
        title may use)."""
        raise NotImplementedError

    def _details(self, rule: Any, key: tuple[str, ...], change: Change) -> dict[str, Any]:
        return {}

    def _dump_agg(self, agg: Any) -> Any:
        return sorted(agg) if isinstance(agg, set) else agg

    def _load_agg(self, raw: Any) -> Any:
        return set(map(tuple, raw)) if isinstance(raw, list) else raw

    def _timing(self, rule: Any, key: tuple[str, ...]) -> RunTiming:
        return RunTiming(
            for_s=timedelta(seconds=float(getattr(rule, "for_seconds", 0.0))),
            clear_s=timedelta(seconds=rule.clear_seconds),
            max_gap=self.max_gap, settle=self.settle, lateness=self.lateness,
        )

    # -- helpers ---------------------------------------------------------------------------
    def watches(self, rule: CameraRule, camera: str) -> bool:
        """True when ``rule`` applies to ``camera`` (by its camera list)."""
        return not rule.cameras or camera in rule.cameras

    def polygon(self, camera: str, zone: str | None) -> Polygon | None:
        """The polygon of a camera's zone, if configured."""
        return None if zone is None else self.zones.get(camera, {}).get(zone)

    def has_zone(self, rule: CameraRule, camera: str, zone: str | None) -> bool:
        """A rule naming a zone applies to cameras that have it, or that it lists explicitly."""
        return zone is None or zone in self.zones.get(camera, {}) or camera in rule.cameras

    def camera_name(self, camera: str) -> str:
        return self.camera_names.get(camera, camera)

    # -- the Detector protocol -------------------------------------------------------------
    def observe(self, event: Event) -> list[AlertSignal]:
        if getattr(event, "kind", None) != self.event_kind:
            return []
        out: list[AlertSignal] = []
        for rule in self.rules:
            if not self.watches(rule, event.source_id):
                continue
            for sub in self._targets(rule, event):
                key = (rule.name, *sub)
                run = self._runs.get(key)
                if run is None:
                    run = self._runs[key] = FrameRun()
                agg = run.open_frame(event.time, self._empty)
                if agg is None:
                    self.late += 1
                    continue
                self._add(rule, key, agg, event)
                out.extend(self._fold(rule, key, run))
        return out

    def advance(self, watermark: datetime) -> list[AlertSignal]:
        if self._watermark is None or watermark > self._watermark:
            self._watermark = watermark
        out: list[AlertSignal] = []
        for key in sorted(self._runs):
            rule = self._rules.get(key[0])
            if rule is not None:
                out.extend(self._fold(rule, key, self._runs[key]))
        return out

    def _fold(self, rule: Any, key: tuple[str, ...], run: FrameRun) -> list[AlertSignal]:
        changes = run.fold(
            self._timing(rule, key), lambda t, agg: self._sample(rule, key, t, agg), self._watermark
        )
        return [self._signal(rule, key, c) for c in changes]

    def _signal(self, rule: Any, key: tuple[str, ...], change: Change) -> AlertSignal:
        camera = key[1]
        fields = {
            "rule": rule.name, "camera": camera, "camera_name": self.camera_name(camera),
            "value": change.value, "count": int(change.value), "peak": change.peak,
            "zone": getattr(rule, "zone", None) or "", "status": change.status,
        }
        title, template, params = titled(*self._title(rule, key, change, fields), rule.title, fields)
        return AlertSignal(
            time=change.time,
            source_id=camera,
            detector=self.name,
            rule=rule.name,
            fingerprint=":".join((self.name, *key)),
            status=change.status,
            severity=rule.severity,
            title=title,
            title_template=template,
            title_params=params,
            area=self.camera_names.get(camera),
            started_at=change.started_at,
            details={
                "camera": camera, "value": change.value, "peak": change.peak,
                "ended_by_gap": change.gap, **self._details(rule, key, change),
            },
        )

    # -- snapshot --------------------------------------------------------------------------
    def event_times(self) -> Iterator[datetime]:
        """Its watermark and each run's newest frame (:class:`~detectors.base.KeepsEventTimes`)."""
        if self._watermark is not None:
            yield self._watermark
        yield from (run.newest for run in self._runs.values() if run.newest is not None)

    def state(self) -> dict[str, Any]:
        return {
            "detector": self.name,
            "version": SNAPSHOT_VERSION,
            "watermark": dump_time(self._watermark),
            "late": self.late,
            "runs": [[list(k), run.dump(self._dump_agg)] for k, run in sorted(self._runs.items())],
            **self._extra_state(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Load a snapshot; runs of rules no longer configured are dropped."""
        check_version(state, self.name, SNAPSHOT_VERSION)
        self._watermark = load_time(state.get("watermark"))
        self.late = int(state.get("late", 0))
        self._runs = {}
        for key, raw in state.get("runs", []):
            if key and key[0] in self._rules:
                self._runs[tuple(key)] = FrameRun.load(raw, self._load_agg)
        self._restore_extra(state)

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _restore_extra(self, state: dict[str, Any]) -> None:
        return None
