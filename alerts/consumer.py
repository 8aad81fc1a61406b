"""The bus loop of the alerts process: ``ioc.alerts.signals`` in, stored alerts out.

Each batch is decoded (what is not an alert signal becomes a dead letter
with its reason), applied in one transaction, and only then committed on the
bus, so a crash redelivers rather than loses; redelivery changes nothing
(:mod:`alerts.intake` ignores a signal it has already seen).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from alerts.models import AlertChange
from ioc.bus.base import Bus, Message
from ioc.bus.loop import BatchConsumer
from ioc.events import AlertSignal, EventDecodeError, decode
from ioc.store.writer import DeadLetter, StoreWriter
from ioc.topics import ALERT_SIGNALS


class SignalSink(Protocol):
    """What applies signals: :class:`alerts.intake.SignalIntake` or the whole service."""

    def apply_many(self, signals: Sequence[AlertSignal]) -> list[AlertChange]: ...


class AlertSignalConsumer:
    """Reads ``ioc.alerts.signals`` and applies each signal; commits after the store write."""

    def __init__(self, bus: Bus, service: SignalSink, writer: StoreWriter, group: str = "alerts") -> None:
        self.service = service
        self.writer = writer
        self.consumer = BatchConsumer(
            "alerts", bus.subscribe([ALERT_SIGNALS], group), self.handle, batch_size=500
        )
        self.health = self.consumer.health
        self.health.extra.update(raised=0, resolved=0, reopened=0, silenced=0, undecodable=0)

    def handle(self, batch: Sequence[Message]) -> None:
        signals: list[AlertSignal] = []
        dead: list[DeadLetter] = []
        for message in batch:
            try:
                event = decode(message.value)
                if not isinstance(event, AlertSignal):
                    raise EventDecodeError(f"expected an alert signal, got {event.kind!r}")  # type: ignore[attr-defined]
            except EventDecodeError as exc:
                dead.append(DeadLetter.for_message(message, "alerts", str(exc)))
                continue
            signals.append(event)
        if dead:
            self.health.extra["undecodable"] += self.writer.write_dead_letters(dead)
        for change in self.service.apply_many(signals):
            if change.action in ("raised", "resolved", "reopened", "silenced"):
                self.health.extra[change.action] += 1

    def run(self, stop) -> None:  # noqa: ANN001 - threading.Event
        self.consumer.run(stop)
