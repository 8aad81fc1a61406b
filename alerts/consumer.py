"""The bus loop of the alerts process: ``ioc.alerts.signals`` in, stored alerts out.

Each batch is decoded (what is not an alert signal, or holds an event time no
detector can have judged, becomes a dead letter with its reason), applied in one
transaction, and only then committed on the bus, so a crash redelivers rather
than loses; redelivery changes nothing (:mod:`alerts.intake` ignores a signal it
has already seen). A signal that decodes but that the store still refuses fails
its batch: the loop (:mod:`ioc.bus.loop`) applies the batch in parts until that
signal is alone and :meth:`AlertSignalConsumer.set_aside` makes it a dead letter,
so one signal never stops the service. Each dead letter is a ``dead_letters`` row
and a message on ``ioc.deadletters`` carrying its origin (the README's contract),
which the store sink reads back into the same row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from alerts.models import AlertChange
from ioc.bus.base import Bus, Message, Publisher
from ioc.bus.loop import BatchConsumer, failure_reason
from ioc.events import AlertSignal, EventDecodeError, decode
from ioc.records import MAX_AHEAD, implausible_time
from ioc.store.writer import DeadLetter, StoreWriter
from ioc.topics import ALERT_SIGNALS, DEAD_LETTERS


class SignalSink(Protocol):
    """What applies signals: :class:`alerts.intake.SignalIntake` or the whole service."""

    def apply_many(self, signals: Sequence[AlertSignal]) -> list[AlertChange]: ...


class AlertSignalConsumer:
    """Reads ``ioc.alerts.signals`` and applies each signal; commits after the store write."""

    def __init__(self, bus: Bus, service: SignalSink, writer: StoreWriter, group: str = "alerts",
                 publisher: Publisher | None = None, clock: Callable[[], datetime] | None = None,
                 max_ahead: timedelta = MAX_AHEAD) -> None:
        self.bus = bus
        self.service = service
        self.writer = writer
        self.publisher = publisher  # made on the first dead letter when not given
        self.clock = clock or (lambda: datetime.now(UTC))
        self.max_ahead = max_ahead
        # the broker's name of a topic (with the namespace): what a dead-letter row is keyed by
        self.broker_topic: Callable[[str], str] = getattr(bus, "physical", None) or (lambda t: t)
        self.consumer = BatchConsumer(
            "alerts", bus.subscribe([ALERT_SIGNALS], group), self.handle, batch_size=500,
            poison=self.set_aside,
        )
        self.health = self.consumer.health
        self.health.extra.update(raised=0, resolved=0, reopened=0, silenced=0, undecodable=0)

    def _signal(self, message: Message, now: datetime) -> AlertSignal:
        """The signal of ``message``; :class:`EventDecodeError` when it is none a detector can have sent."""
        event = decode(message.value)
        if not isinstance(event, AlertSignal):
            raise EventDecodeError(f"expected an alert signal, got {event.kind!r}")  # type: ignore[attr-defined]
        for field, when in (("time", event.time), ("started_at", event.started_at)):
            why = None if when is None else implausible_time(when, now, self.max_ahead)
            if why is not None:
                raise EventDecodeError(f"{field}: {why}")
        return event

    def handle(self, batch: Sequence[Message]) -> None:
        signals: list[AlertSignal] = []
        dead: list[DeadLetter] = []
        now = self.clock()
        for message in batch:
            try:
                signals.append(self._signal(message, now))
            except EventDecodeError as exc:
                dead.append(DeadLetter.for_message(message, "alerts", str(exc)))
        if dead:
            self._store(dead)
        changes = self.service.apply_many(signals)
        self._publish(dead)  # once the batch is done: a try that failed publishes nothing
        for change in changes:
            if change.action in ("raised", "resolved", "reopened", "silenced"):
                self.health.extra[change.action] += 1

    def set_aside(self, message: Message, exc: BaseException) -> None:
        """A signal the store refused alone (its batch applied in parts): a dead letter with the error."""
        reason = f"the store refused the signal: {failure_reason(exc)}"
        dead = [DeadLetter.for_message(message, "alerts", reason)]
        self._store(dead)
        self._publish(dead)

    def _store(self, dead: list[DeadLetter]) -> None:
        """Dead-letter rows, keyed by the broker's topic names (in its own transaction: idempotent)."""
        rows = [dataclasses.replace(d, topic=self.broker_topic(d.topic)) if d.topic else d for d in dead]
        self.health.extra["undecodable"] += self.writer.write_dead_letters(rows)

    def _publish(self, dead: list[DeadLetter]) -> None:
        """The dead letters on ``ioc.deadletters``, flushed (a bus error is transient: retried)."""
        if not dead:
            return
        if self.publisher is None:
            self.publisher = self.bus.publisher()
        for d in dead:
            self.publisher.publish(DEAD_LETTERS, d.key, d.message())
        self.publisher.flush()

    def run(self, stop) -> None:  # noqa: ANN001 - threading.Event
        try:
            self.consumer.run(stop)
        finally:
            if self.publisher is not None:
                self.publisher.close()
