"""Syslog over TCP: octet-counted (RFC 6587 3.4.1) and LF-terminated (3.4.2) frames, mixed per connection."""

from __future__ import annotations

from collections.abc import Iterator


class FrameError(ValueError):
    """A frame that cannot be cut out; ``str()`` is the reason. The bad bytes are in ``.raw``."""

    def __init__(self, reason: str, raw: bytes) -> None:
        super().__init__(reason)
        self.raw = raw


class SyslogFramer:
    """Feed bytes as they arrive; yields whole messages, or :class:`FrameError` items for bad ones."""

    def __init__(self, max_frame: int = 65_536) -> None:
        self.max_frame = max_frame
        self._buf = bytearray()
        self._skip_to_lf = False

    def feed(self, data: bytes) -> Iterator[bytes | FrameError]:
        self._buf += data
        while self._buf:
            if self._skip_to_lf:  # the rest of an over-long LF frame: drop until its end
                nl = self._buf.find(b"\n")
                if nl < 0:
                    self._buf.clear()
                    return
                del self._buf[: nl + 1]
                self._skip_to_lf = False
                continue
            first = self._buf[0]
            if 0x31 <= first <= 0x39:  # octet counting: MSG-LEN SP SYSLOG-MSG
                sp = self._buf.find(b" ", 0, 12)
                if sp < 0:
                    if len(self._buf) >= 12 or not self._buf[: len(self._buf)].isdigit():
                        yield from self._lf_frame()
                    return
                digits = bytes(self._buf[:sp])
                if not digits.isdigit():
                    yield from self._lf_frame()
                    continue
                length = int(digits)
                if length > self.max_frame:
                    raw = bytes(self._buf[: min(len(self._buf), 256)])
                    self._buf.clear()  # framing is lost: the rest of this chunk cannot be trusted
                    yield FrameError(f"octet count {length} exceeds {self.max_frame}", raw)
                    return
                if len(self._buf) < sp + 1 + length:
                    return
                msg = bytes(self._buf[sp + 1: sp + 1 + length])
                del self._buf[: sp + 1 + length]
                yield msg
            else:
                got = list(self._lf_frame())
                if not got:
                    return
                yield from got

    def _lf_frame(self) -> Iterator[bytes | FrameError]:
        nl = self._buf.find(b"\n")
        if nl < 0:
            if len(self._buf) > self.max_frame:
                raw = bytes(self._buf[:256])
                self._buf.clear()
                self._skip_to_lf = True
                yield FrameError(f"frame longer than {self.max_frame} bytes without LF", raw)
            return
        msg = bytes(self._buf[:nl]).rstrip(b"\r")
        del self._buf[: nl + 1]
        if msg:
            yield msg
