"""The wall: the page operators watch on the big screen of the night shift.

One screen, no scrolling at 1920x1080: a header (city, page, live clock,
store label, data time), five KPI tiles, one small-multiple chart per
station from the 1-minute rollup, and the alert ticker. Two cheap
server callbacks keep it live without reloading the page: one for the
tiles and the ticker on every tick, one for the charts on every second
tick (never slower than every 5 s). The clock and the "no update"
warning run in the browser.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dash
import psycopg
from dash import ALL, ClientsideFunction, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate
from psycopg_pool import ConnectionPool

from alerts.links import feed_of
from dashboards import auth
from dashboards import components as c
from dashboards.deep_links import query_arg
from dashboards.feed_titles import feed_title
from dashboards.freshness import FEED_PAGES
from dashboards.i18n import clock_texts, page_language, t, when
from dashboards.pacing import pace, paced_interval
from dashboards.registry import navigation_split
from dashboards.shared_reads import SharedReads
from ioc.config import Settings, Station
from ioc.feeds import FEEDS
from ioc.store import queries as q

log = logging.getLogger(__name__)

CHART_WINDOW = timedelta(minutes=90)
ALERT_ROWS = 10  # more than fit: rows that do not fit wrap out of sight, whole
RECENT_DEAD_LETTER = timedelta(minutes=10)  # the dead-letter tile is amber while one is this fresh
STALE_WRITE = timedelta(seconds=60)  # the stored tile is amber when nothing was written this long
SILENT_WRITE = timedelta(minutes=5)  # ...and red after this long
STATION_STALE = timedelta(minutes=5)  # the reporting window of queries.kpis

# no mode bar and no "double-click to zoom out" tip popping up over the clock on a wall
GRAPH_CONFIG = {"displayModeBar": False, "responsive": True, "scrollZoom": False, "doubleClick": "reset",
                "showTips": False}


def chart_interval_ms(refresh_ms: int) -> int:
    """Charts refresh every second tick, but at least every 5 s (or every tick if ticks are slower)."""
    return min(2 * refresh_ms, max(refresh_ms, 5000))


def stale_after_ms(refresh_ms: int) -> int:
    """How long without a successful update before the page says so: three missed ticks and a bit."""
    return max(5000, 3 * refresh_ms + 2000)


def grid_shape(n: int) -> tuple[int, int]:
    """Columns and rows of the station grid for ``n`` panels: panels a little wider than tall."""
    rows = max(1, round(math.sqrt(max(n, 1) / 1.4)))
    return -(-max(n, 1) // rows), rows


@dataclass(frozen=True)
class WallView:
    """What the wall's layout and callbacks share: the store's pool and the city's settings."""

    pool: ConnectionPool
    settings: Settings
    caps_label: str = ""

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    def station_name(self, station_id: str) -> str:
        station = self.settings.station(station_id)
        return station.name if station else station_id

    def stations(self) -> list[Station]:
        """Configured stations first, then any that report without being configured.

        At most ``web.max_station_panels``: more panels would not be readable on one screen
        (the "stations reporting" tile still counts them all).
        """
        stations = list(self.settings.stations)
        known = {s.id for s in stations}
        try:
            seen = sorted({v.station_id for v in q.latest_values(self.pool)} - known)
        except psycopg.Error as exc:
            log.warning("wall: could not list reporting stations: %s", exc)
            seen = []
        stations += [Station(id=s, name=s, lat=0.0, lon=0.0) for s in seen]
        return stations[: self.settings.web.max_station_panels]


# --------------------------------------------------------------------------- layout


def _station_panel(station: Station) -> html.Div:
    key = {"station": station.id}
    return html.Div(
        [
            html.Div(
                [
                    html.Span(station.name, className="station-name", title=station.id),
                    html.Span("" if c.place(station.name, station.area) == station.name else station.area,
                              className="station-area"),
                    html.Span("", id={"type": "station-status", **key}, className="station-status"),
                ],
                className="station-head",
            ),
            dcc.Graph(
                id={"type": "station-graph", **key},
                figure=c.station_figure(station.id, [], datetime.now(UTC) - CHART_WINDOW, datetime.now(UTC),
                                        ZoneInfo("UTC")),
                config=GRAPH_CONFIG,
                className="station-graph",
                style={"height": "100%", "width": "100%"},
            ),
        ],
        id={"type": "station-panel", **key},
        className="station-panel",
        **{"data-station": station.id},
    )


