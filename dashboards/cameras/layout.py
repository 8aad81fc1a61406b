"""The camera wall's layout."""

from __future__ import annotations

from dash import dcc, html

from dashboards import components as c
from dashboards.cameras.model import GRAPH_CONFIG, CameraView, grid_shape
from dashboards.cameras.tiles import _tile
from dashboards.i18n import clock_texts, page_language, t
from dashboards.pacing import paced_interval


def layout(view: CameraView) -> html.Div:
    """The page, built on every load so that cameras that appeared since get a tile."""
    settings = view.settings
    cams = view.cameras()
    cols, rows = grid_shape(len(cams))
    refresh = settings.web.refresh_ms
    lang = page_language(settings)
    density = "cam-dense" if rows >= 3 or cols >= 4 else "cam-roomy" if len(cams) <= 2 else ""
    return html.Div(
        [
            html.Header(
                [
                    html.Div([html.Div(settings.city, className="cam-city"),
                              html.Div(t("Camera wall", lang), className="cam-page-title"),
                              html.A(t("← Wall", lang), href="/", className="cam-link",
                                     title=t("back to the wall", lang))],
                             className="cam-brand"),
                    html.Div([html.Span("", id="cam-summary", className="cam-summary"),
                              html.Span(t("Data as of —", lang), id="cam-asof", className="cam-asof"),
                              html.Span("", id="cam-link-status", className="cam-link-status")],
                             className="cam-status"),
                    html.Div([html.Div("", id="cam-clock", className="cam-clock"),
                              html.Div(t("click or 1–9 open · Esc close", lang), className="cam-keys-hint")],
                             className="cam-clock-box"),
                ],
                className="cam-header",
            ),
            html.Main(
                [_tile(i + 1, cam, lang) for i, cam in enumerate(cams)]
                or [html.Div(t("No cameras configured or reporting yet", lang),
                          className="cam-none cam-empty-grid")],
                id="cam-grid",
                className=f"cam-grid {density}".strip(),
                style={"gridTemplateColumns": f"repeat({cols}, minmax(0, 1fr))",
                       "gridTemplateRows": f"repeat({rows}, minmax(0, 1fr))"},
            ),
            html.Section(
                [
                    html.Div(
                        [html.Span("", id="cam-detail-title", className="cam-detail-title"),
                         html.Span("", id="cam-detail-badge", className="cam-badge"),
                         html.Button("✕ " + t("Close (Esc)", lang), id="cam-detail-close", n_clicks=0,
                                     className="cam-close", title=t("back to all cameras (Esc)", lang))],
                        className="cam-detail-head",
                    ),
                    html.Div(
                        [
                            html.Div(
                                [html.Div([html.Img(id="cam-detail-img", className="cam-img",
                                                    alt=t("key frame", lang)),
                                           html.Div("", id="cam-detail-cap", className="cam-img-cap")],
                                          className="cam-frame cam-detail-frame"),
                                 html.Div([html.H2(t("Counts per minute, last hour", lang)),
                                           dcc.Graph(id="cam-detail-chart", config=GRAPH_CONFIG,
                                                     className="cam-detail-chart",
                                                     figure={"data": [], "layout": {
                                                         "paper_bgcolor": c.PANEL, "plot_bgcolor": c.PANEL,
                                                         "xaxis": {"visible": False},
                                                         "yaxis": {"visible": False}}},
                                                     style={"height": "100%", "width": "100%"})],
                                          className="cam-detail-chart-box")],
                                className="cam-detail-main",
                            ),
                            html.Aside(
                                [html.H2(t("Health", lang)), html.Div(id="cam-detail-health"),
                                 html.H2(t("Counts now", lang)), html.Div(id="cam-detail-counts"),
                                 html.H2(t("Traffic", lang)), html.Div(id="cam-detail-traffic"),
                                 html.H2(t("Alerts", lang)),
                                 html.Div(id="cam-detail-alerts", className="cam-alert-list")],
                                className="cam-detail-side",
                            ),
                        ],
                        className="cam-detail-body",
                    ),
                ],
                id="cam-detail",
                className="cam-detail",
                role="dialog",
                **{"aria-modal": "true", "aria-labelledby": "cam-detail-title"},
            ),
            *paced_interval("cam-tick", refresh),
            *paced_interval("cam-chart-tick", max(refresh, 5000)),
            dcc.Interval(id="cam-clock-tick", interval=1000),
            dcc.Store(id="cam-selected", data=None),
            dcc.Store(id="cam-at", data=None),  # a link's time (the alert's): its frame, not the newest
            dcc.Location(id="cam-url", refresh=False),  # ?camera=&at=: the console's link
            dcc.Store(id="cam-last-update"),
            dcc.Store(id="cam-focus-sink"),
            dcc.Store(id="cam-keys-sink"),
            dcc.Store(id="cam-config",
                      data=c.clock_config(settings.timezone, max(5000, 3 * refresh + 2000),
                                          ("time", "status", "class"), "cam-link-status", "cam-stale",
                                          **clock_texts(lang))),
        ],
        id="cam-page",
        className="cam-page",
    )
