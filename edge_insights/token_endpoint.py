"""The control plane's token endpoint: a client secret in, a short-lived scoped token out.

``POST /oauth/token`` implements the OAuth 2.0 client credentials grant (RFC 6749 §4.4). The body
is ``application/x-www-form-urlencoded``: ``grant_type=client_credentials``, ``audience`` (the
decision or pod id the token is for; one per token, least privilege) and an optional ``scope``
(default: the client's scopes). The client authenticates with HTTP Basic (§2.3.1, preferred) or
``client_id`` and ``client_secret`` in the body, checked against :mod:`commons.client_registry`.

Answers (§5.1, §5.2), always with ``Cache-Control: no-store``:

- 200 ``{"access_token", "token_type": "Bearer", "expires_in": seconds, "scope"}``;
- 401 ``invalid_client`` with ``WWW-Authenticate: Basic`` for an unknown client or a wrong secret;
- 400 ``invalid_request`` (no or two client credentials, no audience, a body that is not a form),
  ``unsupported_grant_type``, ``invalid_scope`` (a scope the client may not have), and
  ``invalid_target`` (RFC 8707 §2: an audience the client may not have);
- 500 ``server_error`` when the client registry or the signing key cannot be read (the reason is
  logged, not answered);
- 413 / 408 ``invalid_request`` for a body over 8 KiB or one that does not arrive whole within
  :data:`commons.http.BODY_TIMEOUT_S`;
- 429 ``temporarily_unavailable`` with ``Retry-After`` (RFC 6585 §4) once a client id has had
  :data:`FAILED_AUTH_LIMIT` failed authentications in the last minute (a moving window, the
  ``limits`` package): its secret is not checked again until the oldest failure leaves the window,
  so guessing a secret costs a minute per ten tries; other clients are not held back.

Tokens are signed with the newest key of ``<state>/tokens`` (read per request, so ``token keygen``
takes effect at once) and each one issued is recorded in the control audit log (``token_issue``:
claims and ``jti``, never the token). ``GET /healthz`` answers ``{"status": "ok", "issued",
"refused"}`` counted since start.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote_plus

import jwt
from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from commons.client_registry import authenticate
from commons.control_audit import ControlAudit
from commons.errors import EdgeInsightsError
from commons.http import BodyTimeout, BodyTooLarge, read_body
from commons.token_keys import current_key
from commons.tokens import DEFAULT_ISSUER, issue_token
from commons.listen import serve_app

TOKEN_PATH = "/oauth/token"
DEFAULT_TTL_S = 300
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_MAX_FORM_BYTES = 8192
# Ten tries a minute lets a person who mistyped a secret retry at once; a scripted guesser, who
# got ~10 tries a second per worker thread before, gets ten a minute.
FAILED_AUTH_LIMIT = 10

logger = logging.getLogger(__name__)


class OAuthError(EdgeInsightsError):
    """A token request refused with an RFC 6749 §5.2 error code (``code``) and HTTP status."""

    def __init__(self, code: str, message: str, http_status: int = 400, retry_after_s: int | None = None) -> None:
        super().__init__(message, http_status)
        self.code = code
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class EndpointConfig:
    """What the endpoint signs with and records to.

    Attributes:
        tokens_dir: signing keys and the client registry (``Settings.tokens_dir``).
        audit_dir: the control audit log (``Settings.audit_dir``).
        ttl_s: lifetime of every token issued, seconds.
        issuer: the ``iss`` claim.
        failed_auth_limit: failed authentications per client id per minute before it gets 429.
    """

    tokens_dir: Path
    audit_dir: Path
    ttl_s: int = DEFAULT_TTL_S
    issuer: str = DEFAULT_ISSUER
    failed_auth_limit: int = FAILED_AUTH_LIMIT


def _form(raw: bytes) -> dict[str, str]:
    try:
        fields = parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw))
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "the body must be a form (application/x-www-form-urlencoded)") from None
    repeated = sorted(name for name, values in fields.items() if len(values) > 1)
    if repeated:
        # §3.2: request parameters must not be included more than once.
        raise OAuthError("invalid_request", f"parameter(s) given twice: {', '.join(repeated)}")
    return {name: values[0] for name, values in fields.items()}


def _client_credential(authorization: str | None, form: dict[str, str]) -> tuple[str, str]:
    """The (client id, secret) of a request: HTTP Basic or the body, not both (§2.3.1)."""
    in_body = "client_id" in form or "client_secret" in form
    if authorization:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic" or in_body:
            raise OAuthError("invalid_request", "authenticate with HTTP Basic or client_id/client_secret, "
                                                "one of them")
        try:
            client_id, colon, secret = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", "the Basic credential is not base64 of id:secret", 401) from None
        if not colon:
            raise OAuthError("invalid_client", "the Basic credential is not base64 of id:secret", 401)
        # §2.3.1: id and secret are form-urlencoded before Basic encoding.
        return unquote_plus(client_id), unquote_plus(secret)
    if not in_body:
        raise OAuthError("invalid_client", "no client credential", 401)
    return form.get("client_id", ""), form.get("client_secret", "")


def create_token_app(config: EndpointConfig) -> Starlette:
    """The endpoint's ASGI app (see the module docstring for what it answers)."""
    audit = ControlAudit(config.audit_dir)
    counts: Counter[str] = Counter()
    failures = MovingWindowRateLimiter(MemoryStorage())
    failure_limit = RateLimitItemPerMinute(config.failed_auth_limit)

    async def grant(authorization: str | None, raw: bytes) -> dict[str, object]:
        form = _form(raw)
        client_id, secret = _client_credential(authorization, form)
        if not failures.test(failure_limit, client_id):
            reset_at = failures.get_window_stats(failure_limit, client_id).reset_time
            raise OAuthError("temporarily_unavailable", f"too many failed authentications for {client_id!r}; "
                                                        "retry later", 429, max(1, math.ceil(reset_at - time.time())))
        # scrypt (~0.1 s) off the event loop: on it, wrong-secret requests ran one at a time and
        # held /healthz and every genuine client behind them (adversarial pass, 2026-12-02).
        client = await run_in_threadpool(authenticate, config.tokens_dir, client_id, secret)
        if client is None:
            failures.hit(failure_limit, client_id)
            raise OAuthError("invalid_client", "unknown client or wrong secret", 401)
        if "grant_type" not in form:
            raise OAuthError("invalid_request", "name the grant: grant_type=client_credentials")
        if form["grant_type"] != "client_credentials":
            raise OAuthError("unsupported_grant_type", "only grant_type=client_credentials is served")
        audience = form.get("audience", "").strip()
        if not audience:
            raise OAuthError("invalid_request", "name the audience (the decision or pod id) the token is for")
        if audience not in client.audiences:
            raise OAuthError("invalid_target", f"client {client_id!r} may not get tokens for {audience!r}")
        # A scope named twice is granted once (§3.3: the scope is a set of space-delimited strings).
        scopes = list(dict.fromkeys(form["scope"].split())) if form.get("scope", "").strip() else list(client.scopes)
        if set(scopes) - set(client.scopes):
            raise OAuthError("invalid_scope", f"client {client_id!r} may have scopes {' '.join(client.scopes)}, "
                                              f"not {' '.join(scopes)}")
        key = current_key(config.tokens_dir)
        token = issue_token(key, audience=audience, subject=client_id, scopes=scopes, ttl_s=config.ttl_s,
                            issuer=config.issuer)
        claims = jwt.decode(token, options={"verify_signature": False})
        audit.record("token_issue", kid=key.kid, grant="client_credentials",
                     **{k: claims[k] for k in ("iss", "aud", "sub", "scope", "iat", "exp", "jti")})
        return {"access_token": token, "token_type": "Bearer", "expires_in": config.ttl_s, "scope": claims["scope"]}

    async def token(request: Request) -> Response:
        try:
            raw = await read_body(request, _MAX_FORM_BYTES)
        except (BodyTooLarge, BodyTimeout) as err:
            # §5.2 has no code of its own for these; a stalled body must not hold the connection.
            counts["refused:invalid_request"] += 1
            return JSONResponse({"error": "invalid_request", "error_description": str(err)}, err.http_status,
                                headers=_NO_STORE)
        try:
            answer = await grant(request.headers.get("authorization"), raw)
        except OAuthError as err:
            counts[f"refused:{err.code}"] += 1
            headers = dict(_NO_STORE)
            if err.http_status == 401:
                headers["WWW-Authenticate"] = 'Basic realm="edge-insights-token"'
            if err.retry_after_s is not None:
                headers["Retry-After"] = str(err.retry_after_s)
            return JSONResponse({"error": err.code, "error_description": str(err)}, err.http_status,
                                headers=headers)
        except EdgeInsightsError as err:
            # The registry or the signing key is broken (ClientRegistryError, TokenKeyError,
            # Pkcs11Error): the operator's to fix, so the reason goes to the log, not to the client.
            logger.error("ALARM: cannot issue tokens: %s", err)
            counts["refused:server_error"] += 1
            return JSONResponse({"error": "server_error", "error_description": "tokens cannot be issued now"},
                                500, headers=_NO_STORE)
        counts["issued"] += 1
        return JSONResponse(answer, headers=_NO_STORE)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "issued": counts["issued"],
                             "refused": {k.split(":", 1)[1]: v for k, v in counts.items() if k.startswith("refused:")}})

    return Starlette(routes=[Route(TOKEN_PATH, token, methods=["POST"]),
                             Route("/healthz", healthz, methods=["GET"])])


def run_token_endpoint(config: EndpointConfig, *, host: str = "127.0.0.1", port: int) -> None:
    """Serve the endpoint on ``host:port`` until interrupted.

    Raises:
        TokenKeyError: there is no signing key yet (checked before binding the port).
    """
    current_key(config.tokens_dir)
    serve_app(create_token_app(config), host=host, port=port, name="token endpoint")
