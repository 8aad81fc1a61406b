"""The wire form of a dead letter published by an ingest worker on ``ioc.deadletters``.

The store sink turns each into a ``dead_letters`` row (stage, feed, reason, raw input).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

MAX_DEAD_LETTER_PAYLOAD = 64 * 1024


def dead_letter_record(stage: str, feed: str, reason: str, payload: str | bytes, now: datetime) -> bytes:
    """The JSON value of a dead letter: where, which feed, why, the raw input (≤ 64 KB), when.

    Bytes that are not UTF-8 are kept visible as ``\\xNN`` escapes; the payload is cut to
    64 KiB of UTF-8 without splitting a character.
    """
    text = payload.decode("utf-8", errors="backslashreplace") if isinstance(payload, bytes) else payload
    encoded = text.encode("utf-8", errors="backslashreplace")
    if len(encoded) > MAX_DEAD_LETTER_PAYLOAD:
        text = encoded[:MAX_DEAD_LETTER_PAYLOAD].decode("utf-8", errors="ignore")
    record = {
        "stage": stage,
        "feed": feed,
        "reason": reason[:1024],
        "payload": text,
        "time": now.astimezone(UTC).isoformat(),
    }
    return json.dumps(record, ensure_ascii=False).encode("utf-8")
