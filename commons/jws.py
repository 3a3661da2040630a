"""JWS compact serialisation (RFC 7515 §7.1) signed by a :class:`commons.token_keys.SigningKey`.

PyJWT signs only with keys whose private half it holds; a token's key signs inside the token, so
the signing input ``base64url(header).base64url(payload)`` is composed here and handed to the
key, whichever backend holds it. Verifiers stay PyJWT with the public key (the output is the same
compact JWS PyJWT writes for an EdDSA key).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from .token_keys import ALGORITHM, SigningKey


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _segment(value: dict[str, Any]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def encode(claims: dict[str, Any], key: SigningKey, headers: dict[str, str] | None = None) -> str:
    """``claims`` as a compact JWS signed with EdDSA by ``key``.

    Args:
        claims: the JSON payload.
        key: the signing key; its ``kid`` goes into the header.
        headers: more header members (e.g. ``typ``); ``alg`` and ``kid`` are always the key's.
            ``typ`` defaults to ``JWT``.

    Returns:
        ``header.payload.signature``, each base64url without padding.

    Raises:
        commons.pkcs11_uri.Pkcs11Error: a token key's token refused to sign.
    """
    header = {"typ": "JWT", **(headers or {}), "alg": ALGORITHM, "kid": key.kid}
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    return f"{signing_input}.{_b64url(key.sign(signing_input.encode('ascii')))}"
