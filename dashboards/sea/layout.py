"""The sea page's layout and its refresh intervals."""

from __future__ import annotations

from datetime import datetime

from dash import dcc, html

from dashboards import components as c
from dashboards.i18n import clock_texts, dropdown_labels, page_language, t
from dashboards.pacing import paced_interval
from dashboards.sea.basemap import SeaView, base_figure
from dashboards.sea.panel import _legend
from dashboards.sea.style import BUSY_FLEET, DEFAULT_TRACK_HOURS, EMPTY_FIGURE, GRAPH_CONFIG, HOURS_OPTIONS
from ioc.config import Settings


def refresh_ms(settings: Settings) -> int:
    """The vessels' refresh: the wall's tick, kept between 2 and 5 s."""
    return max(2000, min(5000, settings.web.refresh_ms))


def vessel_refresh_ms(settings: Settings, vessels: int) -> int:
    """The vessels' refresh for a fleet of this size: every 5 s beyond :data:`BUSY_FLEET` vessels
    (each refresh redraws every marker; AIS reports come every 2 to 180 s anyway)."""
    return refresh_ms(settings) if vessels <= BUSY_FLEET else 5000


def track_refresh_ms(settings: Settings) -> int:
    """Tracks move slowly and weigh more: every 10 s, or every third tick if ticks are slower."""
    return max(10_000, 3 * refresh_ms(settings))


def stale_after_ms(settings: Settings) -> int:
    return max(8000, 3 * refresh_ms(settings) + 2000)


def layout(view: SeaView) -> html.Div:
    """The page; built on every load (the base figure carries the zones)."""
    settings = view.settings
    now_local = datetime.now(view.tz)
    base = base_figure(view)
    lang = page_language(settings)
    return html.Div(
        [
            html.Header(
                [
                    html.Div([html.Div(settings.city, className="sea-city"),
                              html.Div(t("Sea map", lang), className="sea-title"),
                              html.A(t("← Wall", lang), href="/", className="sea-nav")],
                             className="sea-brand"),
                    html.Div([], id="sea-counts", className="sea-counts"),
                    html.Div([html.Span(t("Data as of —", lang), id="sea-asof", className="sea-asof"),
                              html.Span("", id="sea-link", className="sea-link")], className="sea-status"),
                    html.Div(now_local.strftime("%H:%M:%S"), id="sea-clock", className="sea-clock"),
                ],
                className="sea-header",
            ),
            html.Main(
                [
                    html.Div(
                        [dcc.Graph(id="sea-map", figure=EMPTY_FIGURE, config=GRAPH_CONFIG,
                                   className="sea-graph", style={"height": "100%", "width": "100%"}),
                         html.Div(t("Zones and coastline approximate: not for navigation", lang),
                                  className="sea-map-note"),
                         html.Div(t("Map offline: shipped coastline", lang) if not view.tiles_url else "",
                                  className="sea-map-mode"),
                         html.Div("", id="sea-sim-note", className="sea-sim-note"),
                         html.Button(t("Fit view", lang), id="sea-reset", className="sea-button sea-fit",
                                     n_clicks=0,
                                     title=t("Back to the whole sea area", lang))],
                        className="sea-map-wrap",
                    ),
                    html.Aside(
                        [
                            html.Div(
                                [
                                    html.Span(t("Tracks", lang), className="sea-ctl-label"),
                                    dcc.RadioItems(id="sea-hours", options=HOURS_OPTIONS,
                                                   value=DEFAULT_TRACK_HOURS, inline=True,
                                                   className="sea-hours"),
                                ],
                                className="sea-controls",
                            ),
                            dcc.Dropdown(id="sea-search", options=[], className="sea-search",
                                         labels=dropdown_labels(lang),
                                         placeholder=t("Find a vessel: name or MMSI", lang), clearable=True),
                            html.Section(
                                [html.Button("×", id="sea-close", className="sea-close",
                                             title=t("Close (Esc)", lang),
                                             n_clicks=0),
                                 html.Div([], id="sea-details-body", className="sea-details-body")],
                                id="sea-details", className="sea-details hidden",
                            ),
                            html.Section(
                                [html.Div([html.H2(t("Vessels in alert", lang)),
                                           html.Span("", id="sea-alert-count", className="sea-alert-count")],
                                          className="sea-alerts-head"),
                                 html.Div([], id="sea-alert-list", className="sea-alert-list")],
                                className="sea-alerts",
                            ),
                            html.Div("", id="sea-track-note", className="sea-track-note"),
                            _legend(lang),
                        ],
                        className="sea-side",
                    ),
                ],
                className="sea-main",
            ),
            *paced_interval("sea-tick", refresh_ms(settings)),
            *paced_interval("sea-track-tick", track_refresh_ms(settings)),
            dcc.Interval(id="sea-clock-tick", interval=1000),
            dcc.Store(id="sea-base", data=base),
            dcc.Store(id="sea-vessels"),
            dcc.Store(id="sea-tracks"),
            dcc.Store(id="sea-selection"),
            dcc.Store(id="sea-selected", data={"mmsi": None, "seq": 0, "focus": False}),
            dcc.Location(id="sea-url", refresh=False),  # ?mmsi=: a link's vessel (the console's)
            dcc.Store(id="sea-list-sig"),
            dcc.Store(id="sea-options-sig"),
            dcc.Store(id="sea-last-update"),
            dcc.Store(id="sea-keys"),
            dcc.Store(id="sea-config", data=c.clock_config(settings.timezone, stale_after_ms(settings),
                                                           ("time", "status", "class"), "sea-link",
                                                           **clock_texts(lang))),
        ],
        className="sea-page",
    )
