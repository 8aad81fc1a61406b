"""Shared pieces of the pages: palette, number and age formats, KPI tiles, alert rows, station charts.

Pure functions from query results to Dash components or plotly figures;
nothing here touches the store, so reports can reuse the charts.
"""

from __future__ import annotations

import functools
import html as html_text
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from dash import html

from dashboards.formats import Formats
from dashboards.i18n import t
from ioc import i18n
from ioc.feeds.environment.metrics import metric_name
from ioc.feeds.environment.settings import ThresholdRule
from ioc.health import FeedHealth
from ioc.store.queries import AlertRow, LatestValue, RoleHealth, SeriesPoint

ASSETS = Path(__file__).parent / "assets"  # every page's stylesheets and browser callbacks
# what every page loads: the theme, the clock, the banner that says when data is not live, the
# mark of a person's requests (a session idles out without them) and the refreshes' pacing
SHARED_ASSETS: tuple[str, ...] = ("theme.css", "clock.js", "truth.css", "truth.js", "activity.js",
                                  "pacing.js")
#: the same for pages written as plain HTML (press, reports, screens), served from the console's assets
SHARED_TAGS = ('<link rel="stylesheet" href="/console/assets/theme.css">'
               '<link rel="stylesheet" href="/console/assets/truth.css">'
               '<script src="/console/assets/truth.js" defer></script>'
               '<script src="/console/assets/activity.js" defer></script>')


def assets_only(*names: str) -> str:
    """A Dash ``assets_ignore`` pattern that leaves a page the shared assets and its own ``names``."""
    return r"^(?!(" + "|".join(re.escape(n) for n in (*SHARED_ASSETS, *names)) + r")$)"