def withheld(alert: q.AlertRow, guard: auth.Auth | None, lang: str) -> q.AlertRow:
    """The alert as this reader may see it on the wall. An alert of a feed whose page needs a login
    (an attack's source address, an account under attack, a citizen's report) reads, to a wall nobody
    logged in to, as its feed and severity only; its title and place are for those who may open it."""
    feed = feed_of(alert.detector, None)
    page = FEED_PAGES.get(feed)
    if page is None or auth.principal() is not None or (guard is not None and not guard.needs_login(page)):
        return alert
    spec = next((f for f in FEEDS if f.name == feed), None)
    name = feed_title(spec.title, lang) if spec is not None else feed
    title = t("{feed}: log in to read this alert", lang, feed=name)
    return replace(alert, title=title, title_template=None, title_params={}, source_id="", area=None)


def _nav(lang: str) -> html.Nav:
    """Links to the other pages: the first few as pills, the rest under a "More" menu."""
    pills, more = navigation_split()
    links = [html.A(t(page.label, lang), href=page.path, className="pill nav-link") for page in pills]
    if more:
        links.append(html.Details(
            [html.Summary(t("More", lang), className="pill nav-link"),
             html.Div([html.A(t(page.label, lang), href=page.path, className="nav-link nav-more-link")
                       for page in more], className="nav-more-list")],
            className="nav-more"))
    return html.Nav(links, className="wall-nav")


def layout(view: WallView) -> html.Div:
    """The wall's layout; built on every page load so stations that appeared since show up."""
    settings = view.settings
    stations = view.stations()
    cols, rows = grid_shape(len(stations))
    refresh = settings.web.refresh_ms
    now_local = datetime.now(view.tz)
    lang = page_language(settings)
    return html.Div(
        [
            html.Header(
                [
                    html.Div(
                        [
                            html.Div(settings.city, className="city"),
                            html.Div(t(settings.web.title, lang), className="page-title"),
                            _nav(lang),
                        ],
                        className="brand",
                    ),
                    html.Div(
                        [
                            html.Span(t("store: {label}", lang, label=view.caps_label or t("unknown", lang)),
                                      id="store-label", className="pill",
                                      title=t("store capability level", lang)),
                            html.Span(t("Data as of —", lang), id="data-asof", className="asof"),
                            html.Span("", id="link-status", className="link-status"),
                        ],
                        className="status",
                    ),
                    html.Div(
                        [
                            html.Div(now_local.strftime("%H:%M:%S"), id="clock", className="clock"),
                            html.Div(when(now_local, lang, settings.timezone, "EEE dd MMM"),
                                     id="clock-date", className="clock-date"),
                        ],
                        className="clock-box",
                    ),
                ],
                className="wall-header",
            ),
            html.Section(
                [
                    c.tile("kpi-stored", t("Readings stored", lang)),
                    c.tile("kpi-rate", t("Readings / min", lang)),
                    c.tile("kpi-stations", t("Stations reporting", lang)),
                    c.tile("kpi-alerts", t("Open alerts", lang)),
                    c.tile("kpi-deadletters", t("Dead letters", lang)),
                ],
                className="kpis",
            ),
            html.Main(
                [
                    html.Section(
                        [_station_panel(s) for s in stations]
                        or [html.Div(t("No stations configured or reporting yet", lang), className="empty")],
                        id="station-charts",
                        className="station-grid",
                        style={
                            "gridTemplateColumns": f"repeat({cols}, minmax(0, 1fr))",
                            "gridTemplateRows": f"repeat({rows}, minmax(0, 1fr))",
                        },
                    ),
                    html.Aside(
                        [
                            html.Div(
                                [html.H2(t("Alerts", lang)),
                                 html.Span("", id="alert-summary", className="alert-summary")],
                                className="alerts-head",
                            ),
                            html.Div([], id="alert-ticker", className="alert-ticker"),
                            html.Div(
                                [html.H2(t("System", lang)),
                                 html.Div([], id="system-panel", className="sys-list")],
                                className="system",
                            ),
                        ],
                        className="alerts",
                    ),
                ],
                className="wall-main",
            ),
            *paced_interval("tick", refresh),
            *paced_interval("chart-tick", chart_interval_ms(refresh)),
            dcc.Interval(id="clock-tick", interval=1000),
            dcc.Store(id="last-update"),
            dcc.Store(id="chart-figures"),  # the charts' new figures, on their way to the graphs
            dcc.Location(id="wall-url", refresh=False),  # ?station=: the station a link points at
            dcc.Store(id="wall-config", data=c.clock_config(settings.timezone, stale_after_ms(refresh),
                                                            ("time", "date", "status", "class"),
                                                            "link-status", **clock_texts(lang))),
        ],
        id="wall",
        className="wall",
    )


