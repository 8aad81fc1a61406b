"""Press intake against a local HTTP server (127.0.0.1): real RSS parsing, conditional GET,
dedup across feeds, article page fetch, hostile documents turned into dead letters."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from ingest.press.feeds import Seen
from ingest.press.poller import FeedPoller
from ingest.press.text import Matcher
from ioc.feeds.press.settings import PressOptions
from tests.waiting import wait_for

SAMPLE = (Path(__file__).parents[1] / "sample_streams/press/sim_tin_hue.xml").read_bytes()
#: feedparser's own test documents (BSD-2-Clause, see tests/data/feedparser/README.md)
FEEDPARSER = Path(__file__).parent / "data" / "feedparser"


def feedparser_file(name: str) -> bytes:
    return (FEEDPARSER / name).read_bytes()


def feed_in(encoding: str, label: str, title: str) -> bytes:
    """An RSS 2.0 feed of one entry written in ``encoding``, its XML declaration saying ``label``."""
    return (f'<?xml version="1.0" encoding="{label}"?>\n<rss version="2.0"><channel><title>x</title>'
            f"<item><title>{title}</title><link>https://example.org/{label}/1</link>"
            f"<description>{title}</description></item></channel></rss>").encode(encoding)


#: entries with links that are relative, upper case, missing or not http(s)
LINKS = b"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>x</title>
<item><title>relative</title><link>/tin/1</link></item>
<item><title>upper case</title><link>HTTP://Example.org/tin/2</link></item>
<item><title>no link</title><description>x</description></item>
<item><title>mail</title><link>mailto:toasoan@example.org</link></item>
</channel></rss>"""
NOW = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)
BOMB = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]><rss version="2.0"><channel><title>&lol3;</title>'
        b'</channel></rss>')
PAGE = ("<html><head><title>Chợ Đông Ba</title></head><body><nav><a href='/'>Trang chủ</a> "
        "<a href='/ts'>Thời sự</a></nav><article><h1>Chợ Đông Ba đón khách kỷ lục</h1>"
        "<p>Tiểu thương vui mừng khi lượng khách đến chợ Đông Ba tăng mạnh dịp cuối tuần, nhiều quầy hàng "
        "bán hết hàng từ trưa. Ban quản lý chợ cho biết sẽ bố trí thêm lực lượng giữ trật tự.</p>"
        "<p>Du khách chủ yếu mua đặc sản Huế như mè xửng, tôm chua và nón lá làm quà.</p>"
        "<script>document.cookie</script><img src=x onerror=alert(1)></article>"
        "<footer>Bản quyền thuộc về SIM Tin Huế</footer></body></html>").encode()
