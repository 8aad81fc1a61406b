"""The duty officer's console: live incidents and alerts, actions with a note, history, shift figures.

A second Dash app on the wall's Flask server, under ``/console/`` (login
required, see :mod:`dashboards.auth`). One screen, dark like the wall:

- a header (city, who is logged in and as what, the clock, log out),
- the shift's figures (open by severity, waiting for acknowledgement, mean
  time to acknowledge and to resolve this shift, failed notifications,
  active silences),
- filters (feed, severity, state, area, time) and an AG Grid of incidents
  (the worst alert of each, with how many it groups) or of single alerts,
- the selected alert: what, where, since when, a link to the data that
  raised it, the actions (acknowledge, assign, resolve, silence, ...) with
  a note, the incident's other alerts, notifications and its audit history,
- a help line of keyboard shortcuts (j/k move, a acknowledge, r resolve ...).

Every action goes through :class:`alerts.service.AlertService` in the
logged-in user's name; the service checks the role and the alert's version,
so the page only greys out what the user may not do. A new critical alert
or escalation flashes the screen and chimes (the console channel).
"""

from __future__ import annotations

from dashboards.console.callbacks import (
    register_callbacks,
)
from dashboards.console.details import (
    detail_children,
    history_children,
)
from dashboards.console.grid import (
    COLUMNS,
    GRID_THEME,
    ROW_CLASS_RULES,
    grid_rows,
)
from dashboards.console.layout import (
    layout,
)
from dashboards.console.routes import (
    attach,
    create_console,
)
from dashboards.console.view import (
    ACTIVE,
    BUTTONS,
    FEED_LABELS,
    HELP,
    PREFIX,
    SILENCE_CHOICES,
    STATE_LABELS,
    TIME_WINDOWS,
    ConsoleView,
    fmt_duration,
    where,
)

__all__ = [
    "ACTIVE",
    "BUTTONS",
    "COLUMNS",
    "ConsoleView",
    "FEED_LABELS",
    "GRID_THEME",
    "HELP",
    "PREFIX",
    "ROW_CLASS_RULES",
    "SILENCE_CHOICES",
    "STATE_LABELS",
    "TIME_WINDOWS",
    "attach",
    "create_console",
    "detail_children",
    "fmt_duration",
    "grid_rows",
    "history_children",
    "layout",
    "register_callbacks",
    "where",
]
