"""Press intake under stress: workers racing on underthesea's first use, articles that fail for a
reason of ours tried again instead of lost behind ``304 Not Modified``, and hostile entry links
that must not make the server fetch pages from other hosts (server-side request forgery).

Real HTTP servers on 127.0.0.1 (and 127.0.0.2, another host on the loopback), real underthesea in
fresh interpreters so that its models are not loaded yet when the threads race."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import ValidationError

from ingest.press.feeds import Seen
from ingest.press.poller import FeedPoller
from ingest.press.text import Matcher
from ingest.press.worker import Outlet, PressFeedOptions, PressWorker
from ioc.bus.memory import MemoryBus
from ioc.events import decode
from ioc.feeds.press.settings import PressOptions
from tests.waiting import HANG_GUARD_S, wait_for

ROOT = Path(__file__).parents[1]
NOW = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)
SECRET = "SECRET-INTERNAL-PAGE"
STORY = ("Lũ lụt ở phường Phú Hội: nước ngập sâu nửa mét trên đường Bến Nghé, người dân "
         "được sơ tán. Ông Nguyễn Văn Nam cho biết nhiều nhà bị ngập. Bài số {n}.")
PAGE = ("<html><head><title>Chợ Đông Ba</title></head><body><nav><a href='/'>Trang chủ</a></nav>"
        "<article><h1>Chợ Đông Ba đón khách</h1><p>Tiểu thương chợ Đông Ba vui mừng khi lượng khách "
        "tăng mạnh dịp cuối tuần, nhiều quầy hàng bán hết hàng từ trưa.</p></article></body></html>")


def rss(items: list[tuple[str, str, str, str]]) -> bytes:
    """An RSS 2.0 document of (guid, link, title, description) items (the link as written: the
    document is the test's, hostile links included)."""
    parts = ['<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>']
    for guid, link, title, summary in items:
        parts.append(f'<item><guid isPermaLink="false">{guid}</guid><link>{link}</link>'
                     f"<title>{title}</title><description>{summary}</description>"
                     f"<pubDate>{format_datetime(NOW)}</pubDate></item>")
    return ("".join(parts) + "</channel></rss>").encode()


class Site(BaseHTTPRequestHandler):
    """Answers from ``self.server.routes``: path -> (status, headers, body); ETag and 304 on feeds."""

    def do_GET(self) -> None:  # noqa: N802
        self.server.hits.append(self.path)
        status, headers, body = self.server.routes.get(self.path, (404, {}, b"no"))
        etag = '"' + hashlib.blake2b(body, digest_size=8).hexdigest() + '"'
        if status == 200 and self.path.endswith(".xml") and self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(status)
        for name, value in {"Content-Type": "text/html; charset=utf-8", **headers}.items():
            self.send_header(name, value)
        if status == 200 and self.path.endswith(".xml"):
            self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str) -> None:
        super().__init__((host, 0), Site)
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.hits: list[str] = []
        self.base = f"http://{host}:{self.server_port}"


@pytest.fixture
def servers() -> Iterator[tuple[Server, Server, Server]]:
    """The outlet (127.0.0.1), an internal service on another port of the same address, and
    another host (127.0.0.2)."""
    started = [Server("127.0.0.1"), Server("127.0.0.1"), Server("127.0.0.2")]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in started]
    for thread in threads:
        thread.start()
    yield started[0], started[1], started[2]
    for server in started:
        server.shutdown()
        server.server_close()
    for thread in threads:
        thread.join(timeout=HANG_GUARD_S)


def matcher() -> Matcher:
    return Matcher.build(PressOptions.model_validate({
        "places": [{"name": "Phú Hội", "terms": ["phường Phú Hội"]}],
        "topics": [{"name": "flood", "terms": ["lũ lụt", "ngập"]}]}))


def fresh_python(code: str, *args: str) -> dict:
    """Run ``code`` in a new interpreter (underthesea not loaded yet); what it prints as JSON."""
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=HANG_GUARD_S * 3, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


