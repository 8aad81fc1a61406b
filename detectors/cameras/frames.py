"""The fold every camera rule shares: a condition on frames, sustained in event time.

A camera publishes its records per analysed frame, all with the frame's time. A rule keeps,
per (rule, camera[, fault]), a :class:`FrameRun`: the open frames (an aggregate per frame time,
e.g. the set of people seen in a zone) and the fold's committed :class:`RunPhase`.

Closing a frame. A frame is complete once a later frame of the same key is more than
``settle`` newer, or the watermark is ``lateness`` past it. Closed frames are folded in time
order and forgotten; a record for a frame at or before the last folded one is too late and
is dropped (counted by the detector). So input out of order by at most ``settle`` gives exactly
the signals of sorted input, and the same recorded stream always gives the same signals.

The fold, per closed frame ``t`` with sample ``(breaching, value, since)``:

* a frame more than ``max_gap`` after the previous one means frames with nothing to report
  came in between (no detections, or no frames at all): a non-breaching step at
  ``previous + max_gap`` comes first. The watermark does the same after the last frame.
* idle: a breaching frame starts (or continues) a run at ``min(t, since)``; ``since`` lets a
  sample carry credit (a vehicle already stopped for a while). When ``t - run start >=
  for_s`` the rule fires (``time`` = ``t``, ``started_at`` = run start). A non-breaching frame
  ends the run.
* firing: a non-breaching frame starts a clearing run; once it has lasted ``clear_s`` (0: at
  once) the rule resolves at that frame. A breaching frame cancels the clearing run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from detectors.base import dump_time, load_time


@dataclass(frozen=True, slots=True)
class FrameSample:
    """What a rule makes of one closed frame."""

    breaching: bool
    value: float = 0.0
    since: datetime | None = None
    """The condition has held since then (run credit); ``None``: since this frame."""
    info: dict[str, Any] | None = None
    """Anything the rule wants in the signal of a decision taken at this frame."""


@dataclass(slots=True)
class RunPhase:
    """Where the fold stands after the last folded frame."""

    firing: bool = False
    run_start: datetime | None = None
    episode_start: datetime | None = None
    clear_start: datetime | None = None
    last_frame: datetime | None = None
    peak: float = 0.0

    def dump(self) -> dict[str, Any]:
        return {
            "firing": self.firing,
            "run_start": dump_time(self.run_start),
            "episode_start": dump_time(self.episode_start),
            "clear_start": dump_time(self.clear_start),
            "last_frame": dump_time(self.last_frame),
            "peak": self.peak,
        }

    @classmethod
    def load(cls, raw: dict[str, Any]) -> RunPhase:
        return cls(
            firing=bool(raw.get("firing", False)),
            run_start=load_time(raw.get("run_start")),
            episode_start=load_time(raw.get("episode_start")),
            clear_start=load_time(raw.get("clear_start")),
            last_frame=load_time(raw.get("last_frame")),
            peak=float(raw.get("peak", 0.0)),
        )


@dataclass(frozen=True, slots=True)
class Change:
    """A decision of the fold: the condition fired or resolved."""

    status: Literal["firing", "resolved"]
    time: datetime
    started_at: datetime | None
    value: float
    peak: float
    gap: bool = False
    """Resolved because frames stopped coming (``max_gap``), not by a frame."""
    info: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RunTiming:
    """How long a condition must hold, clear, and how frames are closed."""

    for_s: timedelta
    clear_s: timedelta = timedelta(0)
    max_gap: timedelta = timedelta(seconds=10)
    settle: timedelta = timedelta(seconds=1)
    lateness: timedelta = timedelta(seconds=5)


@dataclass(slots=True)
class FrameRun:
    """Open frames of one key and the fold's committed phase."""

    frames: dict[datetime, Any] = field(default_factory=dict)
    newest: datetime | None = None
    decided: datetime | None = None
    phase: RunPhase = field(default_factory=RunPhase)

    def open_frame(self, t: datetime, empty: Callable[[], Any]) -> Any | None:
        """The aggregate of frame ``t`` (made with ``empty()`` if new); ``None`` if ``t`` is too late."""
        if self.decided is not None and t <= self.decided:
            return None
        agg = self.frames.get(t)
        if agg is None:
            agg = self.frames[t] = empty()
        if self.newest is None or t > self.newest:
            self.newest = t
        return agg

    def fold(
        self,
        timing: RunTiming,
        sample: Callable[[datetime, Any], FrameSample],
        watermark: datetime | None = None,
    ) -> list[Change]:
        """Fold every frame that is complete now; the decisions, in time order."""
        out: list[Change] = []
        closable = [
            t for t in self.frames
            if (self.newest is not None and t + timing.settle < self.newest)
            or (watermark is not None and t + timing.lateness <= watermark)
        ]
        for t in sorted(closable):
            last = self.phase.last_frame
            if last is not None and t - last > timing.max_gap:
                self._gap(timing, last + timing.max_gap, out)
            s = sample(t, self.frames.pop(t))
            self._step(timing, t, s, out)
            self.phase.last_frame = t
            self.decided = t
        last = self.phase.last_frame
        if (
            watermark is not None
            and last is not None
            and last + timing.max_gap + timing.lateness <= watermark
            and not any(t <= last + timing.max_gap for t in self.frames)
        ):
            self._gap(timing, last + timing.max_gap, out)
            self.phase.last_frame = None
            self.decided = max(self.decided or last, last + timing.max_gap)
        return out

    def _gap(self, timing: RunTiming, at: datetime, out: list[Change]) -> None:
        """Frames stopped: the condition is off from ``at`` on."""
        phase = self.phase
        if phase.firing:
            out.append(Change("resolved", at, phase.episode_start, 0.0, phase.peak, gap=True))
        self.phase = RunPhase(last_frame=at)

    def _step(self, timing: RunTiming, t: datetime, s: FrameSample, out: list[Change]) -> None:
        phase = self.phase
        if not phase.firing:
            if not s.breaching:
                phase.run_start, phase.peak = None, 0.0
                return
            start = min(s.since or t, phase.run_start or t, t)
            phase.run_start = start
            phase.peak = max(phase.peak, s.value)
            if t - start >= timing.for_s:
                phase.firing, phase.episode_start, phase.run_start = True, start, None
                phase.clear_start = None
                out.append(Change("firing", t, start, s.value, phase.peak, info=s.info))
            return
        if s.breaching:
            phase.clear_start = None
            phase.peak = max(phase.peak, s.value)
            return
        phase.clear_start = phase.clear_start or t
        if t - phase.clear_start >= timing.clear_s:
            out.append(Change("resolved", t, phase.episode_start, s.value, phase.peak, info=s.info))
            self.phase = RunPhase(last_frame=t)

    # -- snapshot --------------------------------------------------------------------------
    def dump(self, dump_agg: Callable[[Any], Any]) -> dict[str, Any]:
        return {
            "frames": [[dump_time(t), dump_agg(agg)] for t, agg in sorted(self.frames.items())],
            "newest": dump_time(self.newest),
            "decided": dump_time(self.decided),
            "phase": self.phase.dump(),
        }

    @classmethod
    def load(cls, raw: dict[str, Any], load_agg: Callable[[Any], Any]) -> FrameRun:
        run = cls(newest=load_time(raw.get("newest")), decided=load_time(raw.get("decided")),
                  phase=RunPhase.load(raw.get("phase", {})))
        for t, agg in raw.get("frames", []):
            when = load_time(t)
            if when is not None:
                run.frames[when] = load_agg(agg)
        return run
