"""The selected alert's panel: its facts and its history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dash import html

from alerts import lifecycle as lc
from alerts.models import Alert
from dashboards.components import SEVERITY_SHORT, fmt_age
from dashboards.console.view import STATE_LABELS, ConsoleView, local, where
from dashboards.i18n import page_language
from ioc.i18n import gettext


def _fact(label: str, value: Any) -> html.Div:
    return html.Div(
        [html.Span(label, className="fact-label"), html.Span(value, className="fact-value")], className="fact"
    )


def detail_children(alert: Alert, view: ConsoleView, now: datetime) -> list[Any]:
    """What the detail pane shows of one alert (without the actions, which stay put)."""
    tz = view.tz
    link = alert.link
    facts = [
        _fact("Where", where(alert, view)),
        _fact(
            "Since",
            f"{local(alert.started_at, tz)} ({fmt_age(now - alert.started_at)})"
            if alert.active
            else f"{local(alert.started_at, tz)}, resolved {local(alert.closed_at, tz)}",
        ),
        _fact("Seen", f"×{alert.count}, last {local(alert.last_seen, tz, '%H:%M:%S')}"),
        _fact("Rule", f"{alert.detector} / {alert.rule}"),
    ]
    if alert.acknowledged_by:
        facts.append(_fact("Acknowledged", f"{alert.acknowledged_by} at {local(alert.acknowledged_at, tz)}"))
    if alert.assignee:
        facts.append(_fact("Assigned to", alert.assignee))
    if alert.state == "silenced" and alert.silenced_until:
        facts.append(_fact("Silenced until", local(alert.silenced_until, tz)))
    if alert.reopened_count:
        facts.append(_fact("Reopened", f"{alert.reopened_count}×"))
    if alert.resolved_by:
        facts.append(_fact("Resolved by", alert.resolved_by))
    return [
        html.Div(
            [
                html.Span(
                    SEVERITY_SHORT.get(alert.severity, alert.severity.upper()),
                    className=f"badge sev-{alert.severity}",
                ),
                html.Span(
                    STATE_LABELS.get(alert.state, alert.state.upper()),
                    className=f"badge state-{alert.state}",
                    id="detail-state",
                ),
                html.Span(f"#{alert.id}", className="detail-id"),
            ],
            className="detail-badges",
        ),
        html.H2(alert.title_in(page_language(view.settings)), className="detail-title", id="detail-title"),
        html.Div(facts, className="facts"),
        html.A(
            f"{gettext('alerts', link[0], page_language(view.settings))} ↗",
            href=link[1],
            className="data-link",
            id="data-link",
            target="_blank",
            rel="noopener",
        )
        if link
        else html.Div("No page shows this source yet.", className="data-link none"),
    ]


def history_children(view: ConsoleView, alert: Alert) -> list[Any]:
    """The incident's other alerts, the notifications about this one, and its audit history (newest first)."""
    tz = view.tz
    out: list[Any] = []
    if alert.incident_id is not None:
        related = [a for a in view.service.incident_alerts(alert.incident_id) if a.id != alert.id]
        if related:
            out.append(html.H3(f"Incident #{alert.incident_id}: {len(related)} more"))
            out.append(
                html.Ul(
                    [
                        html.Li(
                            [
                                html.Span(
                                    STATE_LABELS.get(a.state, a.state), className=f"mini state-{a.state}"
                                ),
                                f" #{a.id} {a.title}",
                            ],
                            className=f"related sev-{a.severity}",
                        )
                        for a in related[:8]
                    ],
                    className="related-list",
                )
            )
    notes = view.service.notifications_of(alert.id)
    if notes:
        failed = [n for n in notes if n["state"] == "failed"]
        text = ", ".join(f"{n['channel']}→{n['recipient']} {n['state']}" for n in notes[:4])
        out.append(
            html.Div(
                f"Notified: {text}"
                + (f" · {len(failed)} FAILED: {failed[0]['last_error']}" if failed else ""),
                className="notified" + (" failed" if failed else ""),
            )
        )
    out.append(html.H3("History"))
    entries = []
    for e in reversed(view.service.history(alert.id)):
        move = e.to_state if e.from_state in (None, e.to_state) else f"{e.from_state} → {e.to_state}"
        entries.append(
            html.Li(
                [
                    html.Span(local(e.at, tz, "%H:%M:%S"), className="h-time"),
                    html.Span(e.actor, className="h-actor" + (" system" if e.actor == lc.SYSTEM else "")),
                    html.Span(lc.PAST.get(e.action, e.action), className=f"h-action act-{e.action}"),
                    html.Span(move, className="h-move"),
                    html.Div(e.note or "", className="h-note"),
                ],
                className="h-entry",
                **{"data-action": e.action, "data-actor": e.actor},
            )
        )
    out.append(html.Ol(entries, className="history-list", id="history-list"))
    return out
