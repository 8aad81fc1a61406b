"""The Open311 GeoReport v2 intake as a WSGI app: services, posting requests, reading their status.

A posted report is validated (key, rate, sizes, types, place inside the city, photos decoded),
routed (department, ward's team, deadlines), grouped with a near duplicate, and published as a
:class:`FieldReport` plus its first status change; a refused post becomes a dead letter with the
reason and the spec's error answer. ``GET requests`` reads the store: no state is kept here.
"""

from __future__ import annotations

import ipaddress
import math
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Request, Response, request
from werkzeug.exceptions import HTTPException

from ingest.reports import multipart
from ingest.reports.formats import answer, answer_document, error
from ingest.reports.limits import RateLimiter
from ingest.reports.photos import PhotoRejected, check_photo, store_photo
from ingest.reports.reader import Query, ReportReader
from ingest.reports.routing import Router
from ingest.reports.wording import Worded, answer_language, http_text
from ioc.events import Event
from ioc.feeds.reports.records import FieldReport, ReportStatusChange
from ioc.feeds.reports.settings import ReportsFeed
from ioc.http_proxies import ProxyTrust
from ioc.records import unkeepable

Publish = Callable[[list[Event]], None]  # records of one report, sent together
# (reason, what was posted without the photo bytes; None: only counted, for a flood of refusals)
DeadLetter = Callable[[str, dict[str, Any] | None], None]
FORMATS = ("json", "xml")
#: the spec's fields of a posted request a dead letter keeps (200 characters each), beside how many others
KEPT_FIELDS = ("service_code", "lat", "long", "address_string", "address_id", "description", "media_url",
               "jurisdiction_id", "device_id", "account_id")
#: when this API last changed what it answers (the discovery answer's ``changeset``)
CHANGESET = "2026-12-08T00:00:00Z"
#: the spec's fields for following up with the sender: personal data this intake does not keep (the
#: answer's service_notice says so when one is given)
CONTACT_FIELDS = ("email", "first_name", "last_name", "phone", "device_id", "account_id")
#: refused posts one address may make a minute (and at once) before they are only counted: nobody can
#: fill the dead letters by posting garbage without a key
REFUSALS_PER_MINUTE, REFUSALS_BURST = 30, 60
#: a urlencoded form carries no photo: its body is text, at most this many bytes and fields (the
#: spec's fields and an app's extras fit many times over; a body of millions of empty fields does not)
FORM_TEXT_BYTES, MAX_FORM_FIELDS = 256_000, 1000
#: the parameters of a post and of a query that mean one value: given twice, which one counts is a guess
SINGLE_POST = (*KEPT_FIELDS, "api_key")
SINGLE_QUERY = ("service_request_id", "service_code", "status", "start_date", "end_date", "jurisdiction_id")
# a decimal number as the spec's examples write it (no ``1_0``, no Arabic-Indic digits, no hex)
_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


class Refused(Worded):
    """A request the intake refuses: the spec's error ``code`` and why (a catalogue message)."""

    def __init__(self, code: int, template: str, /, **params: Any) -> None:
        super().__init__(template, **params)
        self.code, self.description = code, str(self)


def _fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Refused(404, "unknown format {fmt}: json or xml", fmt=repr(fmt[:16]))
    return fmt


def _float(form: Any, name: str) -> float | None:
    raw = form.get(name)
    if raw in (None, ""):
        return None
    if not _DECIMAL.fullmatch(raw.strip()) and raw.strip().lower() not in ("nan", "inf", "-inf", "infinity"):
        raise Refused(400, "{name} is not a number", name=name)
    value = float(raw)
    if not math.isfinite(value):
        raise Refused(400, "{name} is not a finite number", name=name)
    return value


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if value else None


def _date(raw: str | None, name: str) -> datetime | None:
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Refused(400, "{name} is not a W3C date-time", name=name) from None
    if value.tzinfo is None:
        raise Refused(400, "{name} needs a time zone", name=name)
    if not 1970 <= value.year <= 9000:  # the default window is counted back from it
        raise Refused(400, "{name} is not between 1970 and 9000", name=name)
    return value


