"""The screens' routes: the screen itself, its profile for polling, and the admin page.

- ``GET /screen/<name>``: a bare page (``assets/screen.js``) that shows the profile's items in
  turn, each page in a frame; it asks a login as the profile's kiosk account when it has none.
- ``GET /screen/<name>/profile.json``: the profile and its revision; a running screen polls it and
  applies a change without reloading. It is public (a screen polls it before its login), so it
  leaves out what only the server needs: the kiosk account's name (a name to guess passwords at).
- ``GET /screens/``, ``POST /screens/save``, ``POST /screens/<name>/reset``: the admin page
  (role ``admin``): every profile as JSON to edit; saved edits go to the database.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import psycopg
from flask import Flask, Response, redirect, request
from psycopg_pool import ConnectionPool
from pydantic import ValidationError

from dashboards import auth
from dashboards import components as c
from dashboards.i18n import page_language, t
from dashboards.screens.profiles import ActiveProfile, active_profiles
from ioc.config import Settings
from ioc.i18n import format_number, validation_reason
from ioc.screens import ScreenProfile
from ioc.store.screen_profiles import delete_profile, save_profile

log = logging.getLogger(__name__)

ADMIN_ROLE = "admin"
MAX_PROFILE = 100_000  # characters of a posted profile
STORE_DOWN = "The data store is unreachable; this screen will be back with it."
FOLLOWS = "A running screen follows a saved change within seconds, without a reload."
EXAMPLE = {"name": "new-screen", "title": "", "language": None, "kiosk_account": None, "resume_after_s": 120,
           "items": [{"page": "/", "dwell_s": 60},
                     {"grid": {"columns": 2, "rows": 1, "panels": ["/sea/", "/cameras/"]}, "dwell_s": 30}]}


def _text(status: int, body: str) -> Response:
    return Response(body, status=status, mimetype="text/plain")


def _page(lang: str, title: str, body: str, body_attrs: str = "", head: str = "") -> str:
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<title>{html.escape(title)}</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'{c.SHARED_TAGS}{head}</head>'
            f"<body {body_attrs}>{body}</body></html>")


#: what a screen never needs to see of its profile (the server asks the login itself)
PRIVATE_FIELDS = frozenset({"kiosk_account"})


def public_profile(profile: ScreenProfile) -> tuple[dict[str, Any], str]:
    """What anyone may read of a profile, and its revision (a digest of that alone: a digest of the
    whole would let the kiosk account's name be guessed offline)."""
    doc = profile.model_dump(mode="json", exclude=set(PRIVATE_FIELDS))
    text = json.dumps(doc, sort_keys=True, ensure_ascii=False)
    return doc, hashlib.sha256(text.encode()).hexdigest()[:16]


def _validation_lines(exc: ValidationError, lang: str) -> list[str]:
    return [f"{'.'.join(str(p) for p in e['loc']) or '(profile)'}: {validation_reason(e, lang)}"
            for e in exc.errors()]


def register_screens(server: Flask, pool: ConnectionPool, settings: Settings) -> None:
    """Add the screens' routes to the pages' server."""

    def req_lang() -> str:
        return page_language(settings)

    def find(name: str) -> ActiveProfile | Response:
        """The screen's active profile, or the reply that says why there is none (503, 404)."""
        try:
            active = active_profiles(pool, settings).get(name)
        except psycopg.Error:
            return _text(503, t(STORE_DOWN, req_lang()))
        if active is None:
            return _text(404, t("No screen is named {name}.", req_lang(), name=repr(name)))
        return active

    @server.route("/screen/<name>", endpoint="ioc_screen")
    def screen(name: str) -> Response:
        active = find(name)
        if isinstance(active, Response):
            return active
        profile = active.profile
        who = auth.principal()
        if profile.kiosk_account and who is None and auth.Auth.of(server) is not None:
            return redirect(f"/login?next={quote(request.path, safe='/')}", code=302)  # type: ignore[return-value]
        lang = profile.language or page_language(settings)
        body = (f'<div id="screen" data-name="{html.escape(name)}" '
                f'data-profile-url="/screen/{quote(name)}/profile.json" '
                f'data-poll-ms="{settings.web.truth_poll_ms}">'
                '<div id="screen-stage" class="screen-stage"></div>'
                '<div id="screen-paused" class="screen-paused" hidden></div></div>')
        head = ('<link rel="stylesheet" href="/console/assets/screen.css">'
                '<script src="/console/assets/screen.js" defer></script>')
        title = f"{profile.title or profile.name} · {settings.city}"
        return Response(_page(lang, title, body, 'class="screen-body" data-ioc-live="self"', head),
                        mimetype="text/html")

    @server.route("/screen/<name>/profile.json", endpoint="ioc_screen_profile")
    def screen_profile(name: str) -> Response:
        active = find(name)
        if isinstance(active, Response):
            return active
        lang = active.profile.language or page_language(settings)
        profile, revision = public_profile(active.profile)
        doc = {"name": name, "revision": revision, "version": active.version, "profile": profile,
               "texts": {"paused": t("Rotation paused while someone works here; it resumes after {s} s "
                                     "without keyboard or mouse.", lang)}}
        return Response(json.dumps(doc, ensure_ascii=False), mimetype="application/json",
                        headers={"Cache-Control": "no-store"})

    def admin_only() -> Response | None:
        who = auth.principal()
        if who is None:
            if request.method == "GET":
                return redirect(f"/login?next={quote(request.path, safe='/')}", code=302)  # type: ignore[return-value]
            return _text(401, t("Log in first.", req_lang()))
        if who.role != ADMIN_ROLE:
            return _text(403, t("Only an admin may edit the screens.", req_lang()))
        return None

    def admin_page(errors: dict[str, list[str]] | None = None, drafts: dict[str, str] | None = None,
                   status: int = 200) -> Response:
        lang = page_language(settings)
        guard = auth.Auth.of(server)
        token = html.escape(guard.csrf_token()) if guard is not None else ""
        errors, drafts = dict(errors or {}), dict(drafts or {})
        active_now = active_profiles(pool, settings)
        for key in [k for k in errors if k and k not in active_now]:  # a new screen's refusal: its form
            errors[""] = errors.pop(key)
            drafts[""] = drafts.pop(key, "")
        csrf = f'<input type="hidden" name="{auth.CSRF_FIELD}" value="{token}">'

        def form(key: str, text: str, reset: str = "") -> str:
            errs = "".join(f"<li>{html.escape(e)}</li>" for e in errors.get(key, []))
            err_html = f'<ul class="screen-errors" role="alert">{errs}</ul>' if errs else ""
            return (f'<form method="post" action="/screens/save" class="screen-form">{csrf}{err_html}'
                    f'<textarea name="profile" rows="14" spellcheck="false">{html.escape(text)}</textarea>'
                    f'<button type="submit">{html.escape(t("Save", lang))}</button></form>{reset}')

        sections = []
        for name, active in active_now.items():
            if active.edited:
                when = c.local_time(active.updated_at, ZoneInfo(settings.timezone))
                source = t("edited (version {v}) by {who} at {time}", lang, v=active.version,
                           who=active.updated_by, time=when)
            else:
                source = t("from the configuration", lang)
            reset = ""
            if active.edited:
                label = t("Back to the configuration" if active.configured else "Delete", lang)
                reset = (f'<form method="post" action="/screens/{quote(name)}/reset" class="screen-reset">'
                         f'{csrf}<button type="submit">{html.escape(label)}</button></form>')
            text = drafts.get(name) or json.dumps(active.profile.model_dump(mode="json"), indent=2,
                                                  ensure_ascii=False)
            sections.append(
                f'<section class="screen-admin" data-screen="{html.escape(name)}"><h2>{html.escape(name)} '
                f'<a href="/screen/{quote(name)}">{html.escape(t("open", lang))}</a></h2>'
                f'<p class="screen-source">{html.escape(source)}</p>{form(name, text, reset)}</section>')
        new = drafts.get("") or json.dumps(EXAMPLE, indent=2)
        sections.append(f'<section class="screen-admin" data-screen="">'
                        f'<h2>{html.escape(t("New screen", lang))}'
                        f'</h2>{form("", new)}</section>')
        title = t("Screens", lang)
        body = (f'<h1>{html.escape(title)} · {html.escape(settings.city)}</h1>'
                f'<p>{html.escape(t(FOLLOWS, lang))}</p>{"".join(sections)}')
        page = _page(lang, title, body, 'class="feed-page"',
                     '<link rel="stylesheet" href="/console/assets/feed-page.css">'
                     '<link rel="stylesheet" href="/console/assets/screen.css">')
        return Response(page, status=status, mimetype="text/html")

    @server.route("/screens/", endpoint="ioc_screens_admin")
    def screens_admin() -> Response:
        return admin_only() or admin_page()

    @server.route("/screens/save", methods=["POST"], endpoint="ioc_screens_save")
    def screens_save() -> Response:
        refused = admin_only()
        if refused is not None:
            return refused
        text = request.form.get("profile", "")
        if len(text) > MAX_PROFILE:
            lang = page_language(settings)
            said = t("A profile is at most {n} characters.", lang, n=format_number(MAX_PROFILE, lang, 0))
            return admin_page({"": [said]}, {"": text[:MAX_PROFILE]}, status=400)
        try:
            data = json.loads(text)
        # RecursionError: [[[[...]]]] nested deep; ValueError: an integer of over 4,300 digits
        except (ValueError, RecursionError) as exc:
            return admin_page({"": [f"JSON: {exc}"]}, {"": text}, status=400)
        key = data.get("name", "") if isinstance(data, dict) and isinstance(data.get("name"), str) else ""
        try:
            profile = ScreenProfile.model_validate(data)
        except ValidationError as exc:
            return admin_page({key: _validation_lines(exc, page_language(settings))}, {key: text}, status=400)
        known = set(page_paths())
        unknown = [p for p in profile.pages() if p not in known]
        if unknown:
            return admin_page({key: [f"{p}: {t('no such page on this server', page_language(settings))}"
                                     for p in unknown]}, {key: text}, status=400)
        who = auth.principal()
        name = who.name if who else "?"
        version = save_profile(pool, profile.name, profile.model_dump(mode="json"), name)
        log.info("screen profile %s saved (version %d) by %s", profile.name, version, name)
        return redirect("/screens/", code=303)  # type: ignore[return-value]

    @server.route("/screens/<name>/reset", methods=["POST"], endpoint="ioc_screens_reset")
    def screens_reset(name: str) -> Response:
        refused = admin_only()
        if refused is not None:
            return refused
        delete_profile(pool, name)
        return redirect("/screens/", code=303)  # type: ignore[return-value]


def page_paths() -> list[str]:
    """The pages a screen may show: the wall and every registered page."""
    from dashboards.registry import PAGES

    return ["/", *(p.path for p in PAGES)]
