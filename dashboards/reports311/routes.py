"""The field-report page's plain routes: the photos, and the staff API that changes a report's status.

``POST /reports311/api/requests/<id>/status`` with a JSON body ``{"status": "assigned" | "in_progress"
| "resolved" | "rejected", "reason": "...", "department": ..., "assignee_group": ...}``: the console's
login guard covers ``/reports311`` (a session is needed) and its CSRF check every POST (the
``X-CSRFToken`` header); a viewer may look but not change. Each change is stored with its actor
(:mod:`ioc.feeds.reports.lifecycle`) and so shown by Open311 ``GET requests/{id}``. A refusal's
``error`` is a catalogue message (domain ``reports311``) in the requesting user's language (the
screen's ``?lang=``, its cookie, the user's own, the city's); status codes in it stay codes in English.
"""

from __future__ import annotations

import json
import mimetypes
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, Response, send_file

from dashboards import auth
from dashboards.i18n import page_language
from dashboards.i18n import t as dashboards_t
from dashboards.request_body import json_body
from ioc.feeds.reports.lifecycle import Change, ChangeRefused, change_status
from ioc.feeds.reports.queries import photo_file
from ioc.i18n import DEFAULT_LANGUAGE, Translator, format_number
from ioc.records import unkeepable

API_ROUTE = "/reports311/api/requests/<path:request_id>/status"
STAFF_ROLES = frozenset({"operator", "duty_officer", "analyst", "admin"})  # a viewer only looks
MAX_REASON = 1000
t = Translator("reports311")


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json")


def _refused(exc: ChangeRefused, lang: str) -> str:
    """A lifecycle refusal in ``lang``; its status codes also given by name (``current_name``...)."""
    from dashboards.reports311.page import STATUS  # a status code's name on the page

    names = {f"{k}_name": t(STATUS.get(v, v), lang) for k, v in exc.params.items()
             if k in ("current", "status")}
    return t(exc.message, lang, **exc.params, **names)


def register_routes(server: Flask, pool: Any, language: str = DEFAULT_LANGUAGE) -> None:
    """Add the photo and staff API routes to ``server``; ``language``: the city's (``[web] language``)."""

    def photo(sha256: str) -> Response:
        path = photo_file(pool, sha256)
        if path is None or not Path(path).is_file():
            return Response(t("No such photo.", page_language(language)), status=404, mimetype="text/plain")
        response = send_file(path, mimetype=mimetypes.guess_type(path)[0] or "application/octet-stream")
        # citizens' photos: kept by no cache, not even the browser's (a control room's is shared by shifts)
        response.headers["Cache-Control"] = "no-store"
        return response

    def set_status(request_id: str) -> Response:
        who = auth.principal()
        lang = page_language(language)
        if who is None:
            return _json({"error": t("log in first", lang)}, 401)
        if who.role not in STAFF_ROLES:
            role = dashboards_t(who.role.replace("_", " "), lang)
            return _json({"error": t("a {role} may not change reports", lang, role=role)}, 403)
        body = json_body()
        if not isinstance(body, dict):
            return _json({"error": t("the body must be a JSON object", lang)}, 400)
        fields = {k: body.get(k) for k in ("status", "reason", "department", "assignee_group")}
        if any(v is not None and not isinstance(v, str) for v in fields.values()):
            return _json({"error": t("status, reason, department and assignee_group are strings", lang)}, 400)
        if len(fields["reason"] or "") > MAX_REASON:
            return _json({"error": t("reason longer than {n} characters", lang,
                                     n=format_number(MAX_REASON, lang, 0))}, 400)
        if bad := unkeepable(fields["reason"] or ""):
            return _json({"error": t("reason holds a control character ({char})", lang, char=bad)}, 400)
        if unkeepable(request_id):
            return _json({"error": t("no report {id}", lang, id=repr(request_id[:64]))}, 404)
        change = Change(status=fields["status"] or "", actor=who.name, reason=fields["reason"] or "",
                        department=fields["department"] or None,
                        assignee_group=fields["assignee_group"] or None)
        try:
            event = change_status(pool, request_id[:128], change, datetime.now(UTC))
        except ChangeRefused as exc:
            return _json({"error": _refused(exc, lang)}, exc.code)
        except ValueError:  # a department or team that is not a code
            return _json({"error": t("department and assignee_group are codes of 1 to 64 letters, digits, "
                                     "'.', '_' or '-'", lang)}, 400)
        return _json({"request_id": event.source_id, "status": event.status, "time": event.time.isoformat(),
                      "actor": event.actor, "reason": event.reason, "department": event.department,
                      "assignee_group": event.assignee_group})

    server.add_url_rule("/reports311/photo/<sha256>", "ioc_reports311_photo", photo, methods=["GET"])
    server.add_url_rule(API_ROUTE, "ioc_reports311_status", set_status, methods=["POST"])
