"""Bearer-token check shared by the OTLP receivers (constant-time comparison)."""

from __future__ import annotations

import hmac
import ipaddress


def token_matches(expected: str | None, authorization: str | bytes | None) -> bool:
    """Whether an ``Authorization`` header value carries the expected bearer token.

    No expected token means no check. Any header is just a wrong token, whatever its bytes: aiohttp hands
    non-UTF-8 bytes over as surrogate escapes and gRPC may hand bytes over; neither may raise here.

    >>> token_matches("s3cret", "Bearer s3cret"), token_matches("s3cret", "Bearer nope")
    (True, False)
    >>> token_matches(None, None), token_matches("s3cret", "Bearer s\\udcc3cret"), token_matches("s3cret", "\\ud800")
    (True, False, False)
    """
    if not expected:
        return True
    if not authorization:
        return False
    try:
        raw = authorization.encode("utf-8", "surrogateescape") if isinstance(authorization, str) else authorization
    except UnicodeEncodeError:  # a lone surrogate that no bytes decode to: not our token
        return False
    scheme, _, value = raw.strip().partition(b" ")
    if scheme.lower() != b"bearer":
        return False
    return hmac.compare_digest(value.strip(), expected.encode("utf-8", "surrogateescape"))


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
