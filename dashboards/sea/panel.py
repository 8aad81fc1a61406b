"""The side panel and header contents: vessels in alert, counts by state, the selected vessel, the legend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from dash import html

from dashboards import components as c
from dashboards.feed_titles import rule_title
from dashboards.formats import Formats
from dashboards.i18n import t
from dashboards.sea.style import (
    ALERT_LIST_ROWS,
    NAV_STATUS,
    STALE_AFTER,
    STATE_LABELS,
    STATE_SHORT,
    STATES,
    ZONE_STYLES,
    ship_type_label,
)
from dashboards.sea.vessels import VesselRow, fmt_course, fmt_position, fmt_speed
from ioc.store import vessel_queries as vq


def _sim_badge(v: vq.VesselNow, lang: str = "en") -> list[Any]:
    badge = html.Span("SIM", className="sea-badge-sim", title=t("SIMULATED vessel", lang))
    return [badge] if v.simulated else []


def alert_items(rows: Sequence[VesselRow], limit: int = ALERT_LIST_ROWS, lang: str = "en") -> list[Any]:
    """The vessels in alert, worst first: clickable rows (severity, name, what)."""
    flagged = sorted((r for r in rows if r.vessel.in_alert),
                     key=lambda r: (c.severity_rank(r.vessel.alert_severity or ""), r.vessel.label))
    items: list[Any] = []
    for r in flagged[:limit]:
        v = r.vessel
        sev = v.alert_severity or "info"
        what = " · ".join(rule_title(d, lang) for d in v.alert_detectors)
        items.append(html.Button(
            [
                html.Span(c.severity_short(sev, lang), className=f"sea-sev sea-sev-{sev}"),
                html.Span([html.Span(v.label, className="sea-item-name"), *_sim_badge(v, lang),
                           html.Span(what, className="sea-item-what")], className="sea-item-body"),
                html.Span(f"×{v.alerts_open}" if v.alerts_open > 1 else "", className="sea-item-count"),
            ],
            id={"type": "sea-item", "mmsi": str(v.mmsi)},
            className=f"sea-alert-item sea-item-{sev}",
            title=v.alert_title_in(lang),
            n_clicks=0,
            **{"data-mmsi": str(v.mmsi)},
        ))
    if len(flagged) > limit:
        rest = len(flagged) - limit
        more = t.plural("+ {n} more vessel", "+ {n} more vessels", rest, lang)
        items.append(html.Div(more, className="sea-more"))
    if not items:
        items = [html.Div(t("No vessel in alert", lang), className="sea-none")]
    return items


def counts_children(rows: Sequence[VesselRow], lang: str = "en") -> list[Any]:
    """The header's counts: vessels shown, by state, in alert, simulated."""
    by_state = {s: 0 for s in STATES}
    for r in rows:
        by_state[r.state] += 1
    flagged = sum(1 for r in rows if r.vessel.in_alert)
    parts: list[Any] = [html.Span([html.B(c.fmt_int(len(rows), lang), className="sea-count-vessels"),
                                   " " + t("vessels", lang)],
                                  className="sea-count-total")]
    for s in STATES:
        label = f"{by_state[s]} {t(STATE_SHORT[s], lang)}"
        parts.append(html.Span([html.I(className=f"sea-key sea-key-{s}"), label],
                               className="sea-count", title=t(STATE_LABELS[s], lang)))
    parts.append(html.Span(t("{n} in alert", lang, n=flagged),
                           className="sea-count sea-count-alert" + (" hot" if flagged else "")))
    return parts


def simulated_note(rows: Sequence[VesselRow], lang: str = "en") -> str:
    """Over the map: how many of the vessels drawn are simulated ("" when none)."""
    sims = sum(1 for r in rows if r.vessel.simulated)
    if not sims:
        return ""
    note = (t("All vessels SIMULATED", lang) if sims == len(rows)
            else t("{n} of {total} vessels SIMULATED", lang, n=sims, total=len(rows)))
    return note + t(" (names SIM …): not real boats", lang)


