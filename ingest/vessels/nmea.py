"""Decode NMEA 0183 AIS lines (``!AIVDM`` / ``!AIVDO``) into vessel records, with pyais.

:class:`AisDecoder` takes one raw line at a time (bytes or text, as read from a file, a TCP
stream or a UDP datagram) with the time it was received, and answers the
:class:`VesselPosition` / :class:`VesselStatic` records it completes.
Every line ends in exactly one of four places, and is counted there:

* **decoded**: it was (part of) an AIS message of type 1, 2, 3, 18, 19 or 27 (a position) or 5
  or 24 part A/B (static data) and became a record (type 19 becomes both); NMEA 0183 starts AIS
  sentences with ``!``, but one a logger wrote with ``$`` (``$AIVDM,...``) is read as well when its
  checksum holds, as gpsd and libais do (never counted as another, ignored sentence);
* **ignored**: it is valid but unused: a blank line, a ``#`` comment, another NMEA sentence
  (``$GPRMC``..., counted by sentence id) or an AIS message of another defined type (counted
  by type);
* **dead-lettered**: it is malformed or unusable, kept as a :class:`DeadLetter` with a reason
  (bad or missing checksum, truncated, binary junk, invalid UTF-8, a 1 MB line, "position not
  available", MMSI 0, an undefined message type, an implausible time, an incomplete multi-part
  message that timed out or lost its first part...);
* **pending**: it is a fragment of a multi-part message still waiting for its other parts.

So ``lines == lines_decoded + lines_ignored + lines_dead + pending_lines`` always holds
(:meth:`DecodeStats.balanced`). Nothing in here raises on bad input.

NMEA 4.10 tag blocks (``\\s:station,c:1700000000*hh\\!AIVDM...``) are checked (checksum) and
their ``c:`` (UNIX time, seconds or milliseconds) becomes the event time. Receiver metadata
written after the checksum, as the US Coast Guard's NAIS archives do
(``!AIVDM,...,0*4A,s28089,d-103,T39.44353985,x147521,r08TPHI1,1242958962``), is read as libais's
``USCG_RE`` reads it: its last field (UNIX time) is the event time when there is no tag-block time,
and its ``r``/``R``, ``b``/``B`` or ``D`` field (``D09MN-BU-RIPBS1`` in newer archives) names the
receiving station. Either may be missing (gpsd's sample.aivdm: ``...,0*4A,b003660465``,
``...,0*5B,s36310,d-081,T59.01777335``); a field of no NAIS kind is a dead letter. A time a
logger wrote before the line (``gpspipe -t``'s ``2026-12-06 12:11:12: !AIVDM...``, UNIX seconds,
ISO 8601; :mod:`ingest.vessels.loggers`) is the event time when the line carries no other. A CSV
archive's header line (the Danish Maritime Authority's, MarineCadastre's) makes the rows after it
read as that archive's (:mod:`ingest.vessels.archives`), each at its own time.
Without any, the receive time given by the caller is the event time. A time before AIS existed
(:data:`EARLIEST_TIME`, e.g. ``c:0``) or more than ``max_future`` after the receive time is refused.

Multi-part messages are reassembled per source: per tag-block group (``g:``) when there is
one, else per talker, station (tag-block ``s:`` or NAIS station field), radio channel and
sequence id, in a bounded buffer (a later part naming a station joins a part 1 that named
none). Without a group id the fragments must arrive in order (part 1 first): a later part with
no earlier part waiting is dead-lettered at once rather than kept, so a stray part 2 whose part 1
was lost cannot glue onto the next message's part 1. A group that does not complete within
``fragment_timeout`` (receive time), is interrupted by a different message on the same key, or is
pushed out of a full buffer becomes one dead letter per line. An empty final fragment (sent by
some transponders) is accepted.

Records are checked against ITU-R M.1371: message types 0 and 28-63 are not defined (dead
letters), MMSI 0 and the position 0° N 0° E (a receiver's default, not a fix) are refused,
dimensions at their "511 m or more" / "63 m or more" limits are unknown (``None``), and the
ship and cargo type is the raw code 0-255 (``None`` for 0, not available), not pyais's
``ShipType`` enum which folds reserved codes together. Type 19 yields a position and a static
record (name, type, dimensions).
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, NamedTuple

from ingest.vessels.ais_messages import (
    MAX_MESSAGE_TYPE,
    POSITION_TYPES,
    STATIC_TYPES,
    USED_TYPES,
    message_records,
)
from ingest.vessels.ais_messages import Reject as _Reject
from ingest.vessels.ais_outcomes import DeadLetter, DecodeStats, TooLong
from ingest.vessels.archives import ArchiveReader, NotAVessel
from ingest.vessels.loggers import LOG_PREFIX, PREFIX_STARTS, BadLogTime, gpsd_report_class, log_time
from ingest.vessels.sentences import AIS_LINE, HEX, Sentence, ais_sentence, checked_sentence, nmea_checksum
from ioc.feeds.vessels.records import VesselPosition, VesselStatic

__all__ = ["POSITION_TYPES", "STATIC_TYPES", "USED_TYPES", "AisDecoder", "DeadLetter", "DecodeStats",
           "TooLong", "VesselRecord", "nmea_checksum"]

VesselRecord = VesselPosition | VesselStatic

DEFAULT_MAX_LINE_BYTES = 1024  # an NMEA sentence is at most 82 characters; tag blocks add some
DEFAULT_FRAGMENT_TIMEOUT = timedelta(seconds=10)
DEFAULT_MAX_PENDING_GROUPS = 1024
DEFAULT_MAX_FUTURE = timedelta(minutes=5)
DEAD_LETTER_PAYLOAD_BYTES = 4096  # what of an oversized line is kept in its dead letter
# No AIS message predates ITU-R M.1371-0 (1998): an earlier time is a receiver's unset clock.
EARLIEST_TIME = datetime(1998, 1, 1, tzinfo=UTC)

_WHITESPACE = b" \t\r\n\x00"
_NMEA_FIRST = frozenset(b"!$\\{")  # how a sentence, a tag block or gpsd's JSON starts
_CONTROL = bytes(range(0, 32)) + b"\x7f"
_ADDRESS = re.compile(rb"^[A-Z0-9]{2,6}$")
_METADATA_TIME = re.compile(rb"^\d{1,13}(\.\d*)?$")  # the last field of NAIS receiver metadata
# The other fields of NAIS receiver metadata, as libais's USCG_RE (ais/uscg.py) reads them: slot S,
# signal strength s, level d (dB), receiver time t (hhmmss.ss), time of arrival T, counter x, and the
# station: r/R or b/B (older archives: r08TPHI1, b003669974), D (newer ones: D09MN-BU-RIPBS1).
_METADATA_FIELD = re.compile(rb"^(?:S\d*|s\d*|d[-0-9]*|t\d{6}(?:\.\d*)?|T[^,]*|x\d*|[rRbBD][A-Za-z0-9_-]*)\Z")
_STATION_CODES = frozenset(b"rRbBD")


class _Framing(NamedTuple):
    """What a line carries besides its sentence: tag block or NAIS metadata."""

    time: datetime | None  # tag-block c:, else the NAIS metadata time
    group: str | None  # tag-block g: group id
    station: bytes | None  # tag-block s:, else the NAIS r/b station


_NO_FRAMING = _Framing(None, None, None)


@dataclass(slots=True)
class _Fragment:
    sentence: Sentence
    line: bytes
    tag_time: datetime | None


@dataclass(slots=True)
class _Group:
    count: int
    first_received: datetime
    fragments: dict[int, _Fragment] = field(default_factory=dict)


def _to_bytes(line: bytes | bytearray | memoryview | str) -> bytes:
    """Bytes of a line; text with lone surrogates raises ``UnicodeEncodeError``."""
    if isinstance(line, bytes):
        return line
    if isinstance(line, str):
        return line.encode("utf-8")
    if isinstance(line, bytearray | memoryview):
        return bytes(line)
    raise TypeError(type(line).__name__)


class AisDecoder:
    """Turns raw AIS NMEA lines into vessel records; keeps dead letters and counters."""

    def __init__(
        self,
        *,
        simulated: bool = False,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        fragment_timeout: timedelta = DEFAULT_FRAGMENT_TIMEOUT,
        max_pending_groups: int = DEFAULT_MAX_PENDING_GROUPS,
        max_future: timedelta | None = DEFAULT_MAX_FUTURE,
        log_timezone: tzinfo = UTC,
    ) -> None:
        if max_line_bytes < 82 or max_pending_groups < 1 or fragment_timeout <= timedelta(0):
            raise ValueError("max_line_bytes >= 82, max_pending_groups >= 1, fragment_timeout > 0")
        self.simulated = simulated
        self.max_line_bytes = max_line_bytes
        self.fragment_timeout = fragment_timeout
        self.max_pending_groups = max_pending_groups
        self.max_future = max_future
        self.log_timezone = log_timezone  # of a logger's times written without a zone
        self.stats = DecodeStats()
        self._groups: OrderedDict[tuple[Any, ...], _Group] = OrderedDict()
        self._dead: list[DeadLetter] = []
        self._tag_time_cache: tuple[str, datetime] | None = None
        # the last tag block read and what it says: a receiver stamps every sentence of a second
        # with the same block (station, time), so most lines repeat the one before
        self._last_block: tuple[bytes, _Framing] | None = None
        self._archive = ArchiveReader()  # rows of a CSV archive, once its header is read

    # -- public ---------------------------------------------------------------------------
    def feed(self, line: bytes | str | TooLong, received: datetime) -> list[VesselRecord]:
        """Decode one line received at ``received`` (timezone-aware); the records it completes."""
        stats = self.stats
        stats.lines += 1
        if received.tzinfo is None:
            received = received.replace(tzinfo=UTC)
        if isinstance(line, TooLong):
            reason = f"line too long: {line.size} bytes > {self.max_line_bytes}"
            self._dead_line(reason, line.prefix, received)
            return []
        try:
            raw = _to_bytes(line)
        except UnicodeEncodeError:
            text = line if isinstance(line, str) else repr(line)
            self._dead_line("invalid Unicode text", text.encode("utf-8", "backslashreplace"), received)
            return []
        except (TypeError, ValueError):
            self._dead_line(f"not a line of text: {type(line).__name__}", repr(line)[:200].encode(), received)
            return []
        if self._groups:
            self.expire(received)
        try:
            return self._feed(raw, received)
        except _Reject as exc:
            self._dead_line(str(exc), raw, received)
        except Exception as exc:  # a decoder bug must not lose the line: it is dead-lettered
            self._dead_line(f"decoder error: {type(exc).__name__}: {exc}", raw, received)
        return []

    def feed_many(self, lines: Iterable[bytes | str | TooLong], received: datetime) -> list[VesselRecord]:
        """Decode several lines received together (one UDP datagram, one read)."""
        out: list[VesselRecord] = []
        for line in lines:
            out.extend(self.feed(line, received))
        return out

    def expire(self, now: datetime) -> int:
        """Dead-letter multi-part groups older than ``fragment_timeout`` at ``now``; how many."""
        expired = 0
        limit = now - self.fragment_timeout
        while self._groups:
            key, group = next(iter(self._groups.items()))
            if group.first_received > limit:
                break
            del self._groups[key]
            self._drop_group(group, "timed out", now)
            expired += 1
        return expired

    def flush(self, now: datetime) -> int:
        """End of input: every incomplete multi-part group becomes dead letters; how many groups."""
        groups = list(self._groups.values())
        self._groups.clear()
        for group in groups:
            self._drop_group(group, "input ended", now)
        return len(groups)

    def take_dead_letters(self) -> list[DeadLetter]:
        """Dead letters since the last call (and forget them)."""
        out, self._dead = self._dead, []
        return out

    @property
    def pending_groups(self) -> int:
        """Multi-part messages waiting for more fragments."""
        return len(self._groups)

    # -- one line -------------------------------------------------------------------------
    def _feed(self, raw: bytes, received: datetime) -> list[VesselRecord]:
        stats = self.stats
        if len(raw) > self.max_line_bytes:
            raise _Reject(f"line too long: {len(raw)} bytes > {self.max_line_bytes}")
        line = raw.strip(_WHITESPACE)
        if not line:
            self._ignore_line("blank")
            return []
        if line[0] not in _NMEA_FIRST:  # a CSV archive's header or row, else NMEA after a logger's time
            archive = self._archive
            if (layout := archive.header(line)) is not None:
                self._ignore_line(f"archive:{layout.name} header")
                return []
            if (archive.layout is not None and line[:1] != b"#"
                    and not (line[0] in PREFIX_STARTS and LOG_PREFIX.match(line))):
                return self._archive_row(line, received)
        if line[:1] == b"#":
            self._ignore_line("comment")
            return []
        if not line.isascii():
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                raise _Reject("invalid UTF-8 (binary data?)") from None
            raise _Reject("non-ASCII characters in NMEA line")
        logged: datetime | None = None  # the time a logger wrote before the line (a tab may follow it)
        if line[0] in PREFIX_STARTS and (stamp := LOG_PREFIX.match(line)) is not None:
            try:
                logged = log_time(stamp, self.log_timezone, near=received)
            except BadLogTime as exc:
                raise _Reject(str(exc)) from None
            self._check_time(logged, received, "log time")
            line = line[stamp.end() :]
        if len(line.translate(None, _CONTROL)) != len(line):
            raise _Reject("control characters in NMEA line")
        if line[:1] == b"{" and (report := gpsd_report_class(line)) is not None:
            if report == "AIS":
                raise _Reject("gpsd's decoded AIS report (JSON) is not read: log NMEA (gpspipe -r)")
            self._ignore_line(f"gpsd:{report}")
            return []

        framing = _NO_FRAMING
        if line[:1] == b"\\":
            end = line.find(b"\\", 1)
            if end < 0:
                raise _Reject("unterminated tag block")
            framing = self._tag_block(line[1:end], received)
            line = line[end + 1 :]

        m = AIS_LINE.match(line)
        if m is not None:  # a well-formed AIS sentence: one match for what the checks below do one by one
            talker, count, number, seq, channel, payload, fill, given, metadata = m.groups()
            total, index = int(count), int(number)
            if (nmea_checksum(line[1 : m.end(8) - 3]) == int(given, 16) and index <= total
                    and (payload or 1 < index == total)):
                if metadata:
                    framing = self._metadata(metadata, framing, received)
                if logged is not None and framing.time is None:
                    framing = framing._replace(time=logged)
                stats.sentences += 1
                if total == 1:
                    return self._message(payload, int(fill), [raw], framing.time, received)
                ais = Sentence(total, index, seq, channel, payload, int(fill))
                return self._fragment(ais, talker, raw, framing, received)
        # anything else, or a flaw in it, is told apart (and its reason found) check by check
        sentence, metadata = checked_sentence(line)
        address = sentence[1 : sentence.find(b",")] if b"," in sentence else sentence[1:-3]
        # NMEA 0183 starts AIS (encapsulation) sentences with '!'; some loggers write '$': read as
        # gpsd and libais do, the checksum being right (the fast path above takes '!' lines only)
        if not (len(address) == 5 and address[2:] in (b"VDM", b"VDO")):
            name = address.decode("ascii") if _ADDRESS.match(address) else "other"
            self._ignore_line(f"nmea:{name}")
            return []
        if metadata:
            framing = self._metadata(metadata, framing, received)
        if logged is not None and framing.time is None:
            framing = framing._replace(time=logged)
        ais = ais_sentence(sentence)
        stats.sentences += 1
        if ais.count == 1:
            return self._message(ais.payload, ais.fill, [raw], framing.time, received)
        return self._fragment(ais, address[:2], raw, framing, received)

    def _metadata(self, metadata: bytes, framing: _Framing, received: datetime) -> _Framing:
        """NAIS receiver metadata (``s28089,d-103,...,r08TPHI1,1242958962``): time and station. Both
        may be missing (``b003669974`` alone, ``s36310,d-081,T59.01777335``), as libais accepts them;
        a field of no NAIS kind is malformed."""
        fields = metadata.split(b",")
        stamp = fields[-1] if _METADATA_TIME.match(fields[-1]) else None
        while fields and _METADATA_TIME.match(fields[-1]):  # some archives add a logger's time after it
            fields.pop()
        for item in fields:
            if not _METADATA_FIELD.match(item):
                raise _Reject(f"malformed receiver metadata after the checksum: {metadata[:48]!r}")
        when = framing.time
        if when is None and stamp is not None:
            when = self._tag_time(stamp.decode("ascii"), "receiver metadata time")
            self._check_time(when, received, "receiver metadata time")
        station = framing.station
        if station is None:  # the last one, as libais takes it
            station = next((f for f in reversed(fields) if f[0] in _STATION_CODES), None)
        return _Framing(when, framing.group, station)

    def _tag_block(self, block: bytes, received: datetime) -> _Framing:
        last = self._last_block
        if last is not None and last[0] == block:  # the same bytes say the same: checked already
            framing = last[1]
            if framing.time is not None:
                self._check_time(framing.time, received, "tag block time")
            return framing
        framing = self._read_tag_block(block)
        self._last_block = (block, framing)
        if framing.time is not None:
            self._check_time(framing.time, received, "tag block time")
        return framing

    def _read_tag_block(self, block: bytes) -> _Framing:
        """The fields of a tag block (checksum checked); :class:`_Reject` when it is malformed."""
        star = block.rfind(b"*")
        if star < 0:
            raise _Reject("tag block checksum missing")
        given = block[star + 1 :]
        if len(given) != 2 or given.strip(HEX):
            raise _Reject(f"malformed tag block checksum {given[:8]!r}")
        if nmea_checksum(block[:star]) != int(given, 16):
            raise _Reject("bad tag block checksum")
        when: datetime | None = None
        group: str | None = None
        station: bytes | None = None
        for item in block[:star].split(b","):
            code, sep, value = item.partition(b":")
            if not sep:
                raise _Reject(f"malformed tag block field {item[:32]!r}")
            if code == b"c":
                when = self._tag_time(value.decode("ascii"), "tag block time")
            elif code == b"s":
                station = value
            elif code == b"g":
                parts = value.split(b"-")
                if len(parts) != 3 or not all(p.isdigit() for p in parts):
                    raise _Reject(f"malformed tag block group {value[:32]!r}")
                group = parts[2].decode("ascii")
        return _Framing(when, group, station)

    def _check_time(self, when: datetime, received: datetime, what: str) -> None:
        """Refuse a time before AIS existed or more than ``max_future`` after the receive time."""
        if when < EARLIEST_TIME:
            raise _Reject(f"implausible {what}: {when.isoformat()} is before AIS ({EARLIEST_TIME.year})")
        if self.max_future is not None and when > received + self.max_future:
            raise _Reject(f"implausible {what}: {when.isoformat()} is in the future of its receive time")

    def _tag_time(self, text: str, what: str) -> datetime:
        cached = self._tag_time_cache
        if cached is not None and cached[0] == text:
            return cached[1]
        try:
            value = float(text)
            if not math.isfinite(value) or value < 0:
                raise ValueError
            if value > 1e11:  # milliseconds (some receivers)
                value /= 1000.0
            when = datetime.fromtimestamp(value, UTC)
        except (ValueError, OverflowError, OSError):
            raise _Reject(f"bad {what} {text[:32]!r}") from None
        self._tag_time_cache = (text, when)
        return when

    # -- multi-part ---------------------------------------------------------------------
    def _fragment(
        self, ais: Sentence, talker: bytes, raw: bytes, framing: _Framing, received: datetime
    ) -> list[VesselRecord]:
        ordered = framing.group is None  # without a group id only the order ties fragments together
        key: tuple[Any, ...] = (
            ("c", talker, framing.station, ais.channel, ais.seq) if ordered else ("g", talker, framing.group)
        )
        group = self._groups.get(key)
        if group is None and ordered and ais.number > 1 and framing.station is not None:
            # a station named from this part on only (gpsd's sample.aivdm): its part 1 named none
            unnamed = ("c", talker, None, ais.channel, ais.seq)
            group = self._groups.get(unnamed)
            key = unnamed if group is not None else key
        if group is not None:
            why = None
            if group.count != ais.count or ais.number in group.fragments:
                why = "interrupted by another message on the same channel/sequence"
            elif ordered and ais.number != len(group.fragments) + 1:
                why = f"fragment {len(group.fragments) + 1} missing"
            if why is not None:
                del self._groups[key]
                self._drop_group(group, why, received)
                group = None
        if group is None:
            if ordered and ais.number != 1:
                raise _Reject(
                    f"incomplete multi-part message: fragment {ais.number} of {ais.count} "
                    "without the fragments before it (lost or out of order)"
                )
            while len(self._groups) >= self.max_pending_groups:
                _, oldest = self._groups.popitem(last=False)
                self._drop_group(oldest, "multi-part buffer full", received)
            group = self._groups[key] = _Group(count=ais.count, first_received=received)
        group.fragments[ais.number] = _Fragment(ais, raw, framing.time)
        self.stats.pending_lines += 1
        if len(group.fragments) < group.count:
            return []
        del self._groups[key]
        self.stats.pending_lines -= group.count
        parts = [group.fragments[i] for i in sorted(group.fragments)]
        when = next((p.tag_time for p in parts if p.tag_time is not None), None)
        lines = [p.line for p in parts]
        payload = b"".join(p.sentence.payload for p in parts)
        try:
            return self._message(payload, parts[-1].sentence.fill, lines, when, group.first_received)
        except _Reject as exc:
            self._dead_lines(str(exc), lines, received)
        except Exception as exc:
            self._dead_lines(f"decoder error: {type(exc).__name__}: {exc}", lines, received)
        return []

    def _drop_group(self, group: _Group, why: str, now: datetime) -> None:
        have = len(group.fragments)
        self.stats.pending_lines -= have
        reason = f"incomplete multi-part message: {have} of {group.count} fragments, {why}"
        self._dead_lines(reason, [f.line for _, f in sorted(group.fragments.items())], now)

    # -- messages -----------------------------------------------------------------------
    def _message(
        self, payload: bytes, fill: int, lines: list[bytes], tag_time: datetime | None, received: datetime
    ) -> list[VesselRecord]:
        """One complete AIS message (its ``lines``); raises :class:`_Reject` for a dead letter."""
        stats = self.stats
        stats.messages += 1
        first = payload[0] - 48
        msg_type = first - 8 if first > 40 else first  # the 6-bit value of the first character
        if msg_type not in USED_TYPES:
            if not 1 <= msg_type <= MAX_MESSAGE_TYPE:
                raise _Reject(f"invalid AIS message type {msg_type} (ITU-R M.1371 defines 1-27)")
            stats.ignored_by_type[msg_type] += 1
            stats.lines_ignored += len(lines)
            return []
        return self._decoded(message_records(payload, fill, msg_type, tag_time or received, self.simulated),
                             len(lines))

    def _archive_row(self, line: bytes, received: datetime) -> list[VesselRecord]:
        """One row of a CSV archive (:mod:`ingest.vessels.archives`); :class:`_Reject` for a dead letter."""
        try:
            when, records = self._archive.row(line, self.simulated)
        except NotAVessel as exc:
            self._ignore_line(f"archive:{exc}")
            return []
        self._check_time(when, received, "archive time")
        return self._decoded(records, 1)

    def _decoded(self, records: list[VesselRecord], lines: int) -> list[VesselRecord]:
        stats = self.stats
        for record in records:
            if isinstance(record, VesselPosition):
                stats.positions += 1
            else:
                stats.statics += 1
        stats.lines_decoded += lines
        return records

    # -- bookkeeping ----------------------------------------------------------------------
    def _ignore_line(self, what: str) -> None:
        self.stats.ignored_other[what] += 1
        self.stats.lines_ignored += 1

    def _dead_line(self, reason: str, raw: bytes, received: datetime) -> None:
        self._dead_lines(reason, [raw], received)

    def _dead_lines(self, reason: str, lines: list[bytes], received: datetime) -> None:
        stats = self.stats
        category = reason.split(":", 1)[0]
        for raw in lines:
            stats.lines_dead += 1
            stats.dead_letters += 1
            stats.dead_letter_reasons[category] += 1
            self._dead.append(DeadLetter(reason, raw.rstrip(b"\r\n")[:DEAD_LETTER_PAYLOAD_BYTES], received))
