"""Bearer-token checks of a pod: who may ask for a decision or read the metrics.

A request carries ``Authorization: Bearer <JWT>`` (RFC 6750 §2.1), a token issued by
:func:`commons.tokens.issue_token`. :meth:`TokenVerifier.verify` accepts it only when all hold:

- the header is ``Bearer`` and one compact JWS, whose JWS header names ``alg: EdDSA`` and a
  ``kid`` found in the pod's JWKS and not withdrawn by its revocation list (:class:`serving.jwks_file.JwksFile`); ``alg: none``, HS256
  (an HMAC "signed" with the public key) or any other algorithm is refused before any key is used;
- the signature verifies under that key (PyJWT, ``algorithms=["EdDSA"]``);
- every claim of :data:`commons.tokens.REQUIRED_CLAIMS` is present, ``iss`` is the pod's issuer,
  and ``nbf`` ≤ now < ``exp`` and ``iat`` ≤ now, each within ``leeway_s`` of clock skew; the
  time claims are JSON numbers and ``exp`` − ``iat`` ≤ a day (:data:`commons.tokens.MAX_TTL_S`);
- ``aud`` is the pod's audience (the decision it serves) and ``scope`` holds the endpoint's scope;
- with replay protection on, the token's ``jti`` has not been accepted before.

A token that passed is remembered (up to :data:`VERIFIED_CACHE` of them, without replay
protection): a client sends the same token for minutes, and its next requests skip the signature
and JSON work (~0.5 ms under load, a tenth of a small pod's request) but not the checks that can
change: its key must still be the one the JWKS holds now (a rotation that drops the key ends it),
``nbf``/``exp`` are checked against the clock, and ``aud`` and ``scope`` against the request.

Refusals are :class:`commons.http.Unauthorised` (401, ``invalid_token``; no error code when no
token was sent, RFC 6750 §3.1) or :class:`commons.http.Forbidden` (403, ``insufficient_scope``:
an authentic token for another audience or without the scope), each with a ``reason`` code for
the pod's ``rejected_requests_total`` counter. A value the token supplies (``kid``, ``alg``, a claim,
PyJWT's message about it) is repeated in the refusal cut to :data:`SHOWN_CHARS` characters.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from jwt import PyJWK
from jwt.exceptions import (
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidSignatureError,
    InvalidTokenError,
    MissingRequiredClaimError,
    PyJWTError,
)

from commons.http import Forbidden, Unauthorised
from commons.token_keys import ALGORITHM
from commons.tokens import DEFAULT_ISSUER, MAX_TTL_S, REQUIRED_CLAIMS

from .jwks_file import JwksFile
from .replay import SeenTokens

REALM = "edge-insights"
LEEWAY_S = 30.0
"""Clock skew tolerated between the issuer and a pod on ``exp``, ``nbf`` and ``iat``, in seconds."""
INVALID_TOKEN = "invalid_token"
VERIFIED_CACHE = 1024
"""Most verified tokens a pod remembers (oldest forgotten first): a few hundred bytes each."""
SHOWN_CHARS = 64
"""Most characters of a token-supplied value (``kid``, ``alg``, a PyJWT message) a refusal repeats."""


@dataclass(frozen=True)
class PodAuth:
    """How a pod checks tokens (``edge-insights serve --jwks PATH --issuer ISS``).

    Attributes:
        jwks: the JWKS file (re-read when it changes).
        issuer: the only ``iss`` accepted.
        replay_protection: accept each ``jti`` once.
        leeway_s: clock skew tolerated, seconds.
    """

    jwks: Path
    issuer: str = DEFAULT_ISSUER
    replay_protection: bool = False
    leeway_s: float = LEEWAY_S


def _cut(text: str) -> str:
    """``text`` cut to :data:`SHOWN_CHARS`, ending in ``...`` when cut.

    Whoever sends a token chooses how long its values are, and a refusal repeats its message in both
    the ``WWW-Authenticate`` header and the body: uncut, a 60,000-character ``kid`` came back twice.
    """
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 3] + "..."


def _refused(message: str, reason: str) -> Unauthorised:
    return Unauthorised(message, realm=REALM, bearer_error=INVALID_TOKEN, reason=reason)


# What PyJWT raises, checked most specific first, mapped to (reason, message prefix).
_DECODE_REFUSALS = (
    (ExpiredSignatureError, "token_expired", "token expired"),
    (ImmatureSignatureError, "token_not_yet_valid", "token not yet valid"),
    (InvalidSignatureError, "token_bad_signature", "token signature does not verify"),
    (InvalidIssuerError, "token_wrong_issuer", "token issuer not trusted"),
    (MissingRequiredClaimError, "token_missing_claim", "token lacks a claim"),
    (InvalidTokenError, "token_malformed", "token is not valid"),
    (PyJWTError, "token_malformed", "token cannot be checked"),  # e.g. a key PyJWT cannot use
)


def _check_time_types(claims: dict[str, Any]) -> None:
    """Refuse (401 ``token_malformed``) a present time claim that is no JSON number: PyJWT reads
    ``"123"`` and ``true`` with ``int()``, so ``exp: true`` would otherwise read as expired."""
    for name in ("exp", "nbf", "iat"):
        value = claims.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise _refused(f"token claim {name!r} is not a number (RFC 7519 §2 NumericDate)", "token_malformed")


def _check_times(claims: dict[str, Any]) -> None:
    """Refuse time claims PyJWT lets through: a numeric string (it converts with ``int()``), and a
    lifetime past :data:`commons.tokens.MAX_TTL_S` (the issuer's own bound; a longer-lived token
    would outlive every replay memory and every rotation it should not survive).

    Raises:
        Unauthorised: 401 ``invalid_token`` (reasons ``token_malformed``, ``token_lifetime``).
    """
    _check_time_types(claims)
    if claims["exp"] - claims["iat"] > MAX_TTL_S:
        lifetime = _cut(f"{claims['exp'] - claims['iat']:.0f}")  # 1e308 writes 309 digits
        raise _refused(f"token lives {lifetime} s from iat to exp; at most {MAX_TTL_S} s "
                       "are accepted", "token_lifetime")


class TokenVerifier:
    """Checks bearer tokens for one pod.

    Args:
        auth: the JWKS file, issuer, replay protection and leeway.
        revoked_kids: the key ids the pod's revocation list withdraws now (asked per request);
            a token signed by one is refused (``token_key_revoked``). None: no list.

    Raises:
        ValueError: the JWKS cannot be read or holds no usable key (see :class:`JwksFile`), the
            issuer is blank or the leeway negative.
    """

    def __init__(self, auth: PodAuth, revoked_kids: Callable[[], frozenset[str]] | None = None) -> None:
        if not auth.issuer.strip() or auth.leeway_s < 0:
            raise ValueError(f"the token issuer must not be blank and the leeway not negative, got "
                             f"{auth.issuer!r} and {auth.leeway_s}")
        self.auth = auth
        self.keys = JwksFile(auth.jwks)
        self.seen = SeenTokens(auth.leeway_s) if auth.replay_protection else None
        self.revoked_kids = revoked_kids
        self._verified: OrderedDict[str, tuple[str, PyJWK, dict[str, Any]]] = OrderedDict()

    def verify(self, authorization: str | None, *, audience: str, scope: str) -> dict[str, Any]:
        """Check an ``Authorization`` header value for a request needing ``scope`` at ``audience``.

        Args:
            authorization: the header's value, None when the request had none.
            audience: the ``aud`` this pod accepts (its decision).
            scope: the scope the endpoint needs (``decide`` or ``metrics``).

        Returns:
            The token's verified claims.

        Raises:
            Unauthorised: 401: no token (no error code), or ``invalid_token``: a malformed header
                or token, another algorithm than EdDSA, an unknown ``kid``, a bad signature, a
                missing claim, another issuer, expired, not yet valid, or a replayed ``jti``.
            Forbidden: 403 ``insufficient_scope``: an authentic token for another audience or
                without ``scope``.
        """
        token = self._bearer_token(authorization)
        remembered = self._remembered(token, audience, scope)
        if remembered is not None:
            return remembered
        key = self._key_for(token)
        try:
            claims = jwt.decode(token, key.key, algorithms=[ALGORITHM], audience=audience,
                                issuer=self.auth.issuer, leeway=self.auth.leeway_s,
                                options={"require": list(REQUIRED_CLAIMS)})
        except InvalidAudienceError:
            raise Forbidden(f"token is not for {audience!r}", realm=REALM, scope=scope,
                            reason="token_wrong_audience") from None
        except PyJWTError as err:
            if isinstance(err, (ExpiredSignatureError, ImmatureSignatureError)):
                # PyJWT checks times after the signature: these claims are the issuer's own.
                _check_time_types(jwt.decode(token, options={"verify_signature": False}))
            reason, message = next((r, m) for kind, r, m in _DECODE_REFUSALS if isinstance(err, kind))
            raise _refused(f"{message}: {_cut(str(err))}", reason) from None
        _check_times(claims)
        granted = str(claims["scope"]).split()
        if scope not in granted:
            raise Forbidden(f"token grants {_cut(' '.join(granted)) or 'no scope'}; this endpoint needs {scope!r}",
                            realm=REALM, scope=scope, reason="token_wrong_scope")
        # Recorded only once everything else passed: a refused token was never used.
        if self.seen is not None and not self.seen.first_use(str(claims["jti"]), float(claims["exp"])):
            raise _refused("token already used (replay protection is on)", "token_replayed")
        if self.seen is None:
            self._verified[token] = (str(jwt.get_unverified_header(token)["kid"]), key, claims)
            if len(self._verified) > VERIFIED_CACHE:
                self._verified.popitem(last=False)
        return claims

    def _remembered(self, token: str, audience: str, scope: str) -> dict[str, Any] | None:
        """The claims of a token verified before and still good for this request, else None (the full
        check then decides, and names the refusal)."""
        hit = self._verified.get(token)
        if hit is None:
            return None
        kid, key, claims = hit
        now, leeway = time.time(), self.auth.leeway_s
        # The JWKS reload makes new key objects: a token of a rotated-out or re-read key is checked anew,
        # and so is one whose key the revocation list has withdrawn since.
        if (self.keys.key(kid) is not key or claims["aud"] != audience or scope not in str(claims["scope"]).split()
                or not claims["nbf"] - leeway <= now < claims["exp"] + leeway
                or (self.revoked_kids is not None and kid in self.revoked_kids())):
            del self._verified[token]
            return None
        return claims

    @staticmethod
    def _bearer_token(authorization: str | None) -> str:
        if authorization is None or not authorization.strip():
            # RFC 6750 §3.1: a request without credentials gets a challenge without an error code.
            raise Unauthorised("a bearer token is required", realm=REALM, reason="token_missing")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            # §3.1 again: another scheme (Basic, ...) is no bearer credential at all.
            raise Unauthorised(f"a bearer token is required, not a {scheme[:20]!r} credential", realm=REALM,
                               reason="token_missing")
        token = token.strip()
        if not token or " " in token:
            raise _refused("the Authorization header must be 'Bearer <token>'", "token_malformed")
        return token

    def _key_for(self, token: str) -> PyJWK:
        """The JWKS key the token's header names, once its algorithm is EdDSA."""
        try:
            header = jwt.get_unverified_header(token)
        except InvalidTokenError as err:
            raise _refused(f"token is not a JWS: {_cut(str(err))}", "token_malformed") from None
        # Refused here, before any key is touched: 'none' and HS256-with-the-public-key forgeries.
        if header.get("alg") != ALGORITHM:
            raise _refused(f"token algorithm {_cut(repr(header.get('alg')))} is not accepted; only {ALGORITHM}",
                           "token_bad_algorithm")
        kid = header.get("kid")
        key = self.keys.key(kid) if isinstance(kid, str) else None
        if key is None:
            raise _refused(f"token key id {_cut(repr(kid))} is not in the pod's JWKS", "token_unknown_kid")
        if self.revoked_kids is not None and kid in self.revoked_kids():
            raise _refused(f"token key id {_cut(repr(kid))} is revoked", "token_key_revoked")
        # A JWKS may list other kinds of key (an HMAC secret, RSA); none of them verifies EdDSA.
        if key.algorithm_name != ALGORITHM:
            raise _refused(f"key {_cut(repr(kid))} of the pod's JWKS is a {key.algorithm_name} key, not {ALGORITHM}",
                           "token_bad_algorithm")
        return key
