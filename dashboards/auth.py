"""Logging in to the operations centre: sessions, CSRF protection, and who may see which page.

Installed on the Flask server that carries the Dash apps (:func:`install`):

- ``GET/POST /login`` (a plain HTML form; only a POST ever tries a login, a HEAD is a GET),
  ``POST /logout``, ``GET /whoami``. A login ends the session its request came with, if any.
- A session is a random token in an HttpOnly, SameSite=Lax cookie; the
  database keeps its hash and expiry (:class:`alerts.people.People`).
- CSRF: every request that is not GET/HEAD/OPTIONS must carry a token,
  in the ``X-CSRFToken`` header (Dash's renderer sends it by itself from the
  ``_csrf_token`` cookie) or the ``csrf_token`` form field, equal to that
  cookie and, when the request belongs to a session, to the session's own
  token. So a cross-site form or fetch (which can neither read our cookie
  nor set our header) is refused with 403, logged in or not.
- Who may see what is decided from the route the request matched, never
  from words in its path (a path with ``.`` or ``..`` segments is refused
  outright): the login form, ``/logout``, ``/whoami``, ``/healthz``, ``/api/freshness`` and the
  pages' static files (Dash's assets and component bundles) are public;
  ``/console/...`` needs a session (any role; what one may *do* there is
  checked by the alerts service); ``/cameras/...`` (the page, its data and
  its key frames: people are on them) needs one unless
  ``alerts.auth.cameras_require_login`` is off; the wall and the other pages
  stay open unless ``alerts.auth.wall_requires_login`` is set. Any session
  will do there, e.g. a ``viewer`` kiosk account on the wall's screen, unless
  ``alerts.auth.page_roles`` names a page's least role (``{"/reports311/" = "operator"}``): a
  session below it is answered 403 there, saying why.
- Every answer carries the security headers of :mod:`dashboards.http_security`; an answer to a
  request with a session, of a page that needs one, or of the login routes is ``no-store`` (a
  control room's shared browser keeps nothing of it after a logout), the pages' static files
  excepted; cookies are ``Secure`` when the request came over HTTPS (directly, or by
  ``X-Forwarded-Proto`` from a proxy in ``web.trusted_proxies``, whose
  ``X-Forwarded-For`` then also names the client for login throttling).
- A session idles out ``idle_minutes`` after its person's last request (:mod:`dashboards.activity`:
  a page's own timers and polls do not count; a kiosk's session never idles out).
"""

from __future__ import annotations

import hmac
import html
import json
import logging
import secrets
from collections.abc import Sequence
from urllib.parse import quote, urlsplit

from flask import Flask, Response, g, has_request_context, redirect, request
from flask.typing import ResponseReturnValue

from alerts.lifecycle import label, role_rank
from alerts.people import NAME_RE, LoginBusy, LoginRefused, People, Principal
from alerts.settings import AuthSettings
from dashboards.activity import by_a_person
from dashboards.http_security import SecurityHeaders
from ioc.http_proxies import ProxyTrust

log = logging.getLogger(__name__)

