"""The replay page: choose a period, feeds and speed; start a replay; play, pause and seek a cursor.

A start queues a run in the store (:mod:`ioc.store.replay_runs`); the web role's replay worker
runs it in a database of its own and reports progress there, so this page only reads and queues.
At the cursor the page shows the wall's readings, the vessel tracks up to it, the cameras' key
frames of that moment and the replay's alerts open then; a back-test's difference is a table.
Starting a replay is for analysts and admins; the page needs a session (``/replay`` is guarded).
"""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dash
from dash import Input, Output, State, ctx, dcc, html, no_update
from flask import Flask

from dashboards import auth
from dashboards import components as c
from dashboards.i18n import page_language
from dashboards.pacing import pace, paced_interval, timer_of
from dashboards.replay import view as v
from ioc.config import ConfigError, Settings
from ioc.feeds import FEEDS
from ioc.i18n import format_number
from ioc.rules_overlay import rules_from_text
from ioc.store import replay_queries as rq
from ioc.store import replay_runs as runs

PREFIX = "/replay/"
t = v.t
STARTERS = {"analyst", "admin"}
MAX_ACTIVE_RUNS = 5  # runs one person may have queued, running or paused at once (a worker runs one)
MAX_RULES = 50_000  # characters of an edited rules text (a few tables; each run stores it)
SPEEDS = ("1", "10", "60", "max")
MAX_PERIOD = timedelta(days=7)
TRACK_HOURS = timedelta(hours=6)  # how much of each track is drawn behind the cursor
SHOWN = "%Y-%m-%d %H:%M"  # how the period's fields show a time
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M")


def replayable_feeds() -> list[str]:
    """Feeds with at least one table a record can be read back from."""
    return [f.name for f in FEEDS if any(spec.from_row is not None for spec in f.tables)]


def parse_local(text: str | None, tz: str, day: datetime | None = None) -> datetime | None:
    """``YYYY-MM-DD HH:MM[:SS]`` in the city's zone (or ``HH:MM[:SS]`` on ``day``'s date), else None."""
    text = (text or "").strip()
    zone = ZoneInfo(tz)
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=zone)
        except ValueError:
            pass
    if day is not None:
        for fmt in ("%H:%M:%S", "%H:%M"):
            try:
                clock = datetime.strptime(text, fmt).time()
                return datetime.combine(day.astimezone(zone).date(), clock, tzinfo=zone)
            except ValueError:
                pass
    return None


def check_request(settings: Settings, start_text: str | None, end_text: str | None, feeds: list[str] | None,
                  speed: str | None, rules: str | None, lang: str) -> tuple[datetime, datetime] | str:
    """The period of a valid request, or the reason (in ``lang``) it cannot start."""
    start, end = parse_local(start_text, settings.timezone), parse_local(end_text, settings.timezone)
    if start is None or end is None:
        return t("Give the period as YYYY-MM-DD HH:MM (city time).", lang)
    if end <= start:
        return t("The period must end after it starts.", lang)
    if end - start > MAX_PERIOD:
        return t("A replay covers at most seven days.", lang)
    if not feeds or not set(feeds) <= set(replayable_feeds()):
        return t("Choose at least one feed.", lang)
    if speed not in SPEEDS:
        return t("Choose a speed.", lang)
    if rules and len(rules) > MAX_RULES:
        return t("Edited rules are at most {n} characters.", lang, n=format_number(MAX_RULES, lang, 0))
    if rules and rules.strip():
        try:
            tomllib.loads(rules)
            rules_from_text(settings, rules, t("edited rules", lang))
        except RecursionError:  # x = [[[[...]]]] thousands deep: tomllib reads it by recursion
            return t("The edited rules are not valid: {reason}", lang,
                     reason=t("their values are nested too deeply", lang))
        except (tomllib.TOMLDecodeError, ConfigError) as exc:
            reason = exc.said(lang) if isinstance(exc, ConfigError) else str(exc)
            return t("The edited rules are not valid: {reason}", lang, reason=reason)
    return start, end


def active_runs_of(pool: Any, name: str) -> int:
    """How many of ``name``'s runs are queued, running or paused."""
    with pool.connection() as conn:
        row = conn.execute("SELECT count(*) FROM replay_runs WHERE requested_by = %s AND state = ANY(%s)",
                           (name, list(runs.ACTIVE))).fetchone()
    return int(row[0]) if row else 0