def details_children(d: vq.VesselDetails, tz: ZoneInfo, hours: int, lang: str = "en") -> list[Any]:
    """The selected vessel's panel: who, where, how fast, since when, which alerts."""
    v = d.vessel
    f = Formats(lang, str(tz))
    size = "—"
    if v.length_m is not None:
        size = f"{f.number(v.length_m, 1)} m"
        if v.beam_m is not None:
            size += f" × {f.number(v.beam_m, 1)} m"
    status = t(NAV_STATUS[v.nav_status], lang) if v.nav_status in NAV_STATUS else "—"
    seen = d.as_of - v.time
    facts = [
        ("MMSI", str(v.mmsi)), ("Call sign", v.callsign or "—"), ("Type", ship_type_label(v.ship_type, lang)),
        ("Size", size), ("Speed", fmt_speed(v.sog, f)), ("Course", fmt_course(v)),
        ("Status", status), ("Destination", (v.destination or "—").strip() or "—"),
        ("Last seen", f"{f.ago(seen)} ({f.time(v.time, seconds=False)})"),
        ("Position", fmt_position(v.lat, v.lon, f)),
    ]  # keys: message ids, shown in ``lang``
    alerts: list[Any] = []
    for a in d.alerts:
        when = (t("since {time}", lang, time=f.time(a.started_at, seconds=False)) if a.active
                else t("resolved {time}", lang, time=f.time(a.resolved_at or a.last_seen, seconds=False)))
        title = a.title_in(lang)
        alerts.append(html.Div(
            [html.Span(c.severity_short(a.severity, lang), className=f"sea-sev sea-sev-{a.severity}"),
             html.Span([html.Span(rule_title(a.detector, lang), className="sea-da-what"),
                        html.Span(f"{t(a.state, lang)} · {when}", className="sea-da-when"),
                        html.Span(title, className="sea-da-title")], className="sea-da-body")],
            className="sea-detail-alert" + ("" if a.active else " resolved"), title=title,
        ))
    stale = seen > STALE_AFTER
    track_note = t("{n} positions in the last {hours} h", lang, n=f.number(len(d.track)), hours=hours)
    if d.track_truncated:
        track_note += t(" (the newest shown)", lang)
    return [
        html.Div(
            [html.Span(v.label, className="sea-details-name"),
             *([html.Span(t("SIMULATED", lang), className="sea-badge-sim big")] if v.simulated else [])],
            className="sea-details-head", **{"data-mmsi": str(v.mmsi)},
        ),
        html.Div([html.Div([html.Span(t(k, lang), className="sea-fact-k"),
                            html.Span(val, className="sea-fact-v" + (" stale" if k == "Last seen" and stale
                                                                      else ""))],
                           className="sea-fact" + (" wide" if k == "Position" else ""))
                  for k, val in facts], className="sea-facts"),
        html.Div(track_note, className="sea-details-track"),
        html.Div(alerts or [html.Div(t("No alert in the last 24 h", lang), className="sea-none")],
                 className="sea-details-alerts"),
    ]


def _legend(lang: str = "en") -> html.Div:
    def item(key: str, label: str) -> html.Div:
        return html.Div([html.I(className=key), label], className="sea-legend-item")

    vessels = [item(f"sea-key sea-key-{s}", t(STATE_LABELS[s], lang)) for s in STATES]
    rings = [html.I(className="sea-key sea-key-alert"), html.I(className="sea-key sea-key-alert warn")]
    vessels += [html.Div([*rings, t("alert: critical, warning", lang)], className="sea-legend-item"),
                item("sea-key sea-key-track", t("track (selected: white)", lang))]
    zones = [item(f"sea-swatch sea-zone-{k}", t(st.label, lang)) for k, st in ZONE_STYLES.items()]
    return html.Div([html.Div(vessels, className="sea-legend-col"),
                     html.Div(zones, className="sea-legend-col")], className="sea-legend")