@functools.cache
def titled_dash() -> type:
    """``dash.Dash`` whose browser-tab title is said in each request's language: give it
    ``ioc_title=(head, settings)`` (``head`` a ``dashboards`` catalogue message; the city follows)."""
    import dash

    from dashboards.i18n import page_language, t

    class TitledDash(dash.Dash):
        def __init__(self, *args: Any, ioc_title: tuple[str, Any] | None = None, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.ioc_title = ioc_title

        def interpolate_index(self, **kwargs: Any) -> str:
            if self.ioc_title is not None:
                head, settings = self.ioc_title
                kwargs["title"] = f"{t(head, page_language(settings))} · {settings.city}"
            return super().interpolate_index(**kwargs)

    return TitledDash


def page_app(server: Any, prefix: str, title: str, *assets: str, settings: Any = None) -> Any:
    """A page's Dash app mounted on the wall's Flask ``server`` under ``prefix``, with the shared
    assets and its own ``assets`` only, served from this machine (a control room may have no internet).
    With ``settings``, ``title`` is the page's name as a catalogue message, shown in the reader's
    language with the city's name."""
    shown = f"{title} · {settings.city}" if settings is not None else title
    return titled_dash()(__name__, server=server, url_base_pathname=prefix, title=shown, update_title=None,
                         assets_folder=str(ASSETS), assets_ignore=assets_only(*assets), serve_locally=True,
                         ioc_title=(title, settings) if settings is not None else None)


def clock_config(tz: str, stale_ms: int | None = None, parts: Sequence[str] = ("time",), link_class: str = "",
                 stale_class: str = "stale", **extra: Any) -> dict[str, Any]:
    """What the shared clock (``assets/clock.js``) of a page needs: the city's zone, when the page
    counts as not updated, which outputs it fills (``time``, ``date``, ``status``, ``class``)."""
    cfg: dict[str, Any] = {"tz": tz, "parts": list(parts), "linkClass": link_class, "staleClass": stale_class,
                           **extra}
    if stale_ms is not None:
        cfg["staleMs"] = stale_ms
    return cfg


# A dark palette with enough contrast for a wall seen from across a room at night.
BG = "#0a0e14"
PANEL = "#121923"
GRID = "#253041"
TEXT = "#eef2f7"
MUTED = "#9aa8ba"
LINE = "#5cc8ff"
SEVERITY_COLOURS: dict[str, str] = {"critical": "#ff5a5f", "warning": "#ffb020", "info": "#59a8ff"}
SEVERITY_SHORT: dict[str, str] = {"critical": "CRIT", "warning": "WARN", "info": "INFO"}
STATE_LABELS: dict[str, str] = {"open": "OPEN", "acknowledged": "ACK", "resolved": "RESOLVED"}
ALERT_STATE_LABELS: dict[str, str] = {"open": "OPEN", "reopened": "REOPENED", "acknowledged": "ACK",
                                      "assigned": "ASSIGNED", "silenced": "SILENCED", "resolved": "RESOLVED"}
FONT = "Inter, Roboto, 'DejaVu Sans', 'Liberation Sans', Arial, sans-serif"

LABEL_CHARS = 13  # what fits beside a chart strip at the wall's type size


# The order metrics are stacked in a station's panel: what floods or chokes the city first.
METRIC_ORDER: tuple[str, ...] = (
    "water_level", "rain", "rainfall", "aqi", "pm25", "pm2_5", "pm10", "pm1", "no2", "o3", "so2", "co",
    "co2", "temperature", "temp", "humidity", "rh", "pressure", "wind_speed",
)


def severity_short(severity: str, lang: str = "en") -> str:
    """``CRIT``, ``WARN``, ``INFO`` in ``lang`` (``NGHIÊM``...); unknown ones cut to four letters."""
    short = SEVERITY_SHORT.get(severity)
    return t(short, lang) if short else severity[:4].upper()


def state_label(state: str, lang: str = "en") -> str:
    """An alert state as badges say it (``OPEN``, ``ACK``...) in ``lang``."""
    return t(ALERT_STATE_LABELS.get(state, state.upper()), lang)


def severity_rank(severity: str) -> int:
    """0 for the most severe; unknown severities last."""
    return {"critical": 0, "warning": 1, "info": 2}.get(severity, 3)


def metric_sort_key(metric: str) -> tuple[int, str]:
    """Known metrics in :data:`METRIC_ORDER`, then the rest alphabetically."""
    try:
        return METRIC_ORDER.index(metric), metric
    except ValueError:
        return len(METRIC_ORDER), metric


def place(name: str, area: str | None) -> str:
    """``name · area``, without repeating an area that the name already says."""
    if not area or area.casefold() in name.casefold():
        return name
    return f"{name} · {area}"


def plot_text(value: str, limit: int | None = None) -> str:
    """Outside text (a department from a CSV, a category from an IDS) as a plotly label: plotly reads
    ``<a href>``, ``<span style>`` and ``<br>`` in labels, legends and hover texts as markup, so the
    text is escaped, and cut to ``limit`` characters with an ellipsis where a label has little room."""
    if limit is not None and len(value) > limit:
        value = value[: limit - 1].rstrip() + "…"
    return html_text.escape(value, quote=False)


def metric_label(metric: str, lang: str = "en") -> str:
    """A short readable name for a metric id (``pm25`` -> ``PM2.5``, ``humidity`` -> ``Độ ẩm`` in
    Vietnamese), at most :data:`LABEL_CHARS` long; a metric the catalogue does not know keeps its id's
    words."""
    label = metric_name(metric, lang)
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def fmt_int(n: int, lang: str = "en") -> str:
    """``10234567`` -> ``10,234,567`` (``10.234.567`` in Vietnamese)."""
    return Formats(lang, "UTC").number(n)


def fmt_value(value: float, lang: str = "en") -> str:
    """A measured value with as many decimals as its size deserves."""
    return Formats(lang, "UTC").value(value)


def fmt_age(delta: timedelta, lang: str = "en") -> str:
    """A short age for a wall: ``now``, ``45 s``, ``12 min``, ``3 h 05``, ``2 d``."""
    return Formats(lang, "UTC").age(delta)


def ago(delta: timedelta, lang: str = "en") -> str:
    """``just now`` or ``12 min ago``."""
    return Formats(lang, "UTC").ago(delta)


def local_time(t: datetime | None, tz: ZoneInfo, seconds: bool = True, lang: str = "en") -> str:
    """``t`` as a wall-clock time in the city's time zone."""
    return Formats(lang, str(tz)).time(t, seconds)


# --------------------------------------------------------------------------- tiles


def tile_children(label: str, value: str, sub: str = "", extra: object = None) -> list[object]:
    """What goes inside a KPI tile: a label, one big value, an optional line below."""
    children: list[object] = [
        html.Div(label, className="tile-label"),
        html.Div(value, className="tile-value"),
    ]
    if extra is not None:
        children.append(extra)
    children.append(html.Div(sub, className="tile-sub"))
    return children


def tile(tile_id: str, label: str) -> html.Div:
    """An empty KPI tile, filled in by the refresh callback."""
    return html.Div(tile_children(label, "—"), id=tile_id, className="tile")


def severity_chips(counts: dict[str, int], lang: str = "en") -> html.Div:
    """Colour-coded counts of open alerts (``2 CRIT 1 WARN 0 INFO``); zero counts are dimmed."""
    return html.Div(
        [
            html.Span(
                [html.B(fmt_int(n, lang)), f" {severity_short(sev, lang)}"],
                className=f"chip sev-{sev}" + ("" if n else " zero"),
                **{"data-severity": sev},
            )
            for sev, n in counts.items()
        ],
        className="chips",
    )


# --------------------------------------------------------------------------- alerts


def alert_row(alert: AlertRow, now: datetime, station_name: str | None = None, lang: str = "en") -> html.Div:
    """One line of the alert ticker: severity, title (in ``lang``), where, how long, how often, state."""
    title = alert.title_in(lang)
    f = Formats(lang, "UTC")
    where = place(station_name or alert.source_id, alert.area)
    if alert.resolved and alert.resolved_at is not None:
        when = t("resolved {ago}", lang, ago=f.ago(now - alert.resolved_at))
    else:
        when = t("for {age}", lang, age=f.age(now - alert.started_at))
    state = state_label(alert.state, lang)
    return html.Div(
        [
            html.Div(severity_short(alert.severity, lang), className="alert-sev"),
            html.Div(
                [
                    html.Div(title, className="alert-title", title=title),
                    html.Div(
                        [
                            html.Span(where, className="alert-where"),
                            html.Span(when, className="alert-age"),
                        ],
                        className="alert-meta",
                    ),
                ],
                className="alert-body",
            ),
            html.Div(
                [
                    html.Div(state, className=f"alert-state state-{alert.state}"),
                    html.Div(f"×{f.number(alert.count)}", className="alert-count",
                             title=t("signals seen", lang)),
                ],
                className="alert-side",
            ),
        ],
        className=f"alert-row sev-{alert.severity} state-{alert.state}" + (" resolved" * alert.resolved),
        **{"data-severity": alert.severity, "data-state": alert.state, "data-alert-id": str(alert.id)},
    )


# --------------------------------------------------------------------------- charts


@dataclass(frozen=True)
class MetricPanel:
    """What one metric's strip of a station chart shows."""

    metric: str
    points: Sequence[SeriesPoint]
    latest: LatestValue | None
    thresholds: Sequence[ThresholdRule] = ()

    def breached(self) -> ThresholdRule | None:
        """The most severe threshold the latest value is beyond, if any."""
        if self.latest is None:
            return None
        hits = [
            r for r in self.thresholds
            if (r.above is not None and self.latest.value > r.above)
            or (r.below is not None and self.latest.value < r.below)
        ]
        return min(hits, key=lambda r: severity_rank(r.severity)) if hits else None


def thresholds_for(rules: Sequence[ThresholdRule], station_id: str, metric: str) -> list[ThresholdRule]:
    """The threshold rules that watch ``metric`` at ``station_id``."""
    return [r for r in rules if r.metric == metric and (not r.stations or station_id in r.stations)]


def frame_trace(panel: MetricPanel, x0: datetime, x1: datetime, suffix: str = "") -> dict | None:
    """An invisible trace that makes autorange span the whole time window and the threshold levels.

    The window and the levels reach plotly through data, not through explicit
    axis ranges: a range that the figure itself changes on every refresh would
    override the operator's zoom. With autorange the threshold lines always sit inside their strip, so
    one sees at a glance how far a value is from the level that raises an alert.
    """
    levels = [lvl for r in panel.thresholds for lvl in (r.above, r.below) if lvl is not None]
    if levels:
        ys = [min(levels), max(levels)]
    elif panel.latest is not None:
        ys = [panel.latest.value] * 2
    elif panel.points:
        ys = [panel.points[-1].avg] * 2
    else:
        return None
    return {
        "type": "scatter", "x": [x0.isoformat(), x1.isoformat()], "y": ys, "mode": "markers",
        "marker": {"size": 0, "opacity": 0}, "hoverinfo": "skip", "showlegend": False, "xaxis": "x",
        "yaxis": f"y{suffix}",
    }


def station_figure(
    station_id: str,
    panels: Sequence[MetricPanel],
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    lang: str = "en",
) -> dict:
    """One station's small multiple: a strip per metric over a shared time axis, latest value beside it.

    The figure sets no axis ranges (see :func:`frame_trace`), so an operator's
    zoom can be carried over onto it (the wall does that in the browser; see
    ``dashboards.wall``); ``uirevision`` is the station id. It is built as plain
    JSON-ready dicts: plotly's figure objects validate every property and cost
    ten times more on a refresh of a dozen stations.
    """
    data: list[dict] = []
    layout: dict[str, object] = {
        "uirevision": station_id,
        "paper_bgcolor": PANEL,
        "plot_bgcolor": PANEL,
        "font": {"family": FONT, "color": TEXT, "size": 15},
        "margin": {"l": 150, "r": 44, "t": 8, "b": 26},
        "showlegend": False,
        "hovermode": "x unified",
        "annotations": [],
        "shapes": [],
    }
    x0 = start.astimezone(tz).replace(tzinfo=None)
    x1 = end.astimezone(tz).replace(tzinfo=None)
    if not panels:
        layout["xaxis"] = {"visible": False}
        layout["yaxis"] = {"visible": False}
        layout["annotations"] = [
            {"text": t("no readings yet", lang), "showarrow": False, "x": 0.5, "y": 0.5, "xref": "paper",
             "yref": "paper", "font": {"size": 20, "color": MUTED}}
        ]
        return {"data": data, "layout": layout}
    k = len(panels)
    gap = 0.12 if k > 1 else 0.0
    height = (1.0 - gap * (k - 1)) / k
    for i, panel in enumerate(panels):
        n = i + 1
        suffix = "" if n == 1 else str(n)
        top = min(1.0, round(1.0 - i * (height + gap), 6))
        bottom = max(0.0, round(top - height, 6))
        breached = panel.breached()
        colour = SEVERITY_COLOURS.get(breached.severity, LINE) if breached else LINE
        xs = [p.bucket.astimezone(tz).replace(tzinfo=None).isoformat() for p in panel.points]
        frame = frame_trace(panel, x0, x1, suffix)
        if frame is not None:
            data.append(frame)
        data.append({
            "type": "scattergl" if len(xs) > 2000 else "scatter", "x": xs,
            "y": [p.avg for p in panel.points], "mode": "lines", "xaxis": "x", "yaxis": f"y{suffix}",
            "line": {"color": colour, "width": 2.5}, "connectgaps": False,
            "name": metric_label(panel.metric, lang), "hovertemplate": "%{y:.4g}<extra></extra>",
        })
        layout[f"yaxis{suffix}"] = {
            "domain": [bottom, top], "anchor": "x", "side": "right", "gridcolor": GRID,
            "zeroline": False, "nticks": 3 if k <= 2 else 2, "tickfont": {"size": 14, "color": MUTED},
        }
        latest = panel.latest
        value = "—" if latest is None else fmt_value(latest.value, lang)
        unit = "" if latest is None else html_text.escape(latest.unit)  # plotly reads tags in text
        label = html_text.escape(metric_label(panel.metric, lang))
        middle = (bottom + top) / 2
        common = {"showarrow": False, "xref": "paper", "yref": "paper", "x": 0, "xanchor": "right",
                  "xshift": -12, "y": middle, "align": "right"}
        layout["annotations"].extend(  # type: ignore[union-attr]
            [
                {**common, "text": label, "yanchor": "bottom", "yshift": 2,
                 "font": {"size": 16, "color": MUTED}},
                {**common, "text": f"<b>{value}</b> <span style='font-size:14px'>{unit}</span>",
                 "yanchor": "top", "font": {"size": 24, "color": colour if breached else TEXT}},
            ]
        )
        for rule in panel.thresholds:
            level = rule.above if rule.above is not None else rule.below
            layout["shapes"].append(  # type: ignore[union-attr]
                {
                    "type": "line", "xref": "x domain", "yref": f"y{suffix}", "x0": 0, "x1": 1,
                    "y0": level, "y1": level,
                    "line": {"color": SEVERITY_COLOURS.get(rule.severity, MUTED), "width": 1.5,
                             "dash": "dash"},
                }
            )
    # one time axis for every strip, labelled under the lowest: a zoom on any strip zooms them all
    # (one shared axis, not ``matches``: plotly forgets a zoom on matched axes when the figure changes)
    layout["xaxis"] = {
        "domain": [0, 1], "anchor": f"y{k if k > 1 else ''}", "type": "date", "showgrid": False,
        "tickformat": "%H:%M", "tickfont": {"size": 14, "color": MUTED}, "linecolor": GRID,
    }
    return {"data": data, "layout": layout}


ROLE_LATE_S = 15.0  # a heartbeat older than three intervals: the role is late
ROLE_DOWN_S = 60.0
#: an ingest worker's own state (ioc.health.FeedState): (panel state, the word shown)
FEED_STATES: dict[str, tuple[str, str]] = {
    "live": ("ok", "live"), "catching_up": ("ok", "catching up"),
    "retrying": ("late", "retrying"), "down": ("late", "source down"),
}


def feed_bits(feed: FeedHealth, lang: str) -> list[str]:
    """What an ingest worker's row adds: records sent, dead letters, records waiting for the bus."""
    def n(value: int) -> str:
        return i18n.format_number(value, lang, 0)

    bits = [t("{n} sent", lang, n=n(feed.published))]
    if feed.dead_lettered:
        bits.append(t("{n} dead letters", lang, n=n(feed.dead_lettered)))
    if feed.pending:
        bits.append(t("{n} waiting", lang, n=n(feed.pending)))
    return bits


def system_rows(roles: Sequence[RoleHealth], lang: str = "en") -> list[html.Div]:
    """The system panel: one line per running role with its state, lag and last write."""
    if not roles:
        return [html.Div(t("no role has reported yet", lang), className="sys-none")]
    out = []
    for r in roles:
        if r.stopped:
            state, word = "stopped", "stopped"
        elif r.beat_age_s > ROLE_DOWN_S:
            state, word = "down", f"silent {fmt_age(timedelta(seconds=r.beat_age_s))}"
        elif r.beat_age_s > ROLE_LATE_S or r.waits and r.last_error:
            state, word = "late", "waiting" if r.last_error else "late"
        elif r.feed is not None:
            state, word = FEED_STATES.get(r.feed.state, ("ok", "ok"))
            word = t(word, lang)
        else:
            state, word = "ok", "ok"
        bits = [word, *(feed_bits(r.feed, lang) if r.feed is not None else [])]
        if r.lag:
            bits.append(f"lag {fmt_int(r.lag)}")
        if r.last_write_age_s is not None:
            bits.append(f"wrote {ago(timedelta(seconds=r.last_write_age_s))}")
        if r.errors:
            bits.append(f"{fmt_int(r.errors)} errors")
        out.append(html.Div(
            [html.Span("", className=f"sys-dot sys-{state}"), html.Span(r.role, className="sys-role"),
             html.Span(" · ".join(bits), className="sys-info")],
            className=f"sys-row sys-row-{state}", title=f"{r.instance}\n{r.last_error or ''}".strip(),
            **{"data-state": state},
        ))
    return out
