"""What the Kafka bus raises, and a short text of a kafka-python error."""

from __future__ import annotations

from ioc.bus.base import BusUnavailable


class KafkaBusError(BusUnavailable):
    """The Kafka bus could not do what was asked (broker unreachable, topic not creatable...)."""


class KafkaPublishError(KafkaBusError):
    """Some published records were not acknowledged; they must be published again."""

    def __init__(self, message: str, failed: int, first_error: BaseException | None) -> None:
        super().__init__(message)
        self.failed = failed
        self.first_error = first_error


def describe(exc: BaseException) -> str:
    text = str(exc).strip()
    name = type(exc).__name__
    return text if text.startswith(name) else f"{name}: {text}" if text else name
