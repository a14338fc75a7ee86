"""Bearer-token check shared by the OTLP receivers (constant-time comparison)."""

from __future__ import annotations

import hmac
import ipaddress


def token_matches(expected: str | None, authorization: str | None) -> bool:
    """Whether an ``Authorization`` header value carries the expected bearer token.

    No expected token means no check.

    >>> token_matches("s3cret", "Bearer s3cret"), token_matches("s3cret", "Bearer nope")
    (True, False)
    >>> token_matches(None, None)
    True
    """
    if not expected:
        return True
    if not authorization:
        return False
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode(), expected.encode())


def is_loopback(host: str) -> bool:
    """Whether a bind address only accepts local connections.

    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, True, False)
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
