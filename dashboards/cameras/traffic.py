"""A camera's traffic figures in its large view: the newest minute of its counting lines and lanes.

Read by :func:`ioc.feeds.cameras.traffic_queries.latest_traffic` (what the camera worker measured
and the sink stored); every text through the ``dashboards`` catalogue (Vietnamese and English).
Line, direction and lane names are the city's own, from its camera settings.
"""

from __future__ import annotations

from dash import html

from dashboards.cameras.model import label_colour, label_name, label_sort_key
from dashboards.formats import Formats
from dashboards.i18n import t
from ioc.feeds.cameras.traffic_queries import CameraTraffic


def _chip(label: str, n: int, f: Formats) -> html.Span:
    return html.Span([html.Span("", className="cam-swatch", style={"background": label_colour(label)}),
                      html.Span(label_name(label, f.lang), className="cam-count-label"),
                      html.B(f.number(n), className="cam-count-value")],
                     className="cam-count cam-count-small", **{"data-label": label, "data-count": str(n)})


def traffic_block(traffic: CameraTraffic, f: Formats) -> html.Div:
    """Counts across each line by direction and class, then each lane's occupancy, queue and speed."""
    lang = f.lang
    if traffic.counts_minute is None and traffic.lanes_minute is None:
        return html.Div(html.Span(t("no counting line or lane measured in the last 15 minutes", lang),
                                  className="cam-none"), className="cam-traffic")
    parts: list[html.Div] = []
    if traffic.counts_minute is not None:
        when = f.time(traffic.counts_minute, seconds=False)
        parts.append(html.Div(t("Crossed the lines in the minute {time}", lang, time=when),
                              className="cam-counts-title"))
        by_line: dict[tuple[str, str], list[tuple[str, int]]] = {}
        for row in traffic.counts:
            by_line.setdefault((row.line, row.direction), []).append((row.label, row.count))
        for (line, direction), per in by_line.items():
            chips = [_chip(lbl, n, f) for lbl, n in sorted(per, key=lambda p: label_sort_key(p[0]))]
            parts.append(html.Div([html.Span(f"{line} → {direction}", className="cam-zone-name"), *chips],
                                  className="cam-zone cam-traffic-line",
                                  **{"data-line": line, "data-direction": direction}))
    if traffic.lanes_minute is not None:
        when = f.time(traffic.lanes_minute, seconds=False)
        parts.append(html.Div(t("Lanes in the minute {time}", lang, time=when), className="cam-counts-title"))
        for lane in traffic.lanes:
            speed = ("—" if lane.speed_px_s is None
                     else t("{speed} px/s", lang, speed=f.number(lane.speed_px_s)))
            text = t("{occupancy} occupied · queue {mean} (at most {most}) · speed {speed}", lang,
                     occupancy=f.percent(lane.occupancy, 0), mean=f.fixed(lane.queue_mean, 1),
                     most=f.number(lane.queue_max),
                     speed=speed)
            parts.append(html.Div([html.Span(lane.lane, className="cam-zone-name"),
                                   html.Span(text, className="cam-fact")],
                                  className="cam-zone cam-traffic-lane", **{"data-lane": lane.lane}))
    return html.Div(parts, className="cam-traffic")