ROUTES: dict[str, tuple[int, str, bytes]] = {
    "/feed.xml": (200, "application/rss+xml", SAMPLE),
    "/copy.xml": (200, "application/rss+xml", SAMPLE),
    "/bomb.xml": (200, "application/xml", BOMB),
    "/error.xml": (200, "text/html", b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>"),
    "/broken.xml": (200, "application/xml", b"<rss version='2.0'><channel><item><title>x</item>"),
    "/big.xml": (200, "application/xml", b"<rss>" + b" " * 6_000_000 + b"</rss>"),
    "/sim-tin-hue/cho-dong-ba": (200, "text/html; charset=utf-8", PAGE),
    "/bogus.xml": (200, "application/xml", feedparser_file("bozo_bogus_encoding.xml")),
    "/big5.xml": (200, "application/rss+xml", feed_in("big5", "big5", "颱風來襲")),
    "/base/feed.xml": (200, "application/rss+xml", feedparser_file("http_item_link_base_docuri.xml")),
    "/upper.xml": (200, "application/atom+xml", feedparser_file("entry_id_no_normalization_4.xml")),
    "/links.xml": (200, "application/rss+xml", LINKS),
}


class Handler(BaseHTTPRequestHandler):
    hits: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:  # noqa: N802
        self.hits.append((self.path, self.headers.get("If-None-Match")))
        if self.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.end_headers()
            return
        if self.path == "/feed.xml" and self.headers.get("If-None-Match") == '"v1"':
            self.send_response(304)
            self.end_headers()
            return
        status, ctype, body = ROUTES.get(self.path, (404, "text/plain", b"no"))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", '"v1"')
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def options() -> PressOptions:
    return PressOptions.model_validate({
        "places": [{"name": "Phú Hội", "terms": ["phường Phú Hội", "Phu Hoi"]},
                   {"name": "Đông Ba", "terms": ["chợ Đông Ba", "Dong Ba market"]}],
        "topics": [{"name": "flood", "terms": ["lũ lụt", "ngập", "flood"], "department": "PCTT",
                    "hazard": True}],
    })


def poller(base: str, path: str, seen: Seen | None = None) -> FeedPoller:
    return FeedPoller("SIM Tin Huế", base + path, Matcher.build(options()), seen or Seen(), simulated=True)


def test_feed_read_cleaned_matched_and_page_fetched(server):
    # the sample's links point at 127.0.0.1 without a port: route them to the test server
    p = poller(server, "/feed.xml")
    p.session.get = _rebase(p.session.get, server)
    articles, dead = p.poll(NOW)
    assert dead == []
    by_guid = {a.guid: a for a in articles}
    flood = by_guid["sim-tin-hue-001"]
    assert flood.topics == ["flood"] and flood.places == ["Phú Hội"] and flood.tone == "negative"
    assert "alert" not in flood.text and "steal" not in flood.text and "<" not in flood.text
    market = by_guid["sim-tin-hue-002"]
    assert "Tiểu thương vui mừng" in market.text
    assert "cookie" not in market.text and "onerror" not in market.text
    assert "Trang chủ" not in market.text and "Bản quyền" not in market.text  # boilerplate left out
    assert market.places == ["Đông Ba"]


def _rebase(get, base):
    def wrapped(url, **kw):
        return get(url.replace("http://127.0.0.1/", base + "/"), **kw)
    return wrapped


def test_conditional_get_and_dedup_across_feeds(server):
    seen = Seen()
    first = poller(server, "/feed.xml", seen)
    first.fetch_pages = False
    assert len(first.poll(NOW)[0]) == 2
    assert first.etag == '"v1"'
    again, dead = first.poll(NOW)  # the server answers 304 to the ETag
    assert again == [] and dead == []
    assert Handler.hits[-1] == ("/feed.xml", '"v1"')
    copy = poller(server, "/copy.xml", seen)  # another feed carrying the same links and GUIDs
    copy.fetch_pages = False
    assert copy.poll(NOW) == ([], [])


@pytest.mark.parametrize(("path", "reason"), [
    ("/bomb.xml", "EntitiesForbidden"),
    ("/error.xml", "HTML page"),
    ("/broken.xml", "not well-formed"),
    ("/big.xml", "larger than"),
    ("/loop", "redirect loop"),
    ("/missing.xml", "HTTP 404"),
    ("/bogus.xml", "unknown character encoding: bogus"),
])
def test_hostile_feeds_become_dead_letters(server, path, reason):
    p = poller(server, path)
    articles, dead = p.poll(NOW)
    assert articles == [] and len(dead) == 1 and reason in dead[0][0]
    assert p.failures == 1 and p.next_poll is not None and (p.next_poll - NOW).total_seconds() == 600
    p.poll(p.next_poll)
    assert p.failures == 2 and (p.next_poll - NOW).total_seconds() == 600 + 1200  # backoff doubles


def test_worker_from_registry_publishes_articles_and_dead_letters(server):
    from ingest.registry import build_feed_worker
    from ioc.bus.memory import MemoryBus
    from ioc.config import FeedSettings, Settings
    from ioc.events import decode

    feed = FeedSettings(name="press", kind="rss", options={
        "outlets": [{"name": "SIM Tin Huế", "url": server + "/copy.xml", "simulated": True},
                    {"name": "SIM Lỗi", "url": server + "/bomb.xml", "simulated": True}],
        "fetch_pages": False,
        "topics": [{"name": "flood", "terms": ["lũ lụt"]}]})
    bus = MemoryBus()
    worker = build_feed_worker(feed, Settings(), bus.publisher())
    assert worker.round(NOW) == 2
    sub = bus.subscribe(["ioc.press.articles", "ioc.deadletters"], "t")
    msgs: list = []
    wait_for(lambda: msgs.extend(sub.poll(500, 0.1)) or len(msgs) >= 3, "three messages on the bus")
    kinds = sorted(m.topic for m in msgs)
    assert kinds == ["ioc.deadletters", "ioc.press.articles", "ioc.press.articles"]
    flood = [decode(m.value) for m in msgs if m.topic == "ioc.press.articles"]
    assert any(a.topics == ["flood"] and a.simulated for a in flood)
    assert worker.health["dead_letters"] == 1 and worker.health["failing"] == ["SIM Lỗi"]


ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>SIM Atom</title><id>urn:sim</id>
<updated>2026-12-05T01:00:00Z</updated>
<entry><title type="html">Sạt lở ở A Lưới &lt;b onmouseover="x()"&gt;!&lt;/b&gt;</title>
<link href="https://example.org/atom/1"/><id>urn:sim:1</id><updated>2026-12-05T01:00:00Z</updated>
<summary>Mưa lớn gây sạt lở.</summary></entry></feed>""".encode()
RDF = """<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel rdf:about="https://example.org/"><title>SIM RDF</title><link>https://example.org/</link>
<description>x</description></channel>
<item rdf:about="https://example.org/rdf/1"><title>Cháy ở chợ Đông Ba</title>
<link>https://example.org/rdf/1</link><description>Hỏa hoạn.</description></item></rdf:RDF>""".encode()


def test_atom_and_rdf_parse_to_plain_entries():
    from ingest.press.feeds import parse_feed

    [atom] = parse_feed(ATOM)
    assert atom.url == "https://example.org/atom/1" and atom.title == "Sạt lở ở A Lưới !"
    assert atom.published == datetime(2026, 12, 5, 1, 0, tzinfo=UTC)
    [rdf] = parse_feed(RDF)
    assert rdf.title == "Cháy ở chợ Đông Ba" and rdf.summary == "Hỏa hoạn."


def test_a_wrong_declared_encoding_is_a_dead_letter_reason_not_a_crash():
    from ingest.press.feeds import FeedRefused, parse_feed

    ascii_declared = ATOM.replace(b'encoding="utf-8"', b'encoding="us-ascii"')  # says ASCII, carries UTF-8
    with pytest.raises(FeedRefused, match="not well-formed XML"):
        parse_feed(ascii_declared)


def test_the_simulated_outlet_serves_the_sample_with_etags():
    from ingest.press.simulated import serve

    httpd = serve(0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        p = poller(f"http://127.0.0.1:{httpd.server_port}", "/samples/sim_tin_hue.xml")
        p.fetch_pages = False
        articles, dead = p.poll(NOW)
        assert dead == [] and len(articles) == 2 and all(a.simulated for a in articles)
        assert p.poll(NOW) == ([], [])  # 304: nothing new
        assert poller(f"http://127.0.0.1:{httpd.server_port}", "/../pyproject.toml").poll(NOW)[1]
        assert poller(f"http://127.0.0.1:{httpd.server_port}", "/samples/../../pyproject.toml").poll(NOW)[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize("name", ["big5.xml", "euc-kr.xml", "http_application_atom_xml_gb2312_encoding.xml",
                                  "utf16.xml", "utf-16le-bom.xml"])
def test_feedparsers_multibyte_documents_are_read_as_utf8(name):
    from ingest.press.feeds import check_document, parse_feed

    data = (FEEDPARSER / name).read_bytes()
    body = check_document(data)
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<!--')
    assert parse_feed(data) == []  # empty feeds: read, not refused, and no expat ValueError
    if name == "euc-kr.xml":
        assert "<title>\ub144</title>" in body.decode("utf-8")  # what feedparser expects of it


@pytest.mark.parametrize(("encoding", "label", "title"), [
    ("big5", "big5", "颱風來襲"),
    ("euc-kr", "euc-kr", "서울 홍수"),
    ("gb2312", "gb2312", "台风登陆"),
    ("gbk", "gb2312", "颱风登陸"),  # GBK text labelled GB2312, read as browsers and feedparser do
    ("utf-16", "utf-16", "Lũ lụt ở Huế"),  # byte order mark
    ("utf-16-be", "utf16", "Lũ lụt ở Huế"),  # none: told by its zero bytes; a label expat does not know
    ("utf-32", "utf-32", "Sạt lở ở A Lưới"),
    ("utf-8", "utf8", "Cháy ở chợ Đông Ba"),
])
def test_entries_in_multibyte_encodings_keep_their_text(encoding, label, title):
    from ingest.press.feeds import parse_feed

    [entry] = parse_feed(feed_in(encoding, label, title))
    assert entry.title == title and entry.summary == title and entry.url == f"https://example.org/{label}/1"


@pytest.mark.parametrize(("body", "reason"), [
    (feedparser_file("bozo_bogus_encoding.xml"), "unknown character encoding: bogus"),
    (feed_in("big5", "big5", "颱風").replace("風".encode("big5"), b"\x80"), "not big5 text"),  # no Big5 byte
    (feed_in("utf-8", "base64", "x"), "not base64 text"),  # a codec, but no text encoding
])
def test_an_encoding_that_cannot_be_read_is_refused_with_a_reason(body, reason):
    from ingest.press.feeds import FeedRefused, parse_feed

    with pytest.raises(FeedRefused, match=reason):
        parse_feed(body)


def test_a_big5_feed_is_polled_into_articles(server):
    p = poller(server, "/big5.xml")
    p.fetch_pages = False
    articles, dead = p.poll(NOW)
    assert dead == [] and [a.title for a in articles] == ["颱風來襲"] and p.failures == 0


def test_relative_and_upper_case_links_are_resolved_and_the_rest_counted(server):
    base = poller(server, "/base/feed.xml")  # feedparser's <link>/relative/uri</link>
    base.fetch_pages = False
    [article], dead = base.poll(NOW)
    assert dead == [] and article.url == f"{server}/relative/uri"
    upper = poller(server, "/upper.xml")  # an Atom entry whose id (its link) is HTTP://www.example.org/thing
    upper.fetch_pages = False
    [article], dead = upper.poll(NOW)
    assert dead == [] and article.url == "http://www.example.org/thing"
    links = poller(server, "/links.xml")
    links.fetch_pages = False
    articles, dead = links.poll(NOW)
    assert sorted(a.url for a in articles) == [f"{server}/tin/1", "http://Example.org/tin/2"]
    assert all(a.url.startswith(("http://", "https://")) for a in articles)  # what the press page links
    assert sorted(reason for reason, _ in dead) == ["entry link not http(s): mailto:toasoan@example.org",
                                                    "entry without a link"]
    assert b'"title": "no link"' in dict(dead)["entry without a link"]
    assert links.failures == 0
    assert links.poll(NOW) == ([], [])  # the same entries again: reported once


class BrokenAdapter(requests.adapters.HTTPAdapter):
    """A transport with a bug: an exception no check of the poller names."""

    def send(self, request, **kwargs):  # noqa: ANN001, ANN003
        raise RuntimeError("adapter bug")


def test_an_outlet_that_crashes_fails_alone_and_the_round_goes_on(server, caplog):
    from ingest.registry import build_feed_worker
    from ioc.bus.memory import MemoryBus
    from ioc.config import FeedSettings, Settings

    feed = FeedSettings(name="press", kind="rss", options={
        "outlets": [{"name": "SIM Tin Huế", "url": server + "/copy.xml", "simulated": True}],
        "fetch_pages": False, "topics": [{"name": "flood", "terms": ["lũ lụt"]}]})
    bus = MemoryBus()
    worker = build_feed_worker(feed, Settings(), bus.publisher())
    broken = FeedPoller("SIM Hỏng", server + "/feed.xml", Matcher.build(options()), Seen(), simulated=True)
    broken.session.mount("http://", BrokenAdapter())
    worker.pollers.insert(0, broken)  # first: the outlet after it must still be polled
    with caplog.at_level("WARNING", logger="ingest.press.poller"):
        assert worker.round(NOW) == 2
        assert broken.failures == 1 and (broken.next_poll - NOW).total_seconds() == 600
        assert worker.fetch_errors == 1 and worker.fetch_error == "poll failed: RuntimeError: adapter bug"
        assert worker.health["failing"] == ["SIM Hỏng"] and worker.health["dead_letters"] == 1
        sub = bus.subscribe(["ioc.deadletters"], "t")
        msgs: list = []
        wait_for(lambda: msgs.extend(sub.poll(500, 0.1)) or msgs, "the dead letter on the bus")
        assert json.loads(msgs[0].value)["reason"] == "poll failed: RuntimeError: adapter bug"
        assert worker.round(broken.next_poll) == 0  # polled again after the backoff, failing again
        assert broken.failures == 2 and (broken.next_poll - NOW).total_seconds() == 600 + 1200
    records = [r for r in caplog.records if r.name == "ingest.press.poller"]
    assert [(r.levelname, r.exc_info is not None) for r in records] == [("ERROR", True), ("WARNING", False)]


def test_an_article_that_crashes_fails_alone_and_is_refused_after_its_attempts(server):
    class Crashing(FeedPoller):
        def article(self, entry, now):  # noqa: ANN001, ANN202
            if entry.guid == "sim-tin-hue-001":
                raise KeyError("bug")
            return super().article(entry, now)

    p = Crashing("SIM Tin Huế", server + "/copy.xml", Matcher.build(options()), Seen(), fetch_pages=False)
    articles, dead = p.poll(NOW)
    assert [a.guid for a in articles] == ["sim-tin-hue-002"] and p.failures == 0
    assert dead == [] and p.last_errors == ["article failed, tried again at the next poll: KeyError: 'bug'"]
    assert p.poll(NOW) == ([], [])  # tried again (a bug of ours is no fault of the article's)
    articles, dead = p.poll(NOW)
    assert articles == []
    assert [reason for reason, _ in dead] == ["article refused after 3 attempts: KeyError: 'bug'"]


HUE = "Asia/Ho_Chi_Minh"


@pytest.mark.parametrize(("written", "local"), [
    ("Mon, 08 Dec 2026 09:15:00 +0700", "09:15"),  # RFC 822, as the spec asks
    ("Mon, 08 Dec 2026 09:15:00 GMT+7", "09:15"),  # feedparser: no date at all (the poll's time)
    ("Mon, 08 Dec 2026 09:15:00 GMT+07:00", "09:15"),
    ("Mon, 08 Dec 2026 09:15:00 ICT", "09:15"),  # Indochina Time; feedparser: UTC, 7 h off
    ("Thứ hai, 08/12/2026 - 09:15 (GMT+7)", "09:15"),
    ("2026-12-08 09:15:00", "09:15"),  # no zone: the outlet's local time; feedparser: UTC
    ("08/12/2026 09:15", "09:15"),  # day first, as Vietnamese write it
    ("08/12/2026 09h15", "09:15"),
    ("Mon, 08 Dec 2026 09:15:00", "09:15"),
    ("Mon, 08 Dec 2026 02:15:00 GMT", "09:15"),  # zones feedparser reads right stay its reading
    ("2026-12-08T02:15:00Z", "09:15"),
    ("Sun, 07 Dec 2026 21:15:00 EST", "09:15"),
    ("Mon, 08 Dec 2026 09:15:00 +0700 (ICT)", "09:15"),
])
def test_an_entrys_date_is_read_in_the_zone_it_names_else_in_the_outlets(written: str, local: str) -> None:
    """Vietnamese outlets write GMT+7, ICT or no zone at all: feedparser made those UTC (a story from
    seven hours in the future on the press page) or dropped them (the poll's time instead)."""
    from zoneinfo import ZoneInfo

    from ingest.press.feeds import parse_feed, read_feed

    body = (f'<rss version="2.0"><channel><title>t</title><item><title>Lũ ở Phú Hội</title>'
            f"<link>https://example.org/a</link><pubDate>{written}</pubDate></item></channel></rss>").encode()
    [entry] = read_feed(body, local=ZoneInfo(HUE)).entries
    assert entry.published is not None and entry.published.tzinfo is not None
    assert entry.published.astimezone(ZoneInfo(HUE)).strftime("%Y-%m-%d %H:%M") == f"2026-12-08 {local}"
    if written.endswith(("+0700", "GMT", "Z", "EST")):  # what names its zone does not depend on ours
        [same] = parse_feed(body)
        assert same.published == entry.published


@pytest.mark.parametrize("written", ["garbage", "31/02/2026 10:00", "Mon, 08 Dec 2026 09:15:00 GMT+99", "",
                                     "31/12/9999 23:59 GMT-12"])  # past the end of UTC's range
def test_a_date_no_one_can_read_is_no_date(written: str) -> None:
    from zoneinfo import ZoneInfo

    from ingest.press.feeds import read_feed

    body = (f'<rss version="2.0"><channel><title>t</title><item><title>x</title>'
            f"<link>https://example.org/a</link><pubDate>{written}</pubDate></item></channel></rss>").encode()
    [entry] = read_feed(body, local=ZoneInfo(HUE)).entries
    assert entry.published is None  # the poller then takes the time it read the entry
    early = body.replace(written.encode(), b"0001-01-01 00:30") if written else body
    read_feed(early, local=ZoneInfo(HUE))  # before UTC's range in Huế's time: read, never raised
