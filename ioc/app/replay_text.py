"""What ``ioc replay`` prints of a run and of a back-test, in the command line's language.

Times stay ISO (a reader compares them with the recording's); the severity is said in the
language's words and each alert's title is rendered from its template (domain ``alerts``, as the
console says it); counts are in the language's number form. The words are ``ioc`` catalogue messages.
"""

from __future__ import annotations

from ioc.app.replay import BacktestDiff, ReplayedAlert, ReplayRun
from ioc.i18n import format_number, gettext, render


def _n(value: float, lang: str, digits: int = 0) -> str:
    return format_number(value, lang, digits)


def severity_in(severity: str, lang: str) -> str:
    """``critical`` in ``lang``'s word (``nghiêm trọng``)."""
    return gettext("alerts", severity, lang)


def title_in(alert: ReplayedAlert, lang: str) -> str:
    """The alert's title in ``lang``: from its template and fields, else the stored English."""
    return render("alerts", alert.title_template, alert.title_params, lang, alert.title)


PER_RULE = "per rule: +added -removed ~changed (time or severity)"


def run_lines(label: str, run: ReplayRun, lang: str) -> list[str]:
    """A replay's summary line, then one line per alert it raised."""
    lines = [gettext("ioc", "{label}: {events} records, {signals} signals, {alerts} alerts in {seconds} s "
                            "({rate} records/s)", lang, label=label, events=_n(run.events, lang),
                     signals=_n(run.signals, lang), alerts=_n(len(run.alerts), lang),
                     seconds=_n(run.wall_s, lang, 1), rate=_n(run.rate, lang))]
    for a in run.alerts:
        end = a.resolved_at.isoformat() if a.resolved_at else gettext("ioc", "open", lang)
        lines.append(f"  {a.first_seen.isoformat()}  {severity_in(a.severity, lang):<14} {a.rule:<28} "
                     f"{a.fingerprint}  -> {end}  {title_in(a, lang)}")
    return lines


def diff_lines(diff: BacktestDiff, lang: str) -> list[str]:
    """A back-test's totals, its counts per rule (``+added -removed ~changed``), then each alert that
    differs: added (``+``), removed (``-``), changed (``~``, before ``->`` after)."""
    lines = [gettext("ioc", "back-test: {added} added, {removed} removed, {changed} changed, {same} the same",
                     lang, added=_n(len(diff.added), lang), removed=_n(len(diff.removed), lang),
                     changed=_n(len(diff.changed), lang), same=_n(diff.same, lang))]
    per_rule = diff.per_rule()
    if per_rule:
        lines.append("  " + gettext("ioc", PER_RULE, lang))
    for rule, counts in per_rule.items():
        lines.append(f"  {rule:<28} +{_n(counts['added'], lang)} -{_n(counts['removed'], lang)} "
                     f"~{_n(counts['changed'], lang)}")
    for sign, word, alerts in (("+", "added", diff.added), ("-", "removed", diff.removed)):
        for a in alerts:
            lines.append(f"  {sign} {gettext('ioc', word, lang)}: {a.first_seen.isoformat()} "
                         f"{severity_in(a.severity, lang)} {a.fingerprint}  {title_in(a, lang)}")
    for old, new in diff.changed:
        lines.append(f"  ~ {gettext('ioc', 'changed', lang)}: {old.fingerprint}: "
                     f"{old.first_seen.isoformat()} {severity_in(old.severity, lang)} -> "
                     f"{new.first_seen.isoformat()} {severity_in(new.severity, lang)}  {title_in(new, lang)}")
    return lines
