"""Which kind of network an address belongs to, in words an IG officer can use: never the address itself.

A lost laptop that checks in tells the incident where it was: on the organisation's own or a
home network (a private range), a mobile network (carrier-grade NAT, RFC 6598), or the public
internet. The address is not kept: the class is what the incident needs.
"""

from __future__ import annotations

import ipaddress

LOOPBACK = "this computer (loopback)"
PRIVATE = "a private network (office, home or VPN)"
CARRIER = "a mobile or carrier network (shared address)"
PUBLIC = "the public internet"
UNKNOWN = "an unknown network"

_CARRIER_NAT = ipaddress.ip_network("100.64.0.0/10")


def address_class(host: str) -> str:
    """The class of ``host`` (an IPv4 or IPv6 address, brackets allowed); UNKNOWN if it is not one."""
    try:
        address = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return UNKNOWN
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return LOOPBACK
    if isinstance(address, ipaddress.IPv4Address) and address in _CARRIER_NAT:
        return CARRIER
    if address.is_private or address.is_link_local:
        return PRIVATE
    if address.is_global:
        return PUBLIC
    return UNKNOWN
