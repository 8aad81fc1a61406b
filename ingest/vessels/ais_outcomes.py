"""What becomes of the lines an :class:`~ingest.vessels.nmea.AisDecoder` reads: a line cut for its
size (:class:`TooLong`), a line refused (:class:`DeadLetter`), and the counters of every outcome.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class TooLong:
    """A line cut by a line reader because it exceeded its limit: its start and full size."""

    prefix: bytes
    size: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One input line that did not become a record: why, the raw line, and when it was received."""

    reason: str
    payload: bytes
    received: datetime


@dataclass(slots=True)
class DecodeStats:
    """Counters of an :class:`AisDecoder`; see the module docstring for the four outcomes."""

    lines: int = 0
    lines_decoded: int = 0
    lines_ignored: int = 0
    lines_dead: int = 0
    sentences: int = 0  # valid AIS sentences (fragments) accepted
    messages: int = 0  # AIS messages complete (single or reassembled)
    positions: int = 0
    statics: int = 0
    ignored_by_type: Counter[int] = field(default_factory=Counter)  # AIS message type -> messages
    ignored_other: Counter[str] = field(default_factory=Counter)  # blank, comment, nmea:GPRMC...
    dead_letters: int = 0
    dead_letter_reasons: Counter[str] = field(default_factory=Counter)  # reason (before ':') -> n
    pending_lines: int = 0

    def balanced(self) -> bool:
        """Every line counted is decoded, ignored, dead-lettered or pending."""
        return self.lines == self.lines_decoded + self.lines_ignored + self.lines_dead + self.pending_lines

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly copy (counter keys as text)."""
        return {
            "lines": self.lines,
            "lines_decoded": self.lines_decoded,
            "lines_ignored": self.lines_ignored,
            "lines_dead": self.lines_dead,
            "sentences": self.sentences,
            "messages": self.messages,
            "positions": self.positions,
            "statics": self.statics,
            "ignored_by_type": {str(k): v for k, v in sorted(self.ignored_by_type.items())},
            "ignored_other": dict(sorted(self.ignored_other.items())),
            "dead_letters": self.dead_letters,
            "dead_letter_reasons": dict(sorted(self.dead_letter_reasons.items())),
            "pending_lines": self.pending_lines,
        }
