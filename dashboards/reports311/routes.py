"""The field-report page's plain routes: the photos, and the staff API that changes a report's status.

``POST /reports311/api/requests/<id>/status`` with a JSON body ``{"status": "assigned" | "in_progress"
| "resolved" | "rejected", "reason": "...", "department": ..., "assignee_group": ...}``: the console's
login guard covers ``/reports311`` (a session is needed) and its CSRF check every POST (the
``X-CSRFToken`` header); a viewer may look but not change. Each change is stored with its actor
(:mod:`ioc.feeds.reports.lifecycle`) and so shown by Open311 ``GET requests/{id}``.
"""

from __future__ import annotations

import json
import mimetypes
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, Response, request, send_file

from dashboards import auth
from ioc.feeds.reports.lifecycle import Change, ChangeRefused, change_status
from ioc.feeds.reports.queries import photo_file

API_ROUTE = "/reports311/api/requests/<path:request_id>/status"
STAFF_ROLES = frozenset({"operator", "duty_officer", "analyst", "admin"})  # a viewer only looks


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json")


def register_routes(server: Flask, pool: Any) -> None:
    """Add the photo and staff API routes to ``server``."""

    def photo(sha256: str) -> Response:
        path = photo_file(pool, sha256)
        if path is None or not Path(path).is_file():
            return Response("no such photo", status=404, mimetype="text/plain")
        response = send_file(path, mimetype=mimetypes.guess_type(path)[0] or "application/octet-stream",
                             max_age=3600)
        response.headers["Cache-Control"] = "private, max-age=3600"  # citizens' photos: no shared caches
        return response

    def set_status(request_id: str) -> Response:
        who = auth.principal()
        if who is None:
            return _json({"error": "log in first"}, 401)
        if who.role not in STAFF_ROLES:
            return _json({"error": f"a {who.role} may not change reports"}, 403)
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _json({"error": "the body must be a JSON object"}, 400)
        fields = {k: body.get(k) for k in ("status", "reason", "department", "assignee_group")}
        if any(v is not None and not isinstance(v, str) for v in fields.values()):
            return _json({"error": "status, reason, department and assignee_group are strings"}, 400)
        if len(fields["reason"] or "") > 1000:
            return _json({"error": "reason longer than 1000 characters"}, 400)
        change = Change(status=fields["status"] or "", actor=who.name, reason=fields["reason"] or "",
                        department=fields["department"] or None,
                        assignee_group=fields["assignee_group"] or None)
        try:
            event = change_status(pool, request_id[:128], change, datetime.now(UTC))
        except ChangeRefused as exc:
            return _json({"error": str(exc)}, exc.code)
        except ValueError as exc:  # a department or team that is not a code
            return _json({"error": str(exc).splitlines()[0][:200]}, 400)
        return _json({"request_id": event.source_id, "status": event.status, "time": event.time.isoformat(),
                      "actor": event.actor, "reason": event.reason, "department": event.department,
                      "assignee_group": event.assignee_group})

    server.add_url_rule("/reports311/photo/<sha256>", "ioc_reports311_photo", photo, methods=["GET"])
    server.add_url_rule(API_ROUTE, "ioc_reports311_status", set_status, methods=["POST"])