def may_steer(role: str, name: str, run: runs.ReplayRequest) -> bool:
    """Whether a user may pause or resume ``run``: its own analyst, or an admin."""
    return role == "admin" or (role in STARTERS and run.requested_by == name)


def layout(pool: Any, settings: Settings) -> html.Div:
    lang = page_language(settings)
    recent = runs.recent_runs(pool)
    tz = ZoneInfo(settings.timezone)
    end = datetime.now(tz).replace(minute=0, second=0, microsecond=0)
    feeds = replayable_feeds()
    return html.Div([
        html.Header([html.A("←", href="/", className="back"), html.H1(t("Replay", lang)),
                     html.Span(settings.city, className="city")], className="sec-header"),
        html.Div(id="replay-simulated"),
        html.Section([
            html.Label([t("From", lang), dcc.Input(id="replay-from", type="text", style={"width": "170px"},
                                                   value=(end - timedelta(hours=1)).strftime(SHOWN))]),
            html.Label([t("To", lang), dcc.Input(id="replay-to", type="text", style={"width": "170px"},
                                                 value=end.strftime(SHOWN))]),
            html.Div([html.Span(t("Feeds", lang)),
                      dcc.Checklist(id="replay-feeds", value=feeds, inline=True,
                                    options=[{"label": t(f, lang), "value": f} for f in feeds])]),
            html.Div([html.Span(t("Speed", lang)),
                      dcc.RadioItems(id="replay-speed", inline=True, value="max",
                                     options=[{"label": "×" + s if s != "max" else t("max", lang), "value": s}
                                              for s in SPEEDS])]),
            dcc.Textarea(id="replay-rules", placeholder=t("Edited rules for a back-test (TOML), e.g.", lang)
                         + "\n[rules.vessels.ais_gap]\ngap_minutes = 20", className="replay-rules"),
            html.Button(t("Start replay", lang), id="replay-start", n_clicks=0),
            html.Div(id="replay-message", className="replay-message"),
        ], className="replay-form"),
        html.Div([html.Span(t("Run", lang)),
                  dcc.Dropdown(id="replay-run", options=run_options(recent, lang, settings.timezone),
                               value=recent[0].id if recent else None, clearable=False,
                               className="replay-run")], className="replay-run-row"),
        html.Div(v.progress(recent[0] if recent else None, lang), id="replay-progress",
                 className="replay-progress"),
        html.Div([
            html.Button(t("Play", lang), id="replay-play", n_clicks=0),
            html.Button(t("Pause", lang), id="replay-pause", n_clicks=0),
            html.Button(t("Cancel run", lang), id="replay-cancel", n_clicks=0),
            dcc.Input(id="replay-seek", type="text", placeholder="HH:MM", n_submit=0,
                      style={"width": "170px"}),
            html.Button(t("Go to", lang), id="replay-seek-go", n_clicks=0),
            html.Span(id="replay-cursor-label", className="replay-cursor-label"),
        ], className="replay-controls"),
        dcc.Slider(id="replay-slider", min=0, max=3600, step=1, value=0, marks=None, updatemode="mouseup"),
        html.Div(id="replay-tiles-box"),
        html.Div([
            html.Div(dcc.Graph(id="replay-map", config={"displayModeBar": False}), className="replay-map"),
            html.Div([html.H3(t("Readings at the cursor", lang)), html.Div(id="replay-readings-box")]),
        ], className="sec-columns"),
        html.H3(t("Camera key frames at the cursor", lang)),
        html.Div(id="replay-frames-box"),
        html.H3(t("Replayed alerts open at the cursor", lang)),
        html.Div(id="replay-alerts-box"),
        html.H3(t("Back-test: the edited rules against the configured ones", lang)),
        html.Div(id="replay-backtest-box"),
        *paced_interval("replay-poll", 1000),
        *paced_interval("replay-tick", 1000, disabled=True),
        dcc.Store(id="replay-info"),
        dcc.Store(id="replay-lang", data=lang),
        dcc.Store(id="replay-seek-done", data=0),  # how many Go-to asks (clicks and Enters) were applied
    ], className="security-page replay-page", lang=lang)


