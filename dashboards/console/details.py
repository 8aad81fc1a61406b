"""The selected alert's panel: its facts and its history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dash import html

from alerts import lifecycle as lc
from alerts.delivery_errors import delivery_error_in
from alerts.models import Alert
from alerts.wording import note_in
from dashboards.components import severity_short, state_label
from dashboards.console.view import ConsoleView, where
from dashboards.feed_titles import rule_title
from dashboards.i18n import t
from ioc.i18n import gettext


def _fact(label: str, value: Any) -> html.Div:
    return html.Div(
        [html.Span(label, className="fact-label"), html.Span(value, className="fact-value")], className="fact"
    )


def detail_children(alert: Alert, view: ConsoleView, now: datetime) -> list[Any]:
    """What the detail pane shows of one alert (without the actions, which stay put)."""
    f = view.formats()
    lang = f.lang
    link = alert.link
    hm = f.time(alert.started_at, seconds=False)
    facts = [
        _fact(t("Where", lang), where(alert, view)),
        _fact(
            t("Since", lang),
            f"{hm} ({f.age(now - alert.started_at)})"
            if alert.active
            else t("{start}, resolved {end}", lang, start=hm, end=f.time(alert.closed_at, seconds=False)),
        ),
        _fact(t("Seen", lang), t("×{n}, last {time}", lang, n=f.number(alert.count),
                                 time=f.time(alert.last_seen))),
        _fact(t("Rule", lang), f"{rule_title(alert.detector, lang)} / {alert.rule}"),
    ]
    if alert.acknowledged_by:
        facts.append(_fact(t("Acknowledged", lang), t("{who} at {time}", lang, who=alert.acknowledged_by,
                                                      time=f.time(alert.acknowledged_at, seconds=False))))
    if alert.assignee:
        facts.append(_fact(t("Assigned to", lang), alert.assignee))
    if alert.state == "silenced" and alert.silenced_until:
        facts.append(_fact(t("Silenced until", lang), f.time(alert.silenced_until, seconds=False)))
    if alert.reopened_count:
        facts.append(_fact(t("Reopened", lang), f"{f.number(alert.reopened_count)}×"))
    if alert.resolved_by:
        facts.append(_fact(t("Resolved by", lang), alert.resolved_by))
    return [
        html.Div(
            [
                html.Span(
                    severity_short(alert.severity, lang),
                    className=f"badge sev-{alert.severity}",
                ),
                html.Span(
                    state_label(alert.state, lang),
                    className=f"badge state-{alert.state}",
                    id="detail-state",
                ),
                html.Span(f"#{alert.id}", className="detail-id"),
            ],
            className="detail-badges",
        ),
        html.H2(alert.title_in(lang), className="detail-title", id="detail-title"),
        html.Div(facts, className="facts"),
        html.A(
            f"{gettext('alerts', link[0], lang)} ↗",  # the links' labels are the alerts catalogue's
            href=link[1],
            className="data-link",
            id="data-link",
            target="_blank",
            rel="noopener",
        )
        if link
        else html.Div(t("No page shows this source yet.", lang), className="data-link none"),
    ]


def _note(note: str | None, alert: Alert, lang: str, details: dict[str, Any] | None = None) -> str:
    """An audit note as the reader reads it: the service notes the alert's (English) title when it
    raises it; that one is shown in ``lang`` like the title itself, and so are the escalator's notes
    (kept with their template: :func:`alerts.wording.note_in`). A person's note is as they wrote it."""
    if note and note == alert.title:
        return alert.title_in(lang)
    return note_in(note, details, lang, alert.title_in(lang))


def history_children(view: ConsoleView, alert: Alert) -> list[Any]:
    """The incident's other alerts, the notifications about this one, and its audit history (newest
    first): its latest entries (:data:`alerts.reads.HISTORY_LIMIT`), and how many earlier ones are not
    shown; a note stored before notes were bounded comes cut, with an ellipsis."""
    f = view.formats()
    lang = f.lang
    out: list[Any] = []
    if alert.incident_id is not None:
        # a manager's report on this incident (timeline, notes, key frames or track map), made on /reports/
        out.append(html.A(t("Report on this incident", lang), href=f"/reports/?incident={alert.incident_id}",
                          target="_blank", className="incident-report-link", id="incident-report-link"))
        related = [a for a in view.service.incident_alerts(alert.incident_id) if a.id != alert.id]
        if related:
            out.append(html.H3(t("Incident #{id}: {n} more", lang, id=alert.incident_id, n=len(related))))
            out.append(
                html.Ul(
                    [
                        html.Li(
                            [
                                html.Span(state_label(a.state, lang), className=f"mini state-{a.state}"),
                                f" #{a.id} {a.title_in(lang)}",
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
        text = ", ".join(f"{n['channel']}→{n['recipient']} {t(n['state'], lang)}" for n in notes[:4])
        out.append(
            html.Div(
                t("Notified: {text}", lang, text=text)
                + (" · " + t("{n} FAILED: {error}", lang, n=len(failed),
                             error=delivery_error_in(failed[0]["last_error"], lang))
                   if failed else ""),
                className="notified" + (" failed" if failed else ""),
            )
        )
    out.append(html.H3(t("History", lang)))
    entries = []
    history = view.service.history(alert.id)
    for e in reversed(history):
        to = t(e.to_state, lang)
        move = to if e.from_state in (None, e.to_state) else f"{t(e.from_state, lang)} → {to}"
        entries.append(
            html.Li(
                [
                    html.Span(f.time(e.at), className="h-time"),
                    html.Span(t(e.actor, lang) if e.actor == lc.SYSTEM else e.actor,
                              className="h-actor" + (" system" if e.actor == lc.SYSTEM else "")),
                    html.Span(t(lc.PAST.get(e.action, e.action), lang), className=f"h-action act-{e.action}"),
                    html.Span(move, className="h-move"),
                    html.Div(_note(e.note, alert, lang, e.details), className="h-note"),
                ],
                className="h-entry",
                **{"data-action": e.action, "data-actor": e.actor},
            )
        )
    out.append(html.Ol(entries, className="history-list", id="history-list"))
    earlier = getattr(history, "earlier", 0)
    if earlier:
        out.append(html.Div(t("{n} earlier entries not shown", lang, n=f.number(earlier)),
                            className="history-earlier", id="history-earlier"))
    return out