#: threads that start together (a barrier) on underthesea's first use: segmenting and tagging
RACE_MODELS = r"""
import json, sys, threading
from ingest.press.entities import entities
from ingest.press.text import Matcher, understand
from ioc.feeds.press.settings import PressOptions
assert "underthesea" not in sys.modules, "loaded before the race"
matcher = Matcher.build(PressOptions())
start = threading.Barrier(8)
errors, words = [], []
def first_use(i):
    start.wait()
    try:
        if i % 2:
            words.append(len(entities([], "Ông Nguyễn Văn Nam đến phường Phú Hội.", None, "underthesea")))
        else:
            words.append(len(understand("Lũ lụt", "Nước ngập phường Phú Hội.", matcher).words))
    except Exception as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=first_use, args=(i,)) for i in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"errors": errors, "answers": len(words)}))
"""


def test_threads_racing_on_underthesea_first_use_all_get_answers():
    result = fresh_python(RACE_MODELS)
    assert result == {"errors": [], "answers": 8}


#: two press workers, each in its own thread, polling their outlets for the first time together
RACE_WORKERS = r"""
import json, sys, threading
from datetime import UTC, datetime, timedelta
from ingest.press.worker import PressFeedOptions, PressWorker
from ioc.bus.memory import MemoryBus
from ioc.events import decode
assert "underthesea" not in sys.modules, "loaded before the race"
base, now = sys.argv[1], datetime(2026, 12, 5, 1, 0, tzinfo=UTC)
workers = [PressWorker(name, PressFeedOptions.model_validate({
    "outlets": [{"name": name, "url": f"{base}/{name}.xml"}], "fetch_pages": False,
    "topics": [{"name": "flood", "terms": ["lũ lụt"]}]}), MemoryBus().publisher()) for name in sys.argv[2:]]
start = threading.Barrier(len(workers))
first = {}
def first_round(worker):
    start.wait()
    first[worker.feed] = worker.round(now)
threads = [threading.Thread(target=first_round, args=(w,)) for w in workers]
for t in threads:
    t.start()
for t in threads:
    t.join()
for worker in workers:
    worker.round(now + timedelta(seconds=301))  # the next poll: 304, nothing left to try again
print(json.dumps({w.feed: {"first": first[w.feed], "articles": w.articles, "dead": dict(w.rejected),
                           "errors": getattr(w, "article_errors", 0), "etag": w.pollers[0].etag is not None}
                  for w in workers}))
"""


def test_two_workers_racing_on_their_first_articles_lose_none(servers):
    outlet, _, _ = servers
    for name in ("one", "two"):
        outlet.routes[f"/{name}.xml"] = (200, {"Content-Type": "application/rss+xml"}, rss([
            (f"{name}-{n}", f"{outlet.base}/{name}/{n}", f"Lũ lụt ở Phú Hội {n}", STORY.format(n=n))
            for n in range(6)]))
    result = fresh_python(RACE_WORKERS, outlet.base, "one", "two")
    every = {"first": 6, "articles": 6, "dead": {}, "errors": 0, "etag": True}
    assert result == {"one": every, "two": every}
    assert sorted(outlet.hits) == ["/one.xml", "/one.xml", "/two.xml", "/two.xml"]  # no page fetched


class FailsFirst(FeedPoller):
    """A poller whose processing fails (a bug of ours, not the entry's content) on the guids in
    ``failing`` as many times as asked."""

    failing: dict[str, int]

    def article(self, entry, now):  # noqa: ANN001, ANN201
        if self.failing.get(entry.guid, 0) > 0:
            self.failing[entry.guid] -= 1
            raise AttributeError("'NoneType' object has no attribute 'process'")
        return super().article(entry, now)


def failing_poller(url: str, failing: dict[str, int]) -> FailsFirst:
    poller = FailsFirst("one", url, matcher(), Seen(), fetch_pages=False)
    poller.failing = failing
    return poller


