"""The press page's stories and trends panels on a month of articles against two days of them.

Writes two days of articles (``--per-day`` a day, one in ten a copy of an earlier story by another
outlet) through the feed's table spec, times the two panel queries (median of ``--repeat``), then
writes the 28 days before them and times the same queries again: the panels read a bounded window,
so the month should cost what the two days cost. Also the cost of the signature each article gets
on its way into the store.

    python -m bench.press_panels [--per-day 1500] [--repeat 7] [--timescaledb]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from bench.common import machine, private_store
from ioc.feeds.press.queries import stories, trends
from ioc.feeds.press.records import PressArticle
from ioc.feeds.press.stories import signature
from ioc.store.writer import StoreWriter

WORDS = ("mưa lũ sông Hương phường Phú Hội Vỹ Dạ Kim Long chợ Đông Ba giao thông người dân chính quyền "
         "thành phố tỉnh huyện xã đường cầu trường học bệnh viện du lịch lễ hội kinh tế đầu tư dự án "
         "nông nghiệp ngư dân biển bão nhà máy điện nước cháy sạt lở tai nạn dịch bệnh khiếu nại").split()
TOPICS = ("flood", "landslide", "accident", "fire", "outbreak", "complaint", "service_failure", "traffic")
PLACES = ("Phú Hội", "Vỹ Dạ", "Kim Long", "Đông Ba", "Đại Nội", "A Lưới", "Thuận An")


def articles(rng: random.Random, start: datetime, days: int, per_day: int) -> list[PressArticle]:
    out: list[PressArticle] = []
    step = timedelta(days=1) / per_day
    for i in range(days * per_day):
        when = start + i * step
        if out and i % 10 == 0:
            base = out[rng.randrange(max(0, len(out) - 50), len(out))]
            title, text = base.title, base.text
        else:
            title = " ".join(rng.choices(WORDS, k=10))
            text = " ".join(rng.choices(WORDS, k=80))
        out.append(PressArticle(
            time=when, source_id=f"SIM {i % 12}", outlet=f"SIM Báo {i % 12}", url=f"https://example.org/{i}",
            title=title, text=text, hash=f"{i:016x}", simulated=True,
            topics=rng.sample(TOPICS, k=rng.randint(0, 2)), places=rng.sample(PLACES, k=rng.randint(0, 2))))
    return out


def timed(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-day", type=int, default=1500)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--timescaledb", action="store_true")
    args = ap.parse_args()
    rng = random.Random(14)
    now = datetime(2026, 12, 5, 12, tzinfo=UTC)
    recent = articles(rng, now - timedelta(days=2), 2, args.per_day)
    older = articles(rng, now - timedelta(days=30), 28, args.per_day)
    t0 = time.perf_counter()
    for a in recent[:1000]:
        signature(a.title, a.text)
    sign_ms = (time.perf_counter() - t0) / 1000 * 1000
    with private_store(timescaledb=args.timescaledb) as store:
        writer = StoreWriter(store.pool, store.caps)
        figures = {}
        for label, batch in (("2 days", recent), ("30 days", older)):
            for k in range(0, len(batch), 2000):
                writer.write(batch[k:k + 2000])
            with store.pool.connection() as conn:
                conn.execute("ANALYZE press_articles")
                rows = conn.execute("SELECT count(*) FROM press_articles").fetchone()[0]
            s = timed(lambda: stories(store.pool, now), args.repeat)
            t = timed(lambda: trends(store.pool, now), args.repeat)
            figures[label] = (rows, s, t)
            print(f"{label}: {rows} articles stored; stories {s * 1000:.1f} ms, trends {t * 1000:.1f} ms")
        (_, s2, t2), (_, s30, t30) = figures["2 days"], figures["30 days"]
        print(f"month / two days: stories {s30 / s2:.2f}x, trends {t30 / t2:.2f}x; "
              f"signature {sign_ms:.2f} ms an article; timescaledb={store.caps.timescaledb}")
    print(machine())


if __name__ == "__main__":
    main()
