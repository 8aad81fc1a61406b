"""What to believe of a reverse proxy: behind one, the client's address and scheme come from
``X-Forwarded-For`` / ``X-Forwarded-Proto``, but only when the request arrives from a configured proxy
(an address or a network); anyone else could write those headers themselves. Used by the web role
(``[web] trusted_proxies``) and by feeds that serve HTTP themselves (the Open311 intake's own list).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _ip(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None


class ProxyTrust:
    """The reverse proxies whose forwarding headers are believed (addresses or networks)."""

    def __init__(self, trusted: Iterable[str] = ()) -> None:
        self.networks: list[Network] = [ipaddress.ip_network(t, strict=False) for t in trusted]

    def trusts(self, addr: str | None) -> bool:
        ip = _ip(addr)
        return ip is not None and any(ip in net for net in self.networks)

    def client_address(self, request: Any) -> str | None:
        """The client's address: the nearest ``X-Forwarded-For`` hop that is not a trusted proxy."""
        addr = request.remote_addr
        if not self.trusts(addr):
            return addr
        hops = [h.strip() for v in request.headers.getlist("X-Forwarded-For") for h in v.split(",")]
        for hop in reversed([h for h in hops if h]):
            if _ip(hop) is None:
                return addr  # a hop we cannot read: keep to what we know
            if not self.trusts(hop):
                return hop
        return addr

    def is_https(self, request: Any) -> bool:
        """Whether the client reached us over HTTPS (directly, or says a trusted proxy)."""
        if request.is_secure:
            return True
        if not self.trusts(request.remote_addr):
            return False
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        return proto == "https"


def checked_networks(value: list[str]) -> list[str]:
    """``value`` if each item is an address or a network (``10.0.0.5``, ``10.0.0.0/24``); else
    :class:`ValueError` naming the first that is not (a settings validator)."""
    for item in value:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network") from None
    return value