def test_an_article_that_failed_for_us_is_fetched_again_at_the_next_poll(servers):
    outlet, _, _ = servers
    outlet.routes["/one.xml"] = (200, {"Content-Type": "application/rss+xml"}, rss([
        (f"one-{n}", f"{outlet.base}/one/{n}", f"Tin {n}", STORY.format(n=n)) for n in range(3)]))
    poller = failing_poller(outlet.base + "/one.xml", {"one-0": 1, "one-2": 1})
    articles, dead = poller.poll(NOW)
    assert [a.guid for a in articles] == ["one-1"] and dead == [] and poller.failures == 0
    assert poller.etag is None and len(poller.last_errors) == 2  # no validator: the next poll gets all
    assert poller.last_errors[0] == ("article failed, tried again at the next poll: "
                                     "AttributeError: 'NoneType' object has no attribute 'process'")
    articles, dead = poller.poll(NOW + timedelta(seconds=300))
    assert sorted(a.guid for a in articles) == ["one-0", "one-2"] and dead == []
    assert poller.etag is not None and poller.attempts == {} and poller.last_errors == []
    assert poller.poll(NOW + timedelta(seconds=600)) == ([], [])  # 304 now
    assert outlet.hits == ["/one.xml"] * 3


def test_an_article_that_keeps_failing_for_us_is_a_dead_letter_after_its_attempts(servers):
    outlet, _, _ = servers
    outlet.routes["/one.xml"] = (200, {"Content-Type": "application/rss+xml"}, rss([
        (f"one-{n}", f"{outlet.base}/one/{n}", f"Tin {n}", STORY.format(n=n)) for n in range(2)]))
    poller = failing_poller(outlet.base + "/one.xml", {"one-0": 10})
    assert [a.guid for a in poller.poll(NOW)[0]] == ["one-1"]
    assert poller.poll(NOW) == ([], []) and poller.attempts == {"one-0": 2}
    articles, dead = poller.poll(NOW)
    assert articles == [] and dead == [("article refused after 3 attempts: AttributeError: "
                                        "'NoneType' object has no attribute 'process'",
                                        f"{outlet.base}/one/0".encode())]
    assert poller.attempts == {} and poller.etag is not None
    assert poller.poll(NOW) == ([], [])  # 304: refused for good, not tried again
    assert poller.failing == {"one-0": 7}


def test_an_entry_gone_from_the_feed_is_no_longer_tried(servers):
    outlet, _, _ = servers
    items = [(f"one-{n}", f"{outlet.base}/one/{n}", f"Tin {n}", STORY.format(n=n)) for n in range(2)]
    outlet.routes["/one.xml"] = (200, {"Content-Type": "application/rss+xml"}, rss(items))
    poller = failing_poller(outlet.base + "/one.xml", {"one-0": 10})
    poller.poll(NOW)
    assert poller.attempts == {"one-0": 1} and poller.etag is None
    outlet.routes["/one.xml"] = (200, {"Content-Type": "application/rss+xml"}, rss(items[1:]))
    assert poller.poll(NOW) == ([], []) and poller.attempts == {} and poller.etag is not None


