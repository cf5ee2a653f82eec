"""The class of network a lost laptop checked in from (issue 15), never the address itself.

Ranges: RFC 1918 private, RFC 6598 shared address space (carrier-grade NAT, used by UK
mobile networks), RFC 4193 unique-local IPv6, loopback; anything global is the public internet.
"""

from __future__ import annotations

import pytest

from collector.domain.networks import CARRIER, LOOPBACK, PRIVATE, PUBLIC, UNKNOWN, address_class


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", LOOPBACK), ("[::1]", LOOPBACK),
        ("10.20.30.40", PRIVATE), ("172.16.5.4", PRIVATE), ("192.168.1.20", PRIVATE), ("[fd12:3456::1]", PRIVATE),
        ("100.64.12.9", CARRIER), ("100.127.255.254", CARRIER),
        ("81.2.69.142", PUBLIC), ("[2a00:1450:4009:81f::200e]", PUBLIC), ("[::ffff:81.2.69.142]", PUBLIC),
        ("unix:/run/x.sock", UNKNOWN), ("", UNKNOWN),
    ],
)  # fmt: skip
def test_address_classes(host: str, expected: str) -> None:
    assert address_class(host) == expected
