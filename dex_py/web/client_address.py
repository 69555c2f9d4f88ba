"""The client's network address, for rate limits and logs, also behind a reverse proxy.

Without ``web.clientRemoteIP.header`` it is the TCP peer's address. With it (Dex's key,
``X-Forwarded-For`` or ``X-Real-IP``), the header is read, but a client can send that header
itself, so it is believed only as far as the chain of proxies is trusted:

* ``trustedProxies`` listed (addresses or CIDRs): the header counts only when the TCP peer is
  one of them; its entries are read right to left (each proxy appends the address it saw,
  RFC 7239 §5.2's order for ``X-Forwarded-For``), skipping trusted proxies, and the first
  address that is not one is the client's. Every address trusted: the leftmost.
* none listed: the rightmost entry, the one the proxy in front of us wrote (right for one
  proxy; a longer chain needs ``trustedProxies``). Whatever the client put to its left is
  ignored, so it cannot choose its own address.

An entry that is not an IP address ends the walk: the last good address (or the peer's) is
used.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence

from dex_py.config.model import ClientRemoteIP

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.cache
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(t.strip(), strict=False) for t in trusted)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(addr: ipaddress.IPv4Address | ipaddress.IPv6Address, nets: Sequence[Network]) -> bool:
    return any(addr in net for net in nets)


def client_address(settings: ClientRemoteIP, peer: str, header_values: Sequence[str]) -> str:
    """The client's address, from the TCP ``peer`` and every value of the configured header
    (in the order received)."""
    if not settings.header or not header_values:
        return peer
    nets = _networks(tuple(settings.trusted_proxies))
    peer_addr = _address(peer)
    if nets and (peer_addr is None or not _trusted(peer_addr, nets)):
        return peer
    entries = [e for value in header_values for e in value.split(",") if e.strip()]
    client = peer
    for entry in reversed(entries):
        addr = _address(entry)
        if addr is None:
            break
        client = str(addr)
        if not nets or not _trusted(addr, nets):
            break
    return client
