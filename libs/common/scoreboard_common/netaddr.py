"""Client address grouping for per-client limits.

An IPv6 client usually owns a whole /64 (SLAAC, privacy addresses): limiting single IPv6
addresses would give every client 2^64 identities. Per-client limits therefore key IPv6
addresses by their /64 and IPv4 addresses by themselves (IPv4-mapped IPv6 counts as IPv4).
"""

from __future__ import annotations

import functools
import ipaddress


@functools.lru_cache(maxsize=65536)
def client_group(address: str | None) -> str:
    """The key a per-client limit uses for ``address`` (``"-"`` when unknown); cached: it is
    parsed on every write."""
    if not address:
        return "-"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)