def _text(form: Any, name: str, limit: int) -> str:
    """A posted text field, refused when longer than ``limit`` or holding a character no report keeps."""
    value = form.get(name, "")
    if len(value) > limit:
        raise Refused(400, "{name} longer than {n} characters", name=name, n=limit)
    if (bad := unkeepable(value)) is not None:
        raise Refused(400, "{name} holds a control character ({char})", name=name, char=bad)
    return value


def _web_address(url: str) -> str | None:
    """``url`` (its scheme in lower case) if it is an http(s) address with a host and no blank, what a
    page may link to; else ``None``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # a malformed host ("http://[x")
        return None
    if parts.scheme not in ("http", "https") or not host or any(c.isspace() for c in url):
        return None
    return parts.scheme + url[url.index(":"):]


def _listed(raw: str, name: str) -> tuple[str, ...]:
    """A comma-separated query parameter's values (at most 200, as the spec's lists are meant)."""
    values = tuple(v for v in raw.split(",") if v)
    if len(values) > 200:
        raise Refused(400, "{name} lists more than 200 values", name=name)
    if any(unkeepable(v) for v in values):
        raise Refused(400, "{name} holds a control character", name=name)
    return values


def _once(values: Any, names: tuple[str, ...]) -> None:
    """Refuse a parameter of ``names`` given more than once (``lat=..&lat=..``): taking the first
    would silently drop the other, and a proxy that reads the last would see another request."""
    for name in names:
        if len(values.getlist(name)) > 1:
            raise Refused(400, "{name} is given more than once", name=name)


def _address_key(addr: str) -> str:
    """The key an address's refusals are counted under: an IPv6 address by its /64 (a subscriber's
    network, whose addresses its owner may rotate through freely), any other address as it is."""
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return addr
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(getattr(ip, "ipv4_mapped", None) or ip)


def build_app(cfg: ReportsFeed, publish: Publish, dead_letter: DeadLetter, reader: ReportReader,
              now: Callable[[], datetime] = lambda: datetime.now(UTC), language: str = "en") -> Flask:
    """The Open311 app. ``now`` stamps arrivals: the intake is where a report's event time is made.
    Errors are answered in the request's ``Accept-Language``, else in ``language`` (the city's)."""
    router = Router(cfg)
    limiter = RateLimiter()
    refusals = RateLimiter()  # refused posts per client address
    keys = {c.api_key: (name, c) for name, c in cfg.clients.items()}
    proxies = ProxyTrust(cfg.trusted_proxies)  # behind one, the client is the one it names
    photo_dir = Path(cfg.photo_dir)
    app = Flask("ioc.reports.open311")
    app.config["MAX_CONTENT_LENGTH"] = cfg.max_photos * cfg.max_photo_bytes + FORM_TEXT_BYTES
    app.config["MAX_FORM_MEMORY_SIZE"] = 64_000

    def jurisdiction(value: str | None) -> None:
        """Refuse a ``jurisdiction_id`` that is not this city's (the spec's 404): a report meant for
        another city is not routed to this one's departments."""
        if value and value != cfg.jurisdiction_id:
            raise Refused(404, "jurisdiction_id {id} not found", id=repr(value[:64]))

    @app.before_request
    def _query() -> None:
        if request.method != "POST":  # a post's is checked with its form (and dead-lettered)
            jurisdiction(request.args.get("jurisdiction_id"))

    @app.after_request
    def _headers(response: Response) -> Response:
        # the answers are data for apps: never sniffed as another type, never framed
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        # a citizens' web app on another origin may read the answers: the API trusts no cookie (a post
        # carries its api_key in the form), so letting any origin read them opens nothing
        response.headers.setdefault("Access-Control-Allow-Origin", "*")
        return response

    def current_fmt() -> str:
        path = request.path
        return "xml" if path.endswith(".xml") else "json"

    def current_lang() -> str:
        return answer_language(request.accept_languages, language)

    @app.errorhandler(Refused)
    def _refused(exc: Refused) -> Response:
        answered = error(current_fmt(), exc.code, exc.said(current_lang()))
        if exc.code == 429:
            answered.headers["Retry-After"] = "60"
        return answered

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        code = exc.code or 500
        return error(current_fmt(), code, http_text(code, exc.description or exc.name, current_lang()))

    @app.errorhandler(Exception)
    def _crash(exc: Exception) -> Response:  # never an HTML page or a dropped connection
        app.logger.exception("open311: unexpected error on %r", request.path[:200])
        said = Worded("internal error; the report was not accepted").said(current_lang())
        return error(current_fmt(), 500, said)

    def service(code: str, c: Any) -> dict[str, Any]:
        return {"service_code": code, "service_name": c.name, "description": c.description, "metadata": False,
                "type": "realtime", "keywords": "", "group": c.group}

    @app.get("/discovery.<fmt>")
    def discovery(fmt: str) -> Response:
        """Open311 service discovery: where this city's GeoReport v2 endpoint is and in which formats
        (apps built for many cities start here)."""
        fmt = _fmt(fmt)
        return answer_document(fmt, "discovery", {
            "changeset": CHANGESET, "contact": cfg.contact, "key_service": cfg.key_service,
            "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2",
                           "url": request.url_root.rstrip("/"), "changeset": CHANGESET, "type": "production",
                           "formats": ["text/xml", "application/json"]}]})

    @app.get("/services.<fmt>")
    def services(fmt: str) -> Response:
        fmt = _fmt(fmt)
        return answer(fmt, "services", [service(k, c) for k, c in cfg.categories.items()])

    @app.get("/services/<code>.<fmt>")
    def definition(code: str, fmt: str) -> Response:
        fmt = _fmt(fmt)
        if code not in cfg.categories:
            raise Refused(404, "no service {code}", code=repr(code[:64]))
        return answer(fmt, "service_definition", {"service_code": code, "attributes": []}) if fmt == "json" \
            else _definition_xml(code)

    def refuse(code: int, reason: str, form: dict[str, Any], /, **params: Any) -> Refused:
        return Refused(code, reason, **params)

    @app.post("/requests.<fmt>")
    def post_request(fmt: str) -> Response:
        shown: dict[str, Any] = {"client": ""}
        try:
            return accept(_fmt(fmt), shown)
        except (Refused, HTTPException) as exc:  # a refused post leaves a dead letter with its reason
            reason = exc.description if isinstance(exc, Refused) else f"{exc.code}: {exc.description}"
            if not shown["client"] and not refusals.allow(_address_key(proxies.client_address(request) or ""),
                                                          REFUSALS_PER_MINUTE, REFUSALS_BURST):
                # an address without a known key posting refusal after refusal: counted, not kept
                dead_letter(str(reason), None)
                raise Refused(429, "too many refused requests from this address: try again later") from None
            dead_letter(str(reason), shown)
            raise

    def accept(fmt: str, shown: dict[str, Any]) -> Response:
        if request.mimetype not in ("multipart/form-data", "application/x-www-form-urlencoded"):
            raise Refused(415, "post the request as a form (application/x-www-form-urlencoded or "
                               "multipart/form-data)")
        form, uploads = _form(request)
        shown.update({k: form.get(k, "")[:200] for k in KEPT_FIELDS if k in form})
        if others := [k for k in form if k not in KEPT_FIELDS and k != "api_key"]:
            shown["other_fields"] = len(others)
        _once(form, SINGLE_POST)
        key = form.get("api_key", "")
        if key not in keys:
            raise refuse(403, "api_key missing or not known", shown)
        client, limits = keys[key]
        shown["client"] = client
        jurisdiction(form.get("jurisdiction_id") or request.args.get("jurisdiction_id"))
        if not limiter.allow(client, limits.per_minute, limits.burst):
            raise refuse(429, "rate limit of client {client} exceeded ({per_minute}/min)", shown,
                         client=client, per_minute=limits.per_minute)
        code = form.get("service_code", "")
        if code not in cfg.categories:
            raise refuse(400, "service_code missing or not a known service", shown)
        lat, lon = _float(form, "lat"), _float(form, "long")
        address = _text(form, "address_string", 512).strip()
        if (lat is None) != (lon is None):
            raise refuse(400, "lat and long go together", shown)
        if lat is None:
            # geocoding an address is not offered: the spec lets a city require a location
            raise refuse(400, "lat and long are required (address_string alone cannot be placed)", shown)
        assert lon is not None
        if not router.inside_city(lat, lon):
            raise refuse(400, "location {lat},{lon} is outside the city", shown,
                         lat=f"{lat:.5f}", lon=f"{lon:.5f}")
        description = _text(form, "description", cfg.max_description)
        given_url = _text(form, "media_url", 2048).strip()
        media_url = _web_address(given_url) if given_url else ""  # kept as the app's link, never fetched
        if media_url is None:
            raise refuse(400, "media_url is not an http(s) address", shown)
        if len(uploads) > cfg.max_photos:
            raise refuse(400, "more than {n} photos", shown, n=cfg.max_photos)
        checked = []
        for i, data in enumerate(uploads):
            try:
                checked.append(check_photo(data, cfg.max_photo_bytes, cfg.max_photo_pixels))
            except PhotoRejected as exc:
                raise refuse(400, "media {n}: {reason}", shown, n=i + 1, reason=exc) from None
        photos = tuple(store_photo(p, photo_dir) for p in checked)
        received = now()
        route = router.route(code, lat, lon, received)
        since = received - timedelta(minutes=cfg.duplicate_minutes)
        hashes = tuple(p.sha256 for p in photos)
        dup = reader.duplicate_of(code, lat, lon, since, cfg.duplicate_metres, hashes)
        rid = f"HUE-{received:%y%m%d}-{uuid.uuid4().hex[:10]}"
        report = FieldReport(
            time=received, source_id=rid, service_code=code, category=cfg.categories[code].name,
            description=description, lat=lat, lon=lon, address=address, ward=route.ward, photos=photos,
            client=client, department=route.department, assignee_group=route.assignee_group,
            ack_due=route.ack_due, resolve_due=route.resolve_due, duplicate_of=dup, media_url=media_url)
        first = ReportStatusChange(time=received, source_id=rid, status="received", actor=f"client:{client}",
                                   reason=f"duplicate of {dup}" if dup else "",
                                   department=route.department, assignee_group=route.assignee_group)
        publish([report, first])
        said = [Worded("Grouped with {id}", id=dup)] if dup else []
        if any(form.get(k, "").strip() for k in CONTACT_FIELDS):  # the sender should not count on them
            said.append(Worded("Contact details are not kept: follow the request by its id"))
        notice = "; ".join(w.said(current_lang()) for w in said)
        return answer(fmt, "service_requests",
                      [{"service_request_id": rid, "service_notice": notice, "account_id": None}], status=201)

    def as_open311(row: dict[str, Any]) -> dict[str, Any]:
        status = row.get("last_status") or "received"
        return {
            "service_request_id": row["request_id"],
            "status": "closed" if status in ("resolved", "rejected") else "open",
            "status_notes": f"{status}: {row.get('last_reason') or ''}".rstrip(": "),
            "service_name": row["category"], "service_code": row["service_code"],
            "description": row["description"], "agency_responsible": row["department"],
            "service_notice": Worded("Grouped with {id}", id=row["duplicate_of"]).said(current_lang())
            if row.get("duplicate_of") else "",
            "requested_datetime": _iso(row["time"]),
            "updated_datetime": _iso(row.get("updated") or row["time"]),
            "expected_datetime": _iso(row["resolve_due"]),
            "address": row["address"], "address_id": "", "zipcode": "",
            "lat": row["lat"], "long": row["lon"], "media_url": row.get("media_url") or "",
        }

    @app.get("/requests.<fmt>")
    def list_requests(fmt: str) -> Response:
        fmt = _fmt(fmt)
        args = request.args
        _once(args, SINGLE_QUERY)
        ids = _listed(args.get("service_request_id", ""), "service_request_id")
        status = args.get("status", "")
        if status not in ("", "open", "closed"):
            raise Refused(400, "status is open or closed")
        start, end = _date(args.get("start_date"), "start_date"), _date(args.get("end_date"), "end_date")
        if not ids and start is None:
            start = (end or now()) - timedelta(days=90)
        codes = _listed(args.get("service_code", ""), "service_code")
        q = Query(ids=ids, service_codes=codes, start=start, end=end,
                  closed=None if not status else status == "closed")
        return answer(fmt, "service_requests", [as_open311(r) for r in reader.requests(q)])

    @app.get("/requests/<rid>.<fmt>")
    def one_request(rid: str, fmt: str) -> Response:
        fmt = _fmt(fmt)
        rows = [] if unkeepable(rid) else reader.requests(Query(ids=(rid[:128],), limit=1))
        if not rows:
            raise Refused(404, "no service request {id}", id=repr(rid[:64]))
        # every change of its lifecycle, as the spec's extension point (the staff member is not named)
        history = [{"status": h["status"], "datetime": _iso(h["time"]), "reason": h["reason"] or "",
                    "agency_responsible": h["department"] or "", "assignee_group": h["assignee_group"] or ""}
                   for h in reader.history(rows[0]["request_id"])]
        found = as_open311(rows[0]) | {"extended_attributes": {"history": history}}
        return answer(fmt, "service_requests", [found])

    return app


