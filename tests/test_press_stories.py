"""Stories and trends of the press page in real PostgreSQL: articles written through the feed's own
table spec (its signature computed on the way in), grouped into stories like the rules group them,
growth per hour, trending topics and places against their baseline, the migration's backfill."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from detectors.press.stories import StoryGrouper
from ingest.press.feeds import content_hash
from ioc.feeds.press.queries import stories, trends
from ioc.feeds.press.records import PressArticle
from ioc.feeds.press.schema import add_signatures
from ioc.feeds.press.stories import signature
from ioc.store.database import Store
from ioc.store.writer import StoreWriter

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
FLOOD = ("Lũ lụt gây ngập sâu nhiều tuyến đường ở phường Phú Hội",
         "Mưa lớn kéo dài từ đêm qua khiến nước sông Hương dâng cao, nhiều tuyến đường ở phường Phú Hội "
         "bị ngập sâu, người dân phải di chuyển tài sản lên cao, chính quyền sơ tán các hộ dân")
MARKET = ("Chợ Đông Ba đón khách kỷ lục",
          "Tiểu thương chợ Đông Ba vui mừng khi lượng khách du lịch tăng mạnh dịp cuối tuần qua")
LANDSLIDE = ("Sạt lở ở A Lưới, giao thông bị chia cắt",
             "Đất đá từ taluy dương đổ xuống quốc lộ 49 tại huyện A Lưới khiến giao thông bị chia cắt "
             "hoàn toàn")


def article(n: int, outlet: str, when: datetime, title: str, text: str, **kw: object) -> PressArticle:
    return PressArticle(time=when, source_id=outlet, outlet=outlet, url=f"https://example.org/{n}",
                        title=title, text=text, hash=content_hash(title, text), simulated=True,
                        **kw)  # type: ignore[arg-type]


def newsday() -> list[PressArticle]:
    """A flood story carried by three outlets over five hours (one copy edited), a landslide story
    of two outlets an hour ago, a market article alone, and one old copy outside the window."""
    edited = FLOOD[1].replace("chính quyền sơ tán các hộ dân", "chinh quyen so tan cac ho dan")
    return [
        article(1, "SIM Tin Huế", NOW - timedelta(hours=5, minutes=30), *FLOOD, places=["Phú Hội"],
                topics=["flood"]),
        article(2, "SIM Báo Sông Hương", NOW - timedelta(hours=2, minutes=10), FLOOD[0], edited,
                places=["Phú Hội"], topics=["flood"]),
        article(3, "SIM Thời sự Huế", NOW - timedelta(minutes=40), *FLOOD, places=["Phú Hội"],
                topics=["flood"]),
        article(4, "SIM Tin Huế", NOW - timedelta(minutes=50), *LANDSLIDE, places=["A Lưới"],
                topics=["landslide"]),
        article(5, "SIM Đài Huế", NOW - timedelta(minutes=20), *LANDSLIDE, places=["A Lưới"],
                topics=["landslide"]),
        article(6, "SIM Tin Huế", NOW - timedelta(hours=3), *MARKET),
        article(7, "SIM Đài Huế", NOW - timedelta(hours=60), *FLOOD, topics=["flood"]),
    ]


def test_stories_group_copies_across_outlets_with_their_growth(store: Store) -> None:
    StoreWriter(store.pool, store.caps).write(newsday())
    found = stories(store.pool, NOW, growth_hours=6, recent_hours=3)
    assert [(s.title, s.articles) for s in found] == [(LANDSLIDE[0], 2), (FLOOD[0], 3)]
    landslide, flood = found
    assert flood.outlets == ("SIM Tin Huế", "SIM Báo Sông Hương", "SIM Thời sự Huế")
    assert flood.url == "https://example.org/1"  # the headline links the first article
    assert flood.first_seen == NOW - timedelta(hours=5, minutes=30)  # the copy of 60 h ago is outside
    assert flood.hourly == (1, 0, 0, 1, 0, 1) and flood.recent == 2
    assert landslide.hourly == (0, 0, 0, 0, 0, 2) and landslide.recent == 2
    assert landslide.watched == frozenset({"A Lưới", "landslide"}) and landslide.simulated
    # the market article is a story of one: not shown unless asked for
    singles = stories(store.pool, NOW, min_articles=1)
    assert {s.title for s in singles} == {FLOOD[0], LANDSLIDE[0], MARKET[0]}
    # one outlet republishing its own piece three times is not a story spreading: it ranks below the
    # stories carried by two outlets, though it has more articles in the last three hours
    concert = ("Đêm nhạc Trịnh Công Sơn bên bờ sông Hương", "Hàng nghìn khán giả đến nghe những ca khúc "
               "quen thuộc của nhạc sĩ Trịnh Công Sơn trong đêm nhạc tổ chức bên bờ sông Hương")
    StoreWriter(store.pool, store.caps).write([
        article(20 + k, "SIM Tin Huế", NOW - timedelta(minutes=10 + 60 * k), *concert) for k in range(3)])
    ranked = stories(store.pool, NOW, recent_hours=3)
    assert [(s.title, s.recent, s.recent_outlets) for s in ranked] == [
        (LANDSLIDE[0], 2, 2), (FLOOD[0], 2, 2), (concert[0], 3, 1)]
    # an hour earlier the landslide had not been written and each story had one outlet in the last
    # three hours: the concert's two articles then grow faster than the flood's one
    earlier = stories(store.pool, NOW - timedelta(hours=1))
    assert [(s.title, s.articles, s.recent) for s in earlier] == [(concert[0], 2, 2), (FLOOD[0], 2, 1)]


def test_the_store_groups_stories_as_the_rules_do(store: Store) -> None:
    day = newsday()[:6]
    StoreWriter(store.pool, store.caps).write(day)
    grouper = StoryGrouper(threshold=0.5)
    for a in sorted(day, key=lambda a: a.time):
        grouper.add(a.url, a.outlet, a.time, a.title, a.text, a.url)
    by_rules = {frozenset(u for _, _, u in s.articles) for s in grouper.stories.values()}
    by_store = {frozenset(s.urls) for s in stories(store.pool, NOW, min_articles=1)}
    assert by_store == by_rules and len(by_store) == 3


def test_trends_rank_the_last_hour_against_its_baseline(store: Store) -> None:
    batch = []
    # Phú Hội: two articles every hour for two days (steady); flood: one every other hour, then six
    for h in range(1, 48):
        for k in range(2):
            batch.append(article(1000 + 2 * h + k, f"SIM {k}", NOW - timedelta(hours=h, minutes=10 + k),
                                 f"Phường Phú Hội tin số {h} {k}", f"bài {h} {k}", places=["Phú Hội"]))
        if h % 2 == 0:
            batch.append(article(2000 + h, "SIM 2", NOW - timedelta(hours=h, minutes=30),
                                 f"Nước lên tin số {h}", "mưa lớn", topics=["flood"]))
    for m in range(6):
        batch.append(article(3000 + m, "SIM 3", NOW - timedelta(minutes=5 + 8 * m), f"Lũ lụt tin {m}",
                             "ngập sâu", topics=["flood"], places=["Phú Hội"]))
    StoreWriter(store.pool, store.caps).write(batch)
    found = trends(store.pool, NOW, hours=48, baseline_hours=24)
    assert [(x.kind, x.name) for x in found] == [("topic", "flood"), ("place", "Phú Hội")]
    flood, place = found
    assert flood.count == 6 and flood.baseline == 0.5 and flood.z == round((6 - 0.5) / 0.5 ** 0.5, 2)
    assert len(flood.hourly) == 48 and flood.hourly[-3:] == (1, 0, 6)
    assert place.count == 6 and place.baseline == 2.0 and place.hourly[-2] == 2 and place.hourly[0] == 2
    # a shorter window reads only its own hours
    assert len(trends(store.pool, NOW, hours=6, baseline_hours=4)[0].hourly) == 6
    assert trends(store.pool, NOW - timedelta(days=30)) == []


def test_the_migration_signs_the_articles_of_the_last_two_days(store: Store) -> None:
    now = datetime.now(UTC)
    StoreWriter(store.pool, store.caps).write([
        article(1, "SIM A", now - timedelta(hours=1), *FLOOD),
        article(2, "SIM B", now - timedelta(days=5), *MARKET),
        article(3, "SIM C", now - timedelta(hours=2), "", "")])
    with store.pool.connection() as conn:
        conn.execute("ALTER TABLE press_articles DROP COLUMN signature")
        add_signatures(conn, store.caps)
        rows = dict(conn.execute("SELECT url, signature FROM press_articles").fetchall())
    assert rows == {"https://example.org/1": signature(*FLOOD), "https://example.org/2": None,
                    "https://example.org/3": None}
    assert len(rows["https://example.org/1"]) == 256
