"""The detector contract, and the small helpers every detector's snapshot shares.

A detector is pure logic: it reads event records and event-time progress and
answers with :class:`ioc.events.AlertSignal` records. It does no I/O, talks to
no database or bus and never reads a clock: time comes only from the events
and from :meth:`Detector.advance`, so replaying a recorded stream gives the
same signals. Its state is a JSON-serialisable snapshot, so a runner can
persist it and hand it to another process after a restart or a rebalance.

Event-time progress is per *clock domain* (a feed: the camera records, the
environment readings, the vessel positions...): an absence rule is judged
against the progress of its own feed's clock, never against another feed's.
The runner advances a detector to the watermark of the domain of the kinds it
reads. A detector whose kinds span several domains, or whose rules each watch
one kind (the stale rules), also implements :class:`ClockedDetector`'s
``advance_clocks`` and gets one watermark per kind instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from ioc.events import AlertSignal, Event


@runtime_checkable
class Detector(Protocol):
    """One kind of rule, turning event records into alert signals."""

    name: str
    """Short lowercase name, used as ``AlertSignal.detector``."""

    kinds: frozenset[str]
    """Event kinds it reads (``"environment.reading"``...); the runner routes only these."""

    def observe(self, event: Event) -> list[AlertSignal]:
        """Take one event (any order, duplicates possible); return the signals it decides."""
        ...

    def advance(self, watermark: datetime) -> list[AlertSignal]:
        """Event time has reached ``watermark``; return signals due by then (absence rules)."""
        ...

    def state(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot of everything that decides future signals."""
        ...

    def restore(self, state: dict[str, Any]) -> None:
        """Load a snapshot from :meth:`state` (of a detector built with the same rules)."""
        ...


@runtime_checkable
class OwningDetector(Protocol):
    """A detector that judges sources it may never have heard from (a configured list of expected
    hosts): in distributed mode each topic-partition has an instance of it, and only the instance
    of the partition a source's records land in may judge that source, or every other one would
    call it silent. The runner tells each partitioned instance which sources are its own."""

    def claim(self, owns: Callable[[str, str], bool]) -> None:
        """From now on judge only the sources ``key`` of event kind ``kind`` with ``owns(kind, key)``."""
        ...


@runtime_checkable
class ClockedDetector(Protocol):
    """A detector that takes event-time progress per kind (the runner prefers this when present)."""

    def advance_clocks(self, watermarks: Mapping[str, datetime]) -> list[AlertSignal]:
        """Event time of each kind read (its own feed's clock) has reached ``watermarks[kind]``;
        kinds without progress yet are absent. Return the signals due by then."""
        ...


@runtime_checkable
class KeepsEventTimes(Protocol):
    """A detector whose state keeps event times of what it read (its watermark, each source's latest).

    The runner checks them when it restores a snapshot: a snapshot saved before impossible times
    were refused at intake may hold the year 9999, which would hold its source's rule in that year.
    """

    def event_times(self) -> Iterable[datetime]:
        """The event times its state holds of records read and of its progress (never a deadline)."""
        ...


def dump_time(value: datetime | None) -> str | None:
    """A datetime as ISO 8601 text for a snapshot."""
    return None if value is None else value.isoformat()


def load_time(value: str | None) -> datetime | None:
    """Inverse of :func:`dump_time`; naive text is read as UTC."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def check_version(state: dict[str, Any], detector: str, version: int) -> None:
    """Refuse a snapshot written by another detector or another snapshot version."""
    if state.get("detector") != detector or state.get("version") != version:
        raise ValueError(
            f"not a {detector!r} v{version} snapshot: "
            f"detector={state.get('detector')!r} version={state.get('version')!r}"
        )


def check_rule_names(names: list[str], detector: str) -> None:
    """Rule names key fingerprints and snapshots: they must be unique and short."""
    seen: set[str] = set()
    for name in names:
        if not name or len(name) > 96:
            raise ValueError(f"{detector} rule name must be 1..96 characters: {name!r}")
        if name in seen:
            raise ValueError(f"duplicate {detector} rule name {name!r}")
        seen.add(name)