def _form(req: Request) -> tuple[Any, list[bytes]]:
    """The posted fields and the ``media`` uploads: multipart by :mod:`ingest.reports.multipart`
    (the body bounded by ``MAX_CONTENT_LENGTH`` first), a urlencoded form by Werkzeug."""
    if req.mimetype != "multipart/form-data":
        return _urlencoded(req), []
    body = req.get_data(cache=False)  # 413 past MAX_CONTENT_LENGTH, before anything is parsed
    try:
        parsed = multipart.parse(body, req.mimetype_params.get("boundary", ""),
                                 max_text_bytes=req.max_form_memory_size or 64_000)
    except multipart.FormTooLarge as exc:
        raise Refused(413, "the form is too large: {reason}", reason=exc) from None
    except multipart.MalformedForm as exc:
        raise Refused(400, "malformed multipart form: {reason}", reason=exc) from None
    if others := sorted({name for name, _, _ in parsed.files if name != "media"}):
        # a photo under another name would be lost without a word: the spec names the field ``media``
        raise Refused(400, "file field {names} is not read: send the photo as media",
                      names=", ".join(others)[:80])
    return parsed.fields, [data for name, _, data in parsed.files if name == "media"]


def _urlencoded(req: Request) -> Any:
    """A urlencoded form's fields, its body bounded first (:data:`FORM_TEXT_BYTES`,
    :data:`MAX_FORM_FIELDS`: Werkzeug would split any body ``MAX_CONTENT_LENGTH`` lets through, seconds
    of CPU for millions of empty fields) and checked to be UTF-8 (Werkzeug reads a body that is not
    as an empty form: a missing key, and nothing the client sent kept in the dead letter)."""
    if (req.content_length or 0) > FORM_TEXT_BYTES:
        raise Refused(413, "the form is longer than {n} bytes", n=FORM_TEXT_BYTES)
    body = req.get_data(cache=True)  # a chunked body: bounded by MAX_CONTENT_LENGTH; req.form reads it
    if len(body) > FORM_TEXT_BYTES:
        raise Refused(413, "the form is longer than {n} bytes", n=FORM_TEXT_BYTES)
    if body.count(b"&") >= MAX_FORM_FIELDS:
        raise Refused(413, "the form has more than {n} fields", n=MAX_FORM_FIELDS)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "the form is not UTF-8 (percent-encode its text as UTF-8)") from None
    return req.form


def _definition_xml(code: str) -> Response:
    from xml.etree import ElementTree as ET
    top = ET.Element("service_definition")
    ET.SubElement(top, "service_code").text = code
    ET.SubElement(top, "attributes")
    body = b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8")
    return Response(body, content_type="text/xml; charset=utf-8")
