"""The detector runner: feeds fact topics to the detectors and publishes their alert signals.

One batch is: poll, decode (an undecodable record, one of a kind its topic does not carry, or
one stamped with a time no source can have, is counted and skipped: a dead letter on
``ioc.deadletters`` when its topic is one no store sink reads, a fan-out copy such as
``ioc.vessels.cells``, else the sink's), route each event to the detectors that read its kind,
advance the detectors to the watermark, publish the signals on ``ioc.alerts.signals`` keyed by
source and the dead letters, flush, and only then commit the consumed offsets. This is the only
place a wall clock is read.

Split by job:

* :mod:`.loop`: :class:`DetectorRunner`, the batch loop (routing events to rules, advancing
  them, publishing their signals, committing);
* :mod:`.clocks`: clock domains and watermarks (whose clock judges a detector's absences);
* :mod:`.slots`: a slot of detectors with its progress, and what its snapshot holds;
* :mod:`.partitions`: slots per topic-partition in distributed mode, restored and saved;
* :mod:`.broadcast`: broadcast topics (storm warnings) handed to every slot;
* :mod:`.retry`: waiting out a bus or store outage with backoff.
"""

from __future__ import annotations

from detectors.runner.clocks import clock_of_kind, clock_of_topic
from detectors.runner.loop import DetectorRunner
from detectors.runner.slots import ALL, CLOCKS_KEY

__all__ = ["ALL", "CLOCKS_KEY", "DetectorRunner", "clock_of_kind", "clock_of_topic"]