def test_hostile_links_are_kept_but_their_pages_never_fetched(servers):
    outlet, internal, elsewhere = servers
    for server in (internal, elsewhere):
        server.routes["/secret"] = (200, {}, f"<html><body><article><p>{SECRET}</p></article></body></html>"
                                    .encode())
    outlet.routes["/page"] = (200, {}, PAGE.encode())
    outlet.routes["/moved"] = (302, {"Location": "/page"}, b"")
    outlet.routes["/away"] = (302, {"Location": f"{elsewhere.base}/secret"}, b"")
    outlet.routes["/away-relative"] = (301, {"Location": f"//127.0.0.2:{elsewhere.server_port}/secret"}, b"")
    links = {
        "evil": "//evil.example/a9",
        "internal": f"{internal.base}/secret",  # the feed's address, another port
        "elsewhere": f"{elsewhere.base}/secret",
        "backslash": f"http://127.0.0.2:{elsewhere.server_port}\\@127.0.0.1:{outlet.server_port}/page",
        "userinfo": f"http://127.0.0.1:{outlet.server_port}@127.0.0.2:{elsewhere.server_port}/secret",
        "away": "/away", "away-relative": "/away-relative", "moved": "/moved",
    }
    outlet.routes["/hostile.xml"] = (200, {"Content-Type": "application/rss+xml"}, rss([
        (key, link, f"Tin {key}", f"Tóm tắt {key}: nước ngập phường Phú Hội.")
        for key, link in links.items()]))
    bus = MemoryBus()
    worker = PressWorker("press", PressFeedOptions.model_validate({
        "outlets": [{"name": "SIM Hostile", "url": outlet.base + "/hostile.xml"}],
        "topics": [{"name": "flood", "terms": ["ngập"]}]}), bus.publisher())
    assert worker.round(NOW) == len(links)
    assert internal.hits == [] and elsewhere.hits == []  # nothing reached another host or port
    assert sorted(outlet.hits) == sorted(["/hostile.xml", "/away", "/away-relative", "/moved", "/page"])
    poller = worker.pollers[0]
    assert poller.etag is not None and worker.rejected == {}
    by_guid = {a.guid: a for a in published(bus, len(links))}
    assert by_guid["evil"].url == "http://evil.example/a9"  # kept: the reader sees the outlet's link
    for key in links:
        if key != "moved":
            assert by_guid[key].text == f"Tóm tắt {key}: nước ngập phường Phú Hội.", key  # the summary
            assert by_guid[key].topics == ["flood"] and SECRET not in by_guid[key].text
    assert "Tiểu thương chợ Đông Ba" in by_guid["moved"].text  # a redirect on the feed's host: followed
    details = worker.feed_health().details
    assert details["pages_not_fetched"] == {"link to another host": 5, "redirect to another host": 2}
    assert "127.0.0.2" in details["last_page_not_fetched"] or "evil" in details["last_page_not_fetched"]
    assert worker.health["pages_not_fetched"] == details["pages_not_fetched"]


def published(bus: MemoryBus, count: int) -> list:
    """The ``count`` articles on the bus."""
    sub = bus.subscribe(["ioc.press.articles"], "test")
    msgs: list = []
    wait_for(lambda: msgs.extend(sub.poll(500, 0.1)) or len(msgs) >= count, f"{count} articles on the bus")
    return [decode(m.value) for m in msgs]


def test_article_hosts_open_another_host_and_nothing_more(servers):
    outlet, internal, elsewhere = servers
    elsewhere.routes["/tin/1"] = (200, {}, PAGE.encode())
    elsewhere.routes["/tin/2"] = (302, {"Location": f"{internal.base}/secret"}, b"")
    internal.routes["/secret"] = (200, {}, SECRET.encode())
    outlet.routes["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"}, rss([
        ("1", f"{elsewhere.base}/tin/1", "Chợ Đông Ba", "Tóm tắt 1."),
        ("2", f"{elsewhere.base}/tin/2", "Tin 2", "Tóm tắt 2.")]))
    poller = FeedPoller("SIM", outlet.base + "/feed.xml", matcher(), Seen(),
                        article_hosts=(f"127.0.0.2:{elsewhere.server_port}",))
    articles, dead = poller.poll(NOW)
    assert dead == [] and elsewhere.hits == ["/tin/1", "/tin/2"] and internal.hits == []
    texts = {a.guid: a.text for a in articles}
    assert "Tiểu thương chợ Đông Ba" in texts["1"] and texts["2"] == "Tóm tắt 2."
    assert [kind for kind, _ in poller.last_unfetched] == ["redirect to another host"]