SESSION_COOKIE = "ioc_session"
CSRF_COOKIE = "_csrf_token"  # the name dash-renderer reads
CSRF_HEADER = "X-CSRFToken"  # the header dash-renderer sends
CSRF_FIELD = "csrf_token"
CONSOLE_PREFIX = "/console"
REPORTS_PREFIX = "/reports"  # reports name officers and hold incident notes: a session is needed
SECURITY_PREFIX = "/security"  # attackers' addresses and targeted accounts: a session is needed
PRESS_PREFIX = "/press"  # press alerts name the departments that must answer: a session is needed
CAMERAS_PREFIX = "/cameras"
REPORTS311_PREFIX = "/reports311"  # citizens' reports: their photos, places and words; staff change them
REPLAY_PREFIX = "/replay"  # replays queue work on the server and show the whole record: a session is needed
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_LOGIN_FORM = 16_384  # bytes of a posted login form
MAX_FORM_BODY = 1 << 20  # bytes of any other posted form (a screen profile: at most 100,000 characters)
MAX_JSON_BODY = 16 << 20  # bytes of a JSON body (a page callback's inputs and state)
# routes (Flask endpoints) never behind a login: the login itself and health (and static files: is_static)
PUBLIC_ENDPOINTS = frozenset({"ioc_login", "ioc_logout", "ioc_whoami", "ioc_healthz", "ioc_favicon"})
# never kept by a cache, with a session or without (a form with its CSRF token, who is logged in)
NO_STORE_ENDPOINTS = frozenset({"ioc_login", "ioc_logout", "ioc_whoami"})
BUSY = "Too many logins at this moment: try again in a few seconds."
# answered without looking up a session: the truth banner must learn that the store is down even
# when the session store is that store (feed names and times only, the same for everyone)
SESSIONLESS_ENDPOINTS = frozenset({"ioc_freshness"})
DASH_BUNDLES = "_dash-component-suites/<string:package_name>/<path:fingerprinted_path>"


def is_static(endpoint: str | None) -> bool:
    """Whether a matched route serves static files of a page (assets, component bundles, favicon).

    Decided by the route, not the path: Flask's and each Dash page's asset blueprint
    (``<name>.static``), Dash's component bundles and its favicon.
    """
    if not endpoint:
        return False
    return (
        endpoint == "static"
        or endpoint.endswith(".static")
        or endpoint.endswith("/" + DASH_BUNDLES)
        or endpoint.endswith("/_favicon.ico")
    )


def has_dot_segment(path: str) -> bool:
    """Whether a (decoded) path has a ``.`` or ``..`` segment: never needed, refused before routing."""
    return any(seg in (".", "..") for seg in path.replace("\\", "/").split("/"))


def under(route: str, prefix: str) -> bool:
    """Whether ``route`` is ``prefix`` or below it."""
    return route == prefix or route.startswith(prefix + "/")


def principal() -> Principal | None:
    """The logged-in user of the current request, if any (``None`` outside a request)."""
    if not has_request_context():
        return None
    return getattr(g, "ioc_principal", None)


def safe_next(target: str | None, default: str = "/console/") -> str:
    """A redirect target on this site only (a path, never ``//host`` or ``http://``)."""
    if not target:
        return default
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target)  # a header split (CR LF), a tab trick
    ):
        return default
    return target


