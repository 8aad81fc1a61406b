"""The press feed's table: one row per (outlet, article hash); a hypertable on TimescaleDB,
a BRIN index on time elsewhere (the two capability levels every feed supports)."""

from __future__ import annotations

import psycopg

from ioc.feeds.press.stories import signature
from ioc.store.capabilities import Capabilities
from ioc.store.tables import TableSpec, hypertable_or_brin

RAW_PRESS_TABLES = ("press_articles",)


def apply_press(conn: psycopg.Connection, caps: Capabilities) -> None:
    """Migration 1: the articles."""
    conn.execute(
        """
        CREATE TABLE press_articles (
            time        timestamptz NOT NULL,
            outlet_id   text        NOT NULL,
            hash        text        NOT NULL,
            outlet      text        NOT NULL,
            url         text        NOT NULL,
            guid        text        NOT NULL DEFAULT '',
            title       text        NOT NULL,
            summary     text        NOT NULL DEFAULT '',
            body        text        NOT NULL DEFAULT '',
            author      text        NOT NULL DEFAULT '',
            published   timestamptz,
            language    text        NOT NULL DEFAULT 'vi',
            places      text[]      NOT NULL DEFAULT '{}',
            agencies    text[]      NOT NULL DEFAULT '{}',
            topics      text[]      NOT NULL DEFAULT '{}',
            tone        text        NOT NULL,
            tone_score  real        NOT NULL DEFAULT 0,
            simulated   boolean     NOT NULL DEFAULT false,
            PRIMARY KEY (outlet_id, time, hash)
        );
        CREATE INDEX press_articles_url ON press_articles (url);
        """
    )
    hypertable_or_brin(conn, caps, "press_articles", "7 days")


def add_entities(conn: psycopg.Connection, caps: Capabilities) -> None:
    """Migration 2: the named entities of each article (``TYPE:Name``)."""
    conn.execute("ALTER TABLE press_articles ADD COLUMN entities text[] NOT NULL DEFAULT '{}'")


def add_signatures(conn: psycopg.Connection, caps: Capabilities) -> None:
    """Migration 3: each article's MinHash signature (:mod:`ioc.feeds.press.stories`), so a page
    groups the stories of the last hours from the store without hashing any text. The articles of
    the last two days (what the stories panel reads) get theirs now; older ones keep NULL."""
    conn.execute("ALTER TABLE press_articles ADD COLUMN signature bytea")
    rows = conn.execute("SELECT outlet_id, time, hash, title, body, summary FROM press_articles"
                        " WHERE time > now() - interval '2 days'").fetchall()
    with conn.cursor() as cur:
        cur.executemany(
            "UPDATE press_articles SET signature = %s WHERE outlet_id = %s AND time = %s AND hash = %s",
            [(signature(title, body or summary), outlet, when, digest)
             for outlet, when, digest, title, body, summary in rows])


PRESS_ARTICLES = TableSpec(
    kind="press.article",
    table="press_articles",
    columns=(
        ("time", "timestamptz"), ("outlet_id", "text"), ("hash", "text"), ("outlet", "text"),
        ("url", "text"), ("guid", "text"), ("title", "text"), ("summary", "text"), ("body", "text"),
        ("author", "text"), ("published", "timestamptz"), ("language", "text"), ("places", "text[]"),
        ("agencies", "text[]"), ("topics", "text[]"), ("tone", "text"), ("tone_score", "float4"),
        ("simulated", "bool"), ("entities", "text[]"), ("signature", "bytea"),
    ),
    key=("outlet_id", "time", "hash"),
    to_row=lambda e: (e.time, e.source_id, e.hash, e.outlet, e.url, e.guid, e.title, e.summary, e.text,
                      e.author, e.published, e.language, e.places, e.agencies, e.topics, e.tone,
                      e.tone_score, e.simulated, e.entities, signature(e.title, e.text or e.summary)),
)
