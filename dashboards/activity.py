"""Which requests are a person at work, so that only those keep a session from idling out.

An open page asks the server by itself all the time: Dash's timers (``dcc.Interval``) call their
callbacks every few seconds, callbacks they change call others, the console asks ``/whoami``, the
camera wall fetches new key frames. Counted as activity, they kept a duty officer's session alive
for ever on a console left open in an empty room, and ``alerts.auth.idle_minutes`` never ended
anything. The server cannot tell a timer's callback from a click's (a map redrawn by a timer
reports a ``clickData`` change too), but the page can: ``assets/activity.js``, on every page, marks
the requests its scripts send within a few seconds of a key, click, touch, wheel or mouse move with
the :data:`HEADER`. A request counts (:func:`by_a_person`) when it is

- a script's request (a page's callback, a fetch) that carries the header;
- any other state change (``POST``: a form, the login);
- a document loaded in a window or frame (``Sec-Fetch-Mode: navigate``; a browser without the
  ``Sec-Fetch-*`` headers: a ``GET`` that accepts ``text/html``).

Everything else (timers' callbacks, images, JSON a script polls, the pages' bundles) does not. The
header only ever keeps its own sender's session alive, so trusting it gives nobody anything.
"""

from __future__ import annotations

from flask import request

from dashboards.request_body import DISPATCH

HEADER = "X-IOC-Activity"  # set by assets/activity.js on requests that follow a person's input


def by_a_person() -> bool:
    """Whether the current request was made by a person at the page, as the module says."""
    if request.headers.get(HEADER):
        return True
    if request.method == "POST":
        return not request.path.endswith(DISPATCH)
    if request.method != "GET":
        return False
    mode = request.headers.get("Sec-Fetch-Mode")
    if mode is not None:
        return mode == "navigate"
    return "text/html" in request.headers.get("Accept", "")
