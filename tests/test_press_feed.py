"""Press intake against a local HTTP server (127.0.0.1): real RSS parsing, conditional GET,
dedup across feeds, article page fetch, hostile documents turned into dead letters."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ingest.press.feeds import Seen
from ingest.press.poller import FeedPoller
from ingest.press.text import Matcher
from ioc.feeds.press.settings import PressOptions
from tests.waiting import wait_for

SAMPLE = (Path(__file__).parents[1] / "sample_streams/press/sim_tin_hue.xml").read_bytes()
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