# --------------------------------------------------------------------------- callbacks





def _tile_state(base: str, state: str | None) -> str:
    return f"tile {base}" + (f" {state}" if state else "")


def register_callbacks(app: dash.Dash, view: WallView) -> None:
    """Wire the wall's refresh callbacks onto ``app`` (never the global callback list)."""
    settings = view.settings
    tz = view.tz
    shared = SharedReads(settings.web.shared_read_s)

    def read_tiles() -> tuple[Any, ...]:
        k = q.kpis(view.pool)
        alerts = q.recent_alerts(view.pool, limit=ALERT_ROWS, open_first=True)
        dead = q.recent_dead_letters(view.pool, limit=1)
        names = q.source_names(view.pool, [a.source_id for a in alerts])
        return k, alerts, dead, q.role_health(view.pool), names

    def read_charts(ids: list[str]) -> tuple[datetime, list[q.LatestValue], list[q.SeriesPoint]]:
        def read() -> tuple[datetime, list[q.LatestValue], list[q.SeriesPoint]]:
            end = datetime.now(UTC)
            return (end, q.latest_values(view.pool),
                    q.station_series(view.pool, end - CHART_WINDOW, "1m", station_ids=ids))

        return shared.get(("charts", tuple(ids)), read)

    def warm() -> None:
        """Read once what the first screens ask for, as the page mounts: the store's pages and this
        worker's code are then warm when the screens of a room open together."""
        try:
            shared.get("tiles", read_tiles)
            read_charts([s.id for s in view.stations()])  # as the layout lists them
        except Exception as exc:  # noqa: BLE001 - the store not up yet: the first screen reads it
            log.info("wall: not warmed: %s", exc)

    threading.Thread(target=warm, name="wall-warm", daemon=True).start()

    pace(app, "tick", "chart-tick")

    @app.callback(
        Output("kpi-stored", "children"),
        Output("kpi-stored", "className"),
        Output("kpi-rate", "children"),
        Output("kpi-stations", "children"),
        Output("kpi-stations", "className"),
        Output("kpi-alerts", "children"),
        Output("kpi-alerts", "className"),
        Output("kpi-deadletters", "children"),
        Output("kpi-deadletters", "className"),
        Output("alert-ticker", "children"),
        Output("alert-summary", "children"),
        Output("data-asof", "children"),
        Output("last-update", "data"),
        Output("system-panel", "children"),
        Input("tick", "n_intervals"),
    )
    def refresh_tiles(_n: int | None) -> tuple[object, ...]:
        try:
            k, alerts, dead, roles, names = shared.get("tiles", read_tiles)
        except psycopg.Error as exc:
            log.warning("wall: store query failed: %s", exc)
            raise PreventUpdate from None
        now = k.as_of
        lang = page_language(settings)

        # readings stored, with the age of the last write
        if k.last_write is None:
            stored_sub, stored_state = t("nothing written yet", lang), "warn"
        else:
            quiet = now - k.last_write
            stored_sub = t("last write {ago}", lang, ago=c.ago(quiet, lang))
            stored_state = "crit" if quiet > SILENT_WRITE else "warn" if quiet > STALE_WRITE else None

        # stations reporting n / N
        total = max(len(settings.stations), k.stations_known)
        silent = total - k.stations_reporting
        stations_state = None if silent <= 0 else "crit" if k.stations_reporting == 0 else "warn"
        stations_sub = (t("all in the last 5 min", lang) if silent <= 0
                        else t("{n} silent for 5 min or more", lang, n=silent))

        # open alerts, colour of the worst
        alerts_state = "crit" if k.alerts_critical else "warn" if k.alerts_warning else None
        other = k.alerts_open - k.alerts_critical - k.alerts_warning - k.alerts_info
        alerts_sub = (t("nothing open", lang) if not k.alerts_open
                      else t("+ {n} of other severity", lang, n=other) if other else "")

        # dead letters, amber while a new one is fresh
        if dead:
            d = dead[0]
            dead_sub = t("latest {ago}", lang, ago=c.ago(now - d.received_at, lang))
            dead_sub += f" · {d.stage}: {d.reason}"
            dead_state = "warn" if now - d.received_at < RECENT_DEAD_LETTER else None
        else:
            dead_sub, dead_state = t("none", lang), None

        guard = auth.Auth.of(app.server)
        alerts = [withheld(a, guard, lang) for a in alerts]
        rows = [c.alert_row(a, now, names.get(a.source_id) or view.station_name(a.source_id), lang)
                if a.source_id else c.alert_row(a, now, "—", lang) for a in alerts]
        shown_open = sum(1 for a in alerts if not a.resolved)
        if k.alerts_open > shown_open:
            more = t("+ {n} more open", lang, n=k.alerts_open - shown_open)
            rows.append(html.Div(more, className="alert-more"))
        if not rows:
            rows = [html.Div(t("No alerts", lang), className="alert-none")]
        summary = t("{n} open", lang, n=k.alerts_open) if k.alerts_open else t("all clear", lang)

        return (
            c.tile_children(t("Readings stored", lang), c.fmt_int(k.readings_stored, lang), stored_sub),
            _tile_state("kpi-stored", stored_state),
            c.tile_children(t("Readings / min", lang), c.fmt_int(k.readings_last_minute, lang),
                            t("trailing 60 s", lang)),
            c.tile_children(t("Stations reporting", lang), f"{k.stations_reporting} / {total}", stations_sub),
            _tile_state("kpi-stations", stations_state),
            c.tile_children(t("Open alerts", lang), c.fmt_int(k.alerts_open, lang), alerts_sub,
                            extra=c.severity_chips(k.open_by_severity, lang)),
            _tile_state("kpi-alerts", alerts_state),
            c.tile_children(t("Dead letters", lang), c.fmt_int(k.dead_letters, lang), dead_sub),
            _tile_state("kpi-deadletters", dead_state),
            rows,
            summary,
            t("Data as of {time}", lang, time=c.local_time(now, tz)),
            now.isoformat(),
            c.system_rows(roles, lang),
        )

    @app.callback(
        Output("chart-figures", "data"),
        Output({"type": "station-status", "station": ALL}, "children"),
        Output({"type": "station-panel", "station": ALL}, "className"),
        Input("chart-tick", "n_intervals"),
        Input("wall-url", "search"),
    )
    def refresh_charts(_n: int | None, search: str | None) -> tuple[dict[str, object], list[str], list[str]]:
        ids = [o["id"]["station"] for o in dash.ctx.outputs_list[1]]
        if not ids:
            return {}, [], []
        try:
            end, latest, series = read_charts(ids)
        except psycopg.Error as exc:
            log.warning("wall: store query failed: %s", exc)
            raise PreventUpdate from None
        start = end - CHART_WINDOW
        by_metric: dict[tuple[str, str], list[q.SeriesPoint]] = {}
        for p in series:
            by_metric.setdefault((p.station_id, p.metric), []).append(p)
        latest_by: dict[tuple[str, str], q.LatestValue] = {(v.station_id, v.metric): v for v in latest}
        figures: dict[str, object] = {}
        statuses: list[str] = []
        classes: list[str] = []
        rules = settings.rules.thresholds
        lang = page_language(settings)
        for sid in ids:
            metrics = sorted(
                {m for s, m in by_metric if s == sid} | {m for s, m in latest_by if s == sid},
                key=c.metric_sort_key,
            )
            panels = [
                c.MetricPanel(m, by_metric.get((sid, m), []), latest_by.get((sid, m)),
                              c.thresholds_for(rules, sid, m))
                for m in metrics
            ]
            figures[sid] = c.station_figure(sid, panels, start, end, tz, lang)
            newest = max((v.time for (s, _), v in latest_by.items() if s == sid), default=None)
            if newest is None:
                statuses.append(t("no data", lang))
                classes.append("station-panel stale")
            elif end - newest > STATION_STALE:
                statuses.append(t("silent {age}", lang, age=c.fmt_age(end - newest, lang)))
                classes.append("station-panel stale")
            else:
                statuses.append(t("last {time}", lang, time=c.local_time(newest, tz, seconds=False)))
                worst = min((r.severity for p in panels if (r := p.breached())), key=c.severity_rank,
                            default=None)
                classes.append(f"station-panel breach breach-{worst}" if worst else "station-panel")
        focus = query_arg(search, "station")  # ``/?station=<id>``: the console's link to a station
        classes = [f"{cls} station-focus" if sid == focus else cls
                   for sid, cls in zip(ids, classes, strict=True)]
        return figures, statuses, classes

    app.clientside_callback(
        ClientsideFunction("wall", "keepZoom"),
        Output({"type": "station-graph", "station": ALL}, "figure"),
        Input("chart-figures", "data"),
    )

    app.clientside_callback(
        ClientsideFunction("ioc", "clock"),
        Output("clock", "children"),
        Output("clock-date", "children"),
        Output("link-status", "children"),
        Output("link-status", "className"),
        Input("clock-tick", "n_intervals"),
        State("wall-config", "data"),
        State("last-update", "data"),
    )
