"""Open311 GeoReport v2 answers in JSON and XML (XML built by ElementTree: every text escaped)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from xml.etree import ElementTree as ET

from flask import Response

from ioc.records import UNKEEPABLE

# the element name of one item of each XML list
XML_ITEM = {"services": "service", "service_requests": "request", "errors": "error",
            "attributes": "attribute", "values": "value", "history": "change", "endpoints": "endpoint",
            "formats": "format"}




def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    # what XML 1.0 cannot carry at all (not even escaped): the intake refuses it, and anything stored
    # before that rule (or written to the store by other means) is left out rather than making the
    # whole list unreadable
    return "" if value is None else UNKEEPABLE.sub("", str(value))


def _fill(parent: ET.Element, key: str, value: Any) -> None:
    node = ET.SubElement(parent, key)
    if isinstance(value, Mapping):
        for k, v in value.items():
            _fill(node, k, v)
    elif isinstance(value, list | tuple):
        for item in value:
            _fill(node, XML_ITEM.get(key, "item"), item)
    else:
        node.text = _text(value)


def _document(top: ET.Element) -> bytes:
    body = ET.tostring(top, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>' + body


def to_xml(root: str, items: Sequence[Mapping[str, Any]]) -> bytes:
    top = ET.Element(root)
    for item in items:
        _fill(top, XML_ITEM[root], item)
    return _document(top)


def answer(fmt: str, root: str, items: Sequence[Mapping[str, Any]] | Mapping[str, Any],
           status: int = 200) -> Response:
    """``items`` as the spec gives: a JSON array (or object), or an XML list under ``root``."""
    if fmt == "xml":
        body = to_xml(root, [items] if isinstance(items, Mapping) else items)
        return Response(body, status=status, content_type="text/xml; charset=utf-8")
    return Response(json.dumps(items, ensure_ascii=False), status=status,
                    content_type="application/json; charset=utf-8")


def answer_document(fmt: str, root: str, doc: Mapping[str, Any]) -> Response:
    """One document (not a list): a JSON object, or its fields as the children of ``root`` in XML."""
    if fmt != "xml":
        return answer(fmt, root, doc)
    top = ET.Element(root)
    for key, value in doc.items():
        _fill(top, key, value)
    return Response(_document(top), content_type="text/xml; charset=utf-8")


def error(fmt: str, code: int, description: str) -> Response:
    """The spec's error form: a list of ``{code, description}``."""
    return answer(fmt, "errors", [{"code": code, "description": description}], status=code)
