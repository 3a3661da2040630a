"""Short-lived scoped access tokens for pod endpoints: what they claim and how one is issued.

A token is a JWT (RFC 7519) signed with EdDSA over Ed25519 (RFC 8037) by a key of
:mod:`commons.token_keys`, whose ``kid`` is in its JWS header. Its claims:

    ``iss``    who issued it (:data:`DEFAULT_ISSUER` unless configured)
    ``aud``    the one resource it is for: the decision a pod serves (or a pod id)
    ``sub``    who holds it (a person, a client, a pod)
    ``scope``  space-separated scopes (RFC 8693 §4.2): ``decide``, ``metrics``, ``admin``, ``replay``
    ``iat``, ``nbf``, ``exp``  NumericDate seconds: issued, valid from, valid until
    ``jti``    a random id, unique per token (replay protection remembers it)

The issuer lives here, beside the claims, so the control plane (``edge-insights token issue``)
and the pods (:mod:`serving.auth`) share one vocabulary. The key signs wherever it lives (a PKCS#11
token or a PEM file; :mod:`commons.jws`), and pods verify with PyJWT.
"""

from __future__ import annotations

import re
import secrets
import time

from .jws import encode
from .token_keys import SigningKey

DEFAULT_ISSUER = "edge-insights"
SCOPE_DECIDE = "decide"
SCOPE_METRICS = "metrics"
SCOPE_ADMIN = "admin"
SCOPE_REPLAY = "replay"
SCOPES = (SCOPE_DECIDE, SCOPE_METRICS, SCOPE_ADMIN, SCOPE_REPLAY)
"""Every scope a token may carry: ``decide`` for decision endpoints, ``metrics`` for ``/metrics``,
``admin`` for a pod's admin endpoints (``POST /admin/revocation``), ``replay`` to mark a decision
request's records as replayed evaluation traffic, which the drift test leaves out
(:mod:`commons.traffic`)."""
REQUIRED_CLAIMS = ("iss", "aud", "sub", "scope", "exp", "nbf", "iat", "jti")
MAX_TTL_S = 24 * 3600
"""Longest lifetime issued: tokens are meant to live minutes; a day bounds a mistake."""
_TTL = re.compile(r"(\d+)([smhd]?)")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(text: str) -> int:
    """A lifetime such as ``"300"``, ``"90s"``, ``"5m"``, ``"2h"`` or ``"1d"`` in seconds.

    Raises:
        ValueError: not a whole number with an optional unit, zero, or over :data:`MAX_TTL_S`.
    """
    match = _TTL.fullmatch(text.strip().lower())
    if not match:
        raise ValueError(f"a lifetime is a whole number with an optional unit s, m, h or d (5m), got {text!r}")
    seconds = int(match.group(1)) * _UNIT_S[match.group(2)]
    if not 0 < seconds <= MAX_TTL_S:
        raise ValueError(f"a lifetime must lie in 1 s - {MAX_TTL_S // 3600} h, got {text!r}")
    return seconds


def issue_token(key: SigningKey, *, audience: str, subject: str, scopes: list[str] | tuple[str, ...],
                ttl_s: int, issuer: str = DEFAULT_ISSUER, now: float | None = None,
                not_before_s: int = 0) -> str:
    """Sign a token for one audience.

    Args:
        key: the signing key (usually :func:`commons.token_keys.current_key`); its ``kid`` goes
            into the JWS header so pods pick the right public key from their JWKS.
        audience: the ``aud`` claim: the decision the pod serves, e.g. ``"negative_review"``.
        subject: the ``sub`` claim: who holds the token.
        scopes: scopes granted, each one of :data:`SCOPES`.
        ttl_s: lifetime in seconds (1 to :data:`MAX_TTL_S`), counted from ``now``.
        issuer: the ``iss`` claim; pods refuse tokens of any issuer but the one they are given.
        now: issue time in Unix seconds (default: the clock); tests pass past or future times.
        not_before_s: seconds after ``now`` the token starts being valid (``nbf``).

    Returns:
        The compact JWS (``header.payload.signature``, base64url).

    Raises:
        ValueError: a blank audience, subject or issuer, no scope or an unknown one, or a
            lifetime outside 1 s to :data:`MAX_TTL_S`.
        commons.pkcs11_uri.Pkcs11Error: a token key's token refused to sign.
    """
    if not all(str(v).strip() for v in (audience, subject, issuer)):
        raise ValueError("audience, subject and issuer must not be blank")
    unknown = sorted(set(scopes) - set(SCOPES))
    if not scopes or unknown:
        raise ValueError(f"scopes must be some of {', '.join(SCOPES)}, got {list(scopes)!r}")
    if not 0 < ttl_s <= MAX_TTL_S:
        raise ValueError(f"ttl_s must lie in 1-{MAX_TTL_S}, got {ttl_s}")
    issued = int(time.time() if now is None else now)
    claims = {"iss": issuer, "aud": audience, "sub": subject, "scope": " ".join(dict.fromkeys(scopes)),
              "iat": issued, "nbf": issued + not_before_s, "exp": issued + ttl_s,
              "jti": secrets.token_urlsafe(16)}
    return encode(claims, key)