def test_article_hosts_option_is_typed():
    outlet = Outlet.model_validate({"name": "x", "url": "https://rss.example.vn/tin.rss",
                                    "article_hosts": ["Example.VN", "cdn.example.vn:8443", "bÁo.vn"]})
    assert outlet.article_hosts == ["example.vn", "cdn.example.vn:8443", "xn--bo-mia.vn"]
    for bad in ["http://example.vn", "example.vn/tin", "user@example.vn", "example.vn:99999", "", "a b"]:
        with pytest.raises(ValidationError, match="article_hosts"):
            Outlet.model_validate({"name": "x", "url": "https://example.vn/", "article_hosts": [bad]})


def test_a_feed_redirected_to_another_host_is_a_dead_letter_and_never_asked(servers):
    outlet, internal, elsewhere = servers
    feed = rss([("1", f"{outlet.base}/page", "Chợ Đông Ba", "Tóm tắt 1.")])
    internal.routes["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"}, feed)
    outlet.routes["/old.xml"] = (301, {"Location": "/feed.xml"}, b"")  # moved on its own host: followed
    outlet.routes["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"}, feed)
    outlet.routes["/page"] = (200, {}, PAGE.encode())
    outlet.routes["/hijacked.xml"] = (302, {"Location": f"{internal.base}/feed.xml"}, b"")
    moved = FeedPoller("SIM", outlet.base + "/old.xml", matcher(), Seen())
    articles, dead = moved.poll(NOW)
    assert dead == [] and [a.guid for a in articles] == ["1"]
    hijacked = FeedPoller("SIM", outlet.base + "/hijacked.xml", matcher(), Seen())
    articles, dead = hijacked.poll(NOW)
    assert articles == [] and internal.hits == [] and hijacked.failures == 1
    assert len(dead) == 1 and dead[0][0].startswith("feed not fetched: host 127.0.0.1:"), dead
    assert f"redirected from {outlet.base}/hijacked.xml to {internal.base}/feed.xml" in dead[0][0]


@pytest.mark.parametrize(("content_type", "head"), [
    ("text/html", '<meta charset="utf-8">'),  # the charset said in the page only
    ("text/html", '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">'),
    ("text/html; charset=utf-8", '<meta charset="windows-1252">'),  # the header wins over the page
])
def test_an_article_page_is_decoded_as_a_browser_would(servers, content_type, head):
    outlet, _, _ = servers
    outlet.routes["/page"] = (200, {"Content-Type": content_type},
                              PAGE.replace("<head>", f"<head>{head}").encode("utf-8"))
    outlet.routes["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"}, rss([
        ("1", f"{outlet.base}/page", "Chợ Đông Ba", "Tóm tắt 1.")]))
    articles, dead = FeedPoller("SIM", outlet.base + "/feed.xml", matcher(), Seen()).poll(NOW)
    assert dead == [] and len(articles) == 1
    assert "Tiểu thương chợ Đông Ba vui mừng khi lượng khách tăng mạnh" in articles[0].text, articles[0].text


def test_a_feed_hosts_www_twin_serves_its_articles_and_nothing_else_is_added():
    from ingest.press.pages import ArticleHosts

    bare, www = ArticleHosts.of("https://example.vn/rss/tin.rss"), ArticleHosts.of("http://www.example.vn/rss")
    for hosts in (bare, www):
        for url in ("https://www.example.vn/tin/1.html", "http://example.vn/tin/1.html"):
            assert hosts.refusal(url) is None, url
        for url in ("https://cdn.example.vn/a", "https://www.www.example.vn/a", "https://example.vn.evil/a",
                    "https://wwwexample.vn/a", "https://example.vn:8443/a"):
            assert hosts.refusal(url) is not None, url
    address = ArticleHosts.of("http://127.0.0.1:8080/feed.xml")  # an address has no twin
    assert address.refusal("http://www.127.0.0.1/a") is not None
