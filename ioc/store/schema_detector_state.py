"""Detector state snapshots: one row per (consumer group, topic, partition).

Written by the detector runner in distributed mode (``ioc/store/detector_state.py``): the
JSON states of the detectors that judge one topic-partition and the offset of
the next record of that partition not yet folded into them. The same table at
both capability levels (it is small: one row per partition and group).
"""

from __future__ import annotations

import psycopg

SCHEMA = """
CREATE TABLE detector_state (
    group_id    text        NOT NULL,
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    next_offset bigint      NOT NULL,
    watermark   timestamptz,
    state       jsonb       NOT NULL,
    saved_at    timestamptz NOT NULL DEFAULT now(),
    saved_by    text,
    PRIMARY KEY (group_id, topic, partition)
)
"""


def apply_detector_state(conn: psycopg.Connection, caps: object) -> None:
    """Migration: the detector state table."""
    conn.execute(SCHEMA)