def _same(a: str | None, b: str | None) -> bool:
    """Two secrets equal, compared in constant time (as bytes: a header may carry any character)."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a).encode("utf-8", "surrogatepass"),
                                                       str(b).encode("utf-8", "surrogatepass"))


class Auth:
    """The login pages and the request checks of one server."""

    def __init__(
        self,
        people: People,
        settings: AuthSettings,
        title: str = "Operations Centre",
        trusted_proxies: Sequence[str] = (),
        extra_origins: Sequence[str] = (),
        language: str = "en",
        city: str = "",
    ) -> None:
        self.language = language  # the city's default; a screen or user may choose another
        self.people = people
        self.settings = settings
        self.title = title  # a dashboards catalogue message: said in the page's language
        self.city = city
        self.proxies = ProxyTrust(trusted_proxies)
        self.headers = SecurityHeaders(extra_origins)

    @staticmethod
    def of(server: Flask) -> Auth | None:
        """The :class:`Auth` installed on ``server``, if any."""
        return server.extensions.get("ioc_auth")

    # -- installing ------------------------------------------------------------------
    def install(self, server: Flask) -> None:
        """Register the checks and the routes on ``server``."""
        server.extensions["ioc_auth"] = self
        # a body Werkzeug reads past this (a chunked one that declares no length) is refused (413)
        server.config["MAX_CONTENT_LENGTH"] = max(server.config.get("MAX_CONTENT_LENGTH") or 0, MAX_JSON_BODY)
        server.before_request(self.before_request)
        server.after_request(self.after_request)
        server.add_url_rule("/login", "ioc_login", self.login, methods=["GET", "POST"])
        server.add_url_rule("/logout", "ioc_logout", self.logout, methods=["POST"])
        server.add_url_rule("/whoami", "ioc_whoami", self.whoami, methods=["GET"])

    # -- every request ---------------------------------------------------------------
    def before_request(self) -> ResponseReturnValue | None:
        """Find the session, refuse a state change without the CSRF token, keep closed pages closed."""
        if has_dot_segment(request.path):
            log.warning("refused %s %r from %s: '.' or '..' in the path", request.method, request.path,
                        self.client_address())
            return Response(self._said("Refused: a path may not contain '.' or '..' segments."), status=400,
                            mimetype="text/plain")
        if request.method not in SAFE_METHODS and (request.content_length or 0) > (
                MAX_JSON_BODY if request.mimetype == "application/json" else MAX_FORM_BODY):
            # refused before anything reads it: the CSRF check below would parse a form of any size
            return Response(self._said("The request is too large."), status=413, mimetype="text/plain")
        endpoint = request.url_rule.endpoint if request.url_rule is not None else None
        if request.method == "GET" and (is_static(endpoint) or endpoint in SESSIONLESS_ENDPOINTS):
            return None
        g.ioc_principal = self.people.session(request.cookies.get(SESSION_COOKIE), active=by_a_person())
        g.ioc_csrf_new = None
        if request.method not in SAFE_METHODS and not self._csrf_ok():
            log.warning(
                "refused %s %s from %s: CSRF token missing or wrong",
                request.method,
                request.path,
                self.client_address(),
            )
            return Response(
                self._said("Refused: this request carries no valid CSRF token. "
                           "Reload the page and try again."),
                status=403,
                mimetype="text/plain",
            )
        if endpoint in PUBLIC_ENDPOINTS or is_static(endpoint):
            return None
        route = request.url_rule.rule if request.url_rule is not None else request.path
        who = principal()
        if self.needs_login(route) and who is None:
            if request.method == "GET" and "text/html" in request.headers.get("Accept", ""):
                return redirect(f"/login?next={quote(request.full_path.rstrip('?'), safe='/')}", code=302)
            return Response(self._said("Log in first."), status=401, mimetype="text/plain")
        need = self.role_needed(route)
        if need is not None and who is not None and role_rank(who.role) < role_rank(need):
            log.warning("refused %s %s to %s (%s): the page needs %s", request.method, request.path, who.name,
                        who.role, need)
            from dashboards.i18n import page_language, t

            lang = page_language(self.language)
            said = t("This page needs a {need} or above; you are logged in as {role}.", lang,
                     need=t(label(need), lang), role=t(label(who.role), lang))
            return Response(said, status=403, mimetype="text/plain")
        return None

    def role_needed(self, route: str) -> str | None:
        """The least role ``[alerts.auth] page_roles`` asks of a route (the longest prefix named), if any."""
        named = [prefix for prefix in self.settings.page_roles if under(route, prefix.rstrip("/"))]
        return self.settings.page_roles[max(named, key=len)] if named else None

    def needs_login(self, route: str) -> bool:
        """Whether a route (a matched rule, or the path of an unmatched request) needs a session."""
        guarded = (CONSOLE_PREFIX, REPORTS_PREFIX, SECURITY_PREFIX, PRESS_PREFIX, REPORTS311_PREFIX,
                   REPLAY_PREFIX)
        if any(under(route, prefix) for prefix in guarded):
            return True
        if self.settings.cameras_require_login and under(route, CAMERAS_PREFIX):
            return True
        if self.role_needed(route) is not None:
            return True
        return self.settings.wall_requires_login

    def client_address(self) -> str | None:
        """The client's address (the one a trusted proxy names, behind one)."""
        return self.proxies.client_address(request)

    def secure_cookies(self) -> bool:
        """Whether cookies get ``Secure``: over HTTPS (directly or via a trusted proxy), or if configured."""
        return self.settings.secure_cookies or self.proxies.is_https(request)

    def _csrf_ok(self) -> bool:
        sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD)
        if not _same(sent, request.cookies.get(CSRF_COOKIE)):
            return False
        who = principal()
        return who is None or _same(sent, who.csrf_token)

    def csrf_token(self) -> str:
        """The token the current page must send back: the session's, or a fresh anonymous one."""
        who = principal()
        if who is not None:
            return who.csrf_token
        current = request.cookies.get(CSRF_COOKIE)
        if current:
            return current
        if not getattr(g, "ioc_csrf_new", None):
            g.ioc_csrf_new = secrets.token_urlsafe(32)
        return g.ioc_csrf_new

    def after_request(self, response: Response) -> Response:
        """Security headers (``no-store`` where :meth:`private`); keep the CSRF cookie equal to the token
        the page must send."""
        self.headers.apply(response)
        if self.private():
            self.headers.no_store(response)
        if getattr(g, "ioc_logged_out", False) or getattr(g, "ioc_cookie_set", False):
            return response
        who = principal()
        if who is not None and who.renewed:  # a kiosk session moved on: so does its cookie
            self._set_session_cookie(response, request.cookies.get(SESSION_COOKIE) or "", who)
        want = self.csrf_token() if hasattr(g, "ioc_principal") else None
        if want and request.cookies.get(CSRF_COOKIE) != want:
            self._set_csrf_cookie(response, want)
        return response

    def private(self) -> bool:
        """Whether the current answer must stay out of every cache (the browser's own included): the
        request came with a session, or logged in or out, or asked a login route or a page that needs
        a session. The pages' static files (assets, component bundles) never are."""
        endpoint = request.url_rule.endpoint if request.url_rule is not None else None
        if is_static(endpoint):
            return False
        if principal() is not None or endpoint in NO_STORE_ENDPOINTS:
            return True
        if getattr(g, "ioc_logged_out", False) or getattr(g, "ioc_cookie_set", False):
            return True
        return self.needs_login(request.url_rule.rule if request.url_rule is not None else request.path)

    def _set_session_cookie(self, response: Response, token: str, who: Principal) -> None:
        lifetime = int((who.expires_at - self.people.clock()).total_seconds())
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Lax", max_age=max(lifetime, 0),
                            secure=self.secure_cookies(), path="/")

    def _set_csrf_cookie(self, response: Response, token: str) -> None:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            httponly=False,
            samesite="Strict",
            secure=self.secure_cookies(),
            path="/",
        )

    # -- routes ----------------------------------------------------------------------
    def login(self) -> Response:
        """The login form (GET, HEAD), or logging in (POST only; the form carries the CSRF token)."""
        if request.method != "POST":  # a HEAD skips the CSRF check (a safe method): it never logs in
            return self._form(safe_next(request.args.get("next")))
        target = safe_next(request.values.get("next"))
        if (request.content_length or 0) > MAX_LOGIN_FORM:  # a name and a password: never megabytes
            from dashboards.i18n import http_text, page_language

            return self._form(target, error=http_text(413, page_language(self.language)), status=413)
        name = (request.form.get("username") or "").strip()
        password = request.form.get("password") or ""
        client = self.client_address()
        try:
            user = self.people.authenticate(name, password, client)
        except LoginRefused as exc:
            log.info("login refused for %r from %s", name[:64], client)
            # the name is written back into the form only if some account could have it
            return self._form(target, error=str(exc), name=name if NAME_RE.match(name) else "", status=401)
        except LoginBusy as exc:  # neither tried nor counted: every password-hash slot is taken
            log.warning("login of %r from %s not tried: %s", name[:64], client, exc)
            busy = self._form(target, error=BUSY, name=name if NAME_RE.match(name) else "", status=503)
            busy.headers["Retry-After"] = str(exc.retry_after_s)
            return busy
        self.people.end_session(request.cookies.get(SESSION_COOKIE))  # a login ends the session it came in
        token, who = self.people.start_session(user, client, request.headers.get("User-Agent"))
        log.info("%s (%s) logged in from %s", who.name, who.role, client)
        response = redirect(target, code=303)
        self._set_session_cookie(response, token, who)
        self._set_csrf_cookie(response, who.csrf_token)
        g.ioc_cookie_set = True
        return response

    def logout(self) -> Response:
        """End the session (POST with the CSRF token) and go back to the login form."""
        self.people.end_session(request.cookies.get(SESSION_COOKIE))
        response = redirect("/login", code=303)
        response.delete_cookie(SESSION_COOKIE, path="/", secure=self.secure_cookies(), httponly=True)
        response.delete_cookie(CSRF_COOKIE, path="/", secure=self.secure_cookies())
        g.ioc_logged_out = True
        return response

    def _said(self, message: str) -> str:
        """A refusal in the requester's language (the screen's ``?lang=``, its cookie, the city's)."""
        from dashboards.i18n import page_language, t

        return t(message, page_language(self.language))

    def whoami(self) -> Response:
        """``{"name", "role"}`` of the session, or 401: the console checks it to notice an expired session."""
        who = principal()
        if who is None:
            said = json.dumps({"error": self._said("not logged in")}, ensure_ascii=False)
            return Response(said, status=401, mimetype="application/json")
        return Response(
            json.dumps({"name": who.name, "role": who.role, "expires_at": who.expires_at.isoformat()}),
            mimetype="application/json",
        )

    def _form(self, target: str, error: str = "", name: str = "", status: int = 200) -> Response:
        from dashboards.i18n import page_language, t

        who = principal()
        lang = page_language(self.language)

        def tr(text: str, **params: str) -> str:
            return html.escape(t(text, lang, **params))

        already = (
            f'<p class="login-note">{tr("Logged in as")} <b>{html.escape(who.shown)}</b> '
            f'({html.escape(label(who.role))}). <a href="/console/">{tr("Open the console")}</a></p>'
            if who
            else ""
        )
        title = html.escape(" · ".join(x for x in (t(self.title, lang), self.city) if x))
        sub = tr("Duty console: log in with your own account. Every action is recorded in your name.")
        err = f'<p class="login-error" role="alert">{tr(error)}</p>' if error else ""
        page = f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{tr("Log in")} · {title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/console/assets/theme.css">
<link rel="stylesheet" href="/console/assets/console.css"></head>
<body class="login-body"><main class="login-page">
<h1>{title}</h1>
<p class="login-sub">{sub}</p>
{already}{err}
<form method="post" action="/login" class="login-form" autocomplete="on">
<input type="hidden" name="{CSRF_FIELD}" value="{html.escape(self.csrf_token())}">
<input type="hidden" name="next" value="{html.escape(target)}">
<label for="username">{tr("Name")}</label>
<input id="username" name="username" value="{html.escape(name)}" autocomplete="username" required autofocus>
<label for="password">{tr("Password")}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" id="login-submit">{tr("Log in")}</button>
</form>
<p class="login-foot"><a href="/">{tr("Back to the wall")}</a></p>
</main></body></html>"""
        return Response(page, status=status, mimetype="text/html")


def install(
    server: Flask,
    people: People,
    settings: AuthSettings,
    title: str = "Operations Centre",
    trusted_proxies: Sequence[str] = (),
    extra_origins: Sequence[str] = (),
    language: str = "en",
    city: str = "",
) -> Auth:
    """Create and install the :class:`Auth` of ``server``."""
    auth = Auth(people, settings, title, trusted_proxies, extra_origins, language, city)
    auth.install(server)
    return auth