def run_options(recent: list[runs.ReplayRequest], lang: str, tz: str) -> list[dict[str, Any]]:
    return [{"label": f"#{r.id} · {v.when(r.period_start, lang, tz)} → {v.when(r.period_end, lang, tz)} · "
                      f"{', '.join(r.feeds)} · {t(v.STATE_LABELS.get(r.state, r.state), lang)}",
             "value": r.id} for r in recent]


def info_of(run: runs.ReplayRequest | None) -> dict[str, Any] | None:
    """What the cursor callbacks need of the run: its period, how far it got, its speed."""
    if run is None:
        return None
    reached = run.period_end if run.state == "done" else (run.reached or run.period_start)
    return {"id": run.id, "start": run.period_start.isoformat(), "end": run.period_end.isoformat(),
            "reached": reached.isoformat(), "speed": run.speed, "state": run.state}


def create_replay_page(server: Flask, pool: Any, settings: Settings) -> dash.Dash:
    """Mount ``/replay/`` on the wall's server, reading from (and queueing runs in) ``pool``."""
    app = c.page_app(server, PREFIX, "Replay", "feed-page.css", "replay.css", settings=settings)
    app.layout = lambda: layout(pool, settings)
    tz = settings.timezone

    pace(app, "replay-poll", "replay-tick")

    @app.callback(Output("replay-message", "children"), Output("replay-run", "options", allow_duplicate=True),
                  Output("replay-run", "value", allow_duplicate=True), Input("replay-start", "n_clicks"),
                  State("replay-from", "value"), State("replay-to", "value"), State("replay-feeds", "value"),
                  State("replay-speed", "value"), State("replay-rules", "value"),
                  State("replay-lang", "data"), prevent_initial_call=True)
    def start(_: int, start_text: str, end_text: str, feeds: list[str], speed: str, rules: str | None,
              lang: str) -> tuple[Any, ...]:
        who = auth.principal()
        if who is None or who.role not in STARTERS:
            return t("Only analysts and admins may start replays.", lang), no_update, no_update
        checked = check_request(settings, start_text, end_text, feeds, speed, rules, lang)
        if isinstance(checked, str):
            return checked, no_update, no_update
        if active_runs_of(pool, who.name) >= MAX_ACTIVE_RUNS:
            return (t("The queue holds at most {n} of your replays at once: wait for one to end.", lang,
                      n=MAX_ACTIVE_RUNS), no_update, no_update)
        run_id = runs.request_run(pool, who.name, checked[0], checked[1], feeds, speed,
                                  rules if rules and rules.strip() else None)
        options = run_options(runs.recent_runs(pool), lang, tz)  # the new run among them, then chosen
        return t("Replay #{id} queued.", lang, id=run_id), options, run_id

    @app.callback(Output("replay-progress", "children"), Output("replay-run", "options"),
                  Output("replay-info", "data"), Output("replay-backtest-box", "children"),
                  Input("replay-poll", "n_intervals"), Input("replay-run", "value"),
                  State("replay-lang", "data"))
    def poll(_: int | None, run_id: int | None, lang: str) -> tuple[Any, ...]:
        recent = runs.recent_runs(pool)
        run = runs.get_run(pool, run_id) if run_id is not None else None
        return (v.progress(run, lang), run_options(recent, lang, tz), info_of(run),
                v.backtest_table(run.result if run else None, lang, tz))

    @app.callback(Output(timer_of("replay-tick"), "disabled"), Input("replay-play", "n_clicks"),
                  Input("replay-pause", "n_clicks"), State("replay-run", "value"), prevent_initial_call=True)
    def play_pause(_: int, __: int, run_id: int | None) -> bool:
        playing = ctx.triggered_id == "replay-play"
        who = auth.principal()
        if run_id is not None and who is not None:  # the replay follows: a pause holds it, play resumes it
            run = runs.get_run(pool, int(run_id))
            if run is not None and run.state in ("running", "paused") and may_steer(who.role, who.name, run):
                runs.send_command(pool, run.id, "resume" if playing else "pause")
        return not playing

    @app.callback(Output("replay-message", "children", allow_duplicate=True),
                  Input("replay-cancel", "n_clicks"), State("replay-run", "value"),
                  State("replay-lang", "data"), prevent_initial_call=True)
    def cancel(_: int, run_id: int | None, lang: str) -> str:
        """Cancel the chosen run (its analyst or an admin): a queued one at once, a running one by its
        worker at its next step."""
        who = auth.principal()
        run = runs.get_run(pool, int(run_id)) if run_id is not None else None
        if who is None or run is None or not may_steer(who.role, who.name, run):
            return t("Only the analyst who asked for a run, or an admin, may cancel it.", lang)
        if run.state not in runs.ACTIVE:
            return t("Run #{id} has ended already.", lang, id=run.id)
        runs.send_command(pool, run.id, "cancel")
        return t("Run #{id} is being cancelled.", lang, id=run.id)

    # A Go-to is applied by whichever call of this callback first sees it unapplied: dash-renderer
    # drops the answer to a call that a newer one overtook, and the poll (replay-info) or the
    # playback tick starts a newer one every second, so the click's own call may never land.
    @app.callback(Output("replay-slider", "value"), Output("replay-slider", "max"),
                  Output("replay-slider", "marks"), Output("replay-seek", "value"),
                  Output("replay-seek-done", "data"),
                  Input("replay-tick", "n_intervals"), Input("replay-seek-go", "n_clicks"),
                  Input("replay-seek", "n_submit"), Input("replay-info", "data"),
                  State("replay-slider", "value"), State("replay-seek", "value"),
                  State("replay-seek-done", "data"), State("replay-lang", "data"))
    def move(_: int | None, clicks: int | None, submits: int | None, info: dict[str, Any] | None,
             value: float | None, seek: str | None, done: int | None, lang: str) -> tuple[Any, ...]:
        asked = (clicks or 0) + (submits or 0)
        if not info:
            return 0, 3600, None, no_update, no_update
        start, end = datetime.fromisoformat(info["start"]), datetime.fromisoformat(info["end"])
        reached = datetime.fromisoformat(info["reached"])
        span = int((end - start).total_seconds())
        limit = int((reached - start).total_seconds())
        marks = {0: v.when(start, lang, tz)[11:16], span: v.when(end, lang, tz)[11:16]}
        value = value or 0
        seek_out: Any = no_update
        if asked > (done or 0):
            at = parse_local(seek, tz, day=start)
            if at is None:
                return no_update, span, marks, "", asked
            value = (at - start).total_seconds()
            seek_out = ""
        elif ctx.triggered_id == "replay-tick":
            step = span / 60 if info["speed"] == "max" else float(info["speed"])
            value = value + step
        return max(0, min(int(value), limit, span)), span, marks, seek_out, asked

    @app.callback(Output("replay-cursor-label", "children"), Output("replay-tiles-box", "children"),
                  Output("replay-map", "figure"), Output("replay-readings-box", "children"),
                  Output("replay-frames-box", "children"), Output("replay-alerts-box", "children"),
                  Output("replay-simulated", "children"),
                  Input("replay-slider", "value"), State("replay-info", "data"), State("replay-lang", "data"))
    def render(value: float | None, info: dict[str, Any] | None, lang: str) -> tuple[Any, ...]:
        if not info:
            empty = html.Div(t("No replay yet: choose a period and start one.", lang),
                             className="replay-empty")
            return "", empty, v.track_figure({}, lang), None, None, None, None
        start = datetime.fromisoformat(info["start"])
        at = start + timedelta(seconds=value or 0)
        run = runs.get_run(pool, info["id"])
        alerts = v.alerts_open_at(((run.result or {}).get("alerts") or []) if run else [], at)
        readings = rq.readings_at(pool, at)
        tracks = rq.tracks_until(pool, at, since=max(start, at - TRACK_HOURS))
        frames = rq.keyframes_at(pool, at)
        simulated = any(p.simulated for points in tracks.values() for p in points)
        banner = html.Div(t("SIMULATED", lang), className="simulated-banner") if simulated else None
        label = html.Span(v.when(at, lang, tz), id="replay-cursor",
                          **{"data-at": at.astimezone(UTC).isoformat()})
        return (label, v.tiles(at, readings, tracks, frames, alerts, lang, tz), v.track_figure(tracks, lang),
                v.readings_table(readings, lang, tz), v.keyframe_tiles(frames, lang, tz),
                v.alerts_list(alerts, lang, tz), banner)

    return app
