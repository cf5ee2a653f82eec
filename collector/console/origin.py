"""Is a POST from the console's own pages? Origin first, Referer as the fallback: pure, no I/O.

The rule (README, "The web console"):

- ``Sec-Fetch-Site: cross-site`` or ``same-site`` is refused;
- an ``Origin`` header must name this console: the scheme (``https``, or the request's own
  scheme) and the host and port the request was sent to (its ``Host``). ``Origin: null``
  (a sandboxed frame, a file, a privacy redirect) is refused;
- without ``Origin``, a ``Referer`` must name this console in the same way;
- with neither, the POST goes ahead: browsers send ``Origin`` on every POST (the console's
  ``Referrer-Policy: same-origin`` keeps it), so only scripts and other non-browser
  clients send neither, and those still need the form's CSRF token like everyone else.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin_of(url: str) -> tuple[str, str] | None:
    """(scheme, host:port) of an absolute URL, with the default port spelt out; None if not one."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    return parts.scheme, f"{host}:{port or _DEFAULT_PORTS[parts.scheme]}"


def _host_of(host_header: str, scheme: str) -> str | None:
    found = _origin_of(f"{scheme}://{host_header}")
    return None if found is None else found[1]


def cross_origin_reason(headers: Mapping[str, str], request_scheme: str) -> str | None:
    """Why a POST with ``headers`` does not come from the console's own pages; None when it does (or may)."""
    fetch_site = headers.get("sec-fetch-site", "").lower()
    if fetch_site in ("cross-site", "same-site"):
        return f"sec-fetch-site {fetch_site}"
    origin = headers.get("origin")
    source, claimed = ("origin", origin) if origin is not None else ("referer", headers.get("referer"))
    if claimed is None:
        return None  # not a browser (see the module docstring)
    found = _origin_of(claimed)
    if found is None:
        return f"{source} is not a web origin"
    scheme, host = found
    if scheme not in ("https", request_scheme):
        return f"{source} scheme {scheme}"
    if host != _host_of(headers.get("host", ""), scheme):  # a Host without a port: the origin's default
        return f"{source} names another site"
    return None
