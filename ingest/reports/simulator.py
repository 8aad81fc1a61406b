"""SIMULATED field reports for the demo: about 60 a day over Huế's wards, with their status changes.

Deterministic from a seed (:class:`DemoSimulator` feeds a running intake for ``ioc demo``). Each
report is routed as the intake routes it; staff acknowledge and resolve it after delays drawn so
that a realistic share misses a deadline (about 1 in 10 for the acknowledgement, 1 in 6 for
resolution), and a few are rejected with a reason.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
import tomllib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ingest.reports.routing import Router
from ioc.events import Event
from ioc.feeds.reports.records import FieldReport, ReportStatusChange
from ioc.feeds.reports.settings import ReportsFeed

SAMPLE = Path(__file__).parent.parent.parent / "sample_streams" / "reports" / "feed.toml"
TEXTS = {"lighting": "Đèn đường không sáng", "waste": "Rác chưa được thu gom", "road": "Ổ gà trên đường",
         "flooding": "Ngập nước, cống tắc", "encroachment": "Lấn chiếm vỉa hè"}
REJECT_REASONS = ("not in the city's remit", "duplicate of an earlier report", "not enough information")


def simulate(cfg: ReportsFeed, start: datetime, days: int, per_day: float = 60, seed: int = 7,
             clusters: Sequence[datetime] = ()) -> list[Event]:
    """Reports and status changes, in event-time order.

    Each time in ``clusters`` starts a cluster: :data:`CLUSTER_SIZE` reports of blocked drains in
    one ward within 40 minutes (a downpour), drawn from a generator of their own so the rest of the
    sample is the same with or without them.
    """
    rnd = random.Random(seed)
    router = Router(cfg)
    codes = list(cfg.categories)
    weights = [5, 4, 3, 1, 2][: len(codes)] + [1] * max(0, len(codes) - 5)
    out: list[Event] = []
    for n in range(int(days * per_day)):
        # daytime-heavy arrivals: Huế time is UTC+7, reports mostly 06:00-22:00 local
        day = n // per_day
        local_hour = rnd.triangular(6, 22, 13)
        t = start + timedelta(days=day, hours=local_hour - 7, minutes=rnd.random())
        code = rnd.choices(codes, weights)[0]
        out += _report(cfg, router, rnd, f"SIM-{t:%y%m%d}-{n:05d}", t, code, rnd.choice(cfg.wards))
    burst = random.Random(seed + 1)
    code = "flooding" if "flooding" in cfg.categories else codes[0]
    for k, at in enumerate(clusters):
        ward = burst.choice(cfg.wards)
        for n in range(CLUSTER_SIZE):
            t = at + timedelta(minutes=40 * n / CLUSTER_SIZE + burst.random())
            out += _report(cfg, router, burst, f"SIM-{t:%y%m%d}-C{k:02d}{n:02d}", t, code, ward)
    return sorted(out, key=lambda e: (e.time, e.kind))


CLUSTER_SIZE = 6  # reports of one cluster (the Huế rules' burst_count is 5)


def _report(cfg: ReportsFeed, router: Router, rnd: random.Random, rid: str, t: datetime, code: str,
            ward: Any) -> list[Event]:
    """One SIMULATED report at ``t`` somewhere in ``ward``, routed, with the status changes staff make."""
    (x0, y0), (x1, y1) = ward.polygon[0], ward.polygon[2]
    lon, lat = rnd.uniform(x0, x1), rnd.uniform(y0, y1)
    route = router.route(code, lat, lon, t)
    out: list[Event] = [
        FieldReport(time=t, source_id=rid, service_code=code, category=cfg.categories[code].name,
                    description=f"SIMULATED: {TEXTS.get(code, code)}", lat=lat, lon=lon,
                    ward=route.ward, client="simulator", department=route.department,
                    assignee_group=route.assignee_group, ack_due=route.ack_due,
                    resolve_due=route.resolve_due),
        ReportStatusChange(time=t, source_id=rid, status="received", actor="client:simulator")]
    cat = cfg.categories[code]
    late_ack = rnd.random() < 0.1
    ack_share = rnd.uniform(1, 3) if late_ack else rnd.uniform(0.1, 0.9)
    ack = t + timedelta(minutes=cat.ack_minutes * ack_share)
    out.append(ReportStatusChange(time=ack, source_id=rid, status="assigned", actor="operator:sim",
                                  department=route.department, assignee_group=route.assignee_group))
    if rnd.random() < 0.04:
        out.append(ReportStatusChange(time=ack + timedelta(minutes=5), source_id=rid, status="rejected",
                                      reason=rnd.choice(REJECT_REASONS), actor="operator:sim"))
        return out
    work = ack + timedelta(minutes=rnd.uniform(5, 60))
    out.append(ReportStatusChange(time=work, source_id=rid, status="in_progress", actor="team:sim"))
    span = (route.resolve_due - t).total_seconds() / 60
    late = rnd.random() < 1 / 6
    done = t + timedelta(minutes=span * (rnd.uniform(1, 2) if late else rnd.uniform(0.2, 0.95)))
    out.append(ReportStatusChange(time=max(done, work + timedelta(minutes=1)), source_id=rid,
                                  status="resolved", actor="team:sim"))
    return out


class DemoSimulator:
    """The demo's SIMULATED reports around a running intake (``worker``: an :class:`Open311Worker`).

    At start, ``days`` of history are put on the bus; what the simulated day holds for later
    (reports and status changes) is published when its time comes; and ``per_hour`` new reports
    (some with a generated photo) are posted to the intake over HTTP with the first client's key,
    like an app would.
    """

    def __init__(self, cfg: ReportsFeed, worker: Any, days: int = 7, per_hour: float = 6,
                 seed: int = 7) -> None:
        self.cfg, self.worker, self.days, self.per_hour = cfg, worker, days, per_hour
        self.rnd = random.Random(seed)
        self.seed = seed
        self.posted = 0
        self.post_errors = 0
        if days > 0:
            worker.live = False  # the runtime waits for the backfill before starting the rules

    def run(self, stop: threading.Event) -> None:
        now = datetime.now(UTC)
        later: list[Event] = []
        if self.days > 0:
            start = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=self.days)
            # a downpour's cluster of blocked drains each afternoon (16:30 Huế time): the burst rule's case
            afternoons = [start + timedelta(days=d, hours=9, minutes=30) for d in range(self.days + 1)]
            history = simulate(self.cfg, start, self.days + 1, seed=self.seed, clusters=afternoons)
            self.worker.publish_records([e for e in history if e.time <= now])
            later = [e for e in history if e.time > now]
            self.worker.live = True
        gap = 3600.0 / self.per_hour if self.per_hour > 0 else None
        next_post = time.monotonic() + (gap or 0)
        while not stop.wait(1.0):
            now = datetime.now(UTC)
            if later and later[0].time <= now:  # the simulated day goes on: reports and changes in time
                due = [e for e in later if e.time <= now]
                later = later[len(due):]
                self.worker.publish_records(due)
            if gap is not None and time.monotonic() >= next_post:
                next_post += gap * self.rnd.uniform(0.5, 1.5)
                self.post_one()

    def post_one(self) -> None:
        """One SIMULATED report posted to the intake's own address."""
        import requests

        if not self.cfg.clients or not self.cfg.wards:
            return
        key = next(iter(self.cfg.clients.values())).api_key
        code = self.rnd.choice(list(self.cfg.categories))
        (x0, y0), (x1, y1) = (ward := self.rnd.choice(self.cfg.wards)).polygon[0], ward.polygon[2]
        form = {"api_key": key, "service_code": code, "lat": f"{self.rnd.uniform(y0, y1):.6f}",
                "long": f"{self.rnd.uniform(x0, x1):.6f}",
                "description": f"SIMULATED: {TEXTS.get(code, code)}"}
        files = [("media", ("photo.jpg", self.photo(), "image/jpeg"))] if self.rnd.random() < 0.6 else None
        port = self.worker.server.server_port
        try:
            answer = requests.post(f"http://127.0.0.1:{port}/requests.json", data=form, files=files,
                                   timeout=30)
            self.posted += answer.status_code == 201
            self.post_errors += answer.status_code != 201
        except requests.RequestException:
            self.post_errors += 1

    def photo(self) -> bytes:
        """A small generated JPEG (a coloured scene with a label), different for each post."""
        import io

        from PIL import Image, ImageDraw

        img = Image.new("RGB", (480, 320), tuple(self.rnd.randrange(40, 200) for _ in range(3)))  # type: ignore
        draw = ImageDraw.Draw(img)
        for _ in range(6):
            x, y = self.rnd.randrange(0, 440), self.rnd.randrange(0, 280)
            draw.rectangle((x, y, x + self.rnd.randrange(20, 120), y + self.rnd.randrange(20, 80)),
                           fill=tuple(self.rnd.randrange(0, 255) for _ in range(3)))  # type: ignore
        draw.text((10, 10), "SIMULATED", fill=(255, 255, 255))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=80)
        return buf.getvalue()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="SIMULATED field reports as JSON lines")
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--config", type=Path, default=SAMPLE)
    a = ap.parse_args(argv)
    cfg = ReportsFeed.model_validate(tomllib.loads(a.config.read_text()))
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=a.days)
    for e in simulate(cfg, start, a.days, seed=a.seed):
        sys.stdout.write(e.model_dump_json() + "\n")


if __name__ == "__main__":
    main()
