"""Press articles in real PostgreSQL: the seam's migration and writer store each article once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ingest.press.feeds import content_hash
from ioc.feeds.press.records import PressArticle
from ioc.store.database import Store
from ioc.store.writer import StoreWriter

T0 = datetime(2026, 12, 5, 0, 0, tzinfo=UTC)


def article(i: int) -> PressArticle:
    title, text = f"Lũ lụt ở phường Phú Hội {i}", "Nước sông Hương dâng cao."
    return PressArticle(time=T0 + timedelta(minutes=i), source_id="SIM Tin Huế", outlet="SIM Tin Huế",
                        url=f"http://127.0.0.1/a/{i}", title=title, text=text, hash=content_hash(title, text),
                        places=["Phú Hội"], topics=["flood"], tone="negative", tone_score=-0.5,
                        simulated=True, entities=["LOC:Phú Hội", "LOC:sông Hương"])


def test_articles_are_stored_once_with_their_matches(plain_store: Store) -> None:
    writer = StoreWriter(plain_store.pool, plain_store.caps)
    batch = [article(i) for i in range(4)]
    writer.write(batch)
    writer.write(batch[:2])  # a redelivered batch
    with plain_store.pool.connection() as conn:
        rows = conn.execute("SELECT title, places, topics, tone, simulated, entities FROM press_articles"
                            " ORDER BY time").fetchall()
    assert len(rows) == 4
    assert rows[0] == ("Lũ lụt ở phường Phú Hội 0", ["Phú Hội"], ["flood"], "negative", True,
                       ["LOC:Phú Hội", "LOC:sông Hương"])
