"""HTTP plumbing shared by the project's servers (the pods and the intake webhook).

Starlette is imported here, so only rooms that serve HTTP import this module.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse

from commons.errors import EdgeInsightsError


class BodyTooLarge(EdgeInsightsError):
    """A request body passes the server's byte limit."""

    http_status = 413


class BodyTimeout(EdgeInsightsError):
    """The client stopped sending before its body was complete (e.g. shorter than its
    ``Content-Length``)."""

    http_status = 408


class BearerRefusal(EdgeInsightsError):
    """A request refused for its bearer token; answered with an RFC 6750 §3 ``WWW-Authenticate``
    challenge (:meth:`challenge`).

    Args:
        message: why, for people (the body's ``error`` and the challenge's ``error_description``).
        realm: the protection space named in the challenge; None leaves it out.
        bearer_error: the RFC 6750 §3.1 error code (``invalid_token``, ``insufficient_scope``);
            None leaves it out, as §3.1 asks for a request that carried no credential at all.
        scope: the scope the resource needs (``scope`` attribute), for ``insufficient_scope``.
        reason: a short fixed code for counters (e.g. ``token_expired``).
    """

    default_error: str | None = None

    def __init__(self, message: str = "", *, realm: str | None = None, bearer_error: str | None = None,
                 scope: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.realm, self.scope, self.reason = realm, scope, reason
        self.bearer_error = bearer_error or self.default_error

    def challenge(self) -> str:
        """The ``WWW-Authenticate`` value: ``Bearer`` alone, or with its auth-params, e.g.
        ``Bearer realm="edge-insights", error="invalid_token", error_description="token expired"``."""
        description = str(self) if self.bearer_error else None
        params = [("realm", self.realm), ("error", self.bearer_error), ("error_description", description),
                  ("scope", self.scope)]
        # RFC 6750 §3: quoted values hold printable ASCII without '"' or '\\'.
        quoted = [f'{name}="{_quotable(value)}"' for name, value in params if value]
        return "Bearer " + ", ".join(quoted) if quoted else "Bearer"


def _quotable(text: str) -> str:
    return "".join(c if " " <= c <= "~" and c not in '"\\' else "'" for c in text)


class Unauthorised(BearerRefusal):
    """No credential, or not one the server accepts: missing, malformed, forged, expired
    (RFC 6750 ``invalid_token`` when the pod names an error code)."""

    http_status = 401


class Forbidden(BearerRefusal):
    """A genuine token that does not grant this request: another audience or a missing scope
    (RFC 6750 ``insufficient_scope``)."""

    http_status = 403
    default_error = "insufficient_scope"


class NotServed(EdgeInsightsError):
    """The path names something this server does not serve."""

    http_status = 404


class UnsupportedMediaType(EdgeInsightsError):
    """The request's ``Content-Type`` is not one the endpoint reads."""

    http_status = 415


class Unprocessable(EdgeInsightsError):
    """The body was read but cannot be used; ``details`` say why, field by field."""

    http_status = 422


BODY_TIMEOUT_S = 30.0
"""Seconds a client gets to send its whole body; a stalled upload must not hold a worker."""


async def read_body(request: Request, max_bytes: int, timeout_s: float = BODY_TIMEOUT_S) -> bytes:
    """The request body, refused as soon as it is known to pass ``max_bytes``.

    A declared ``Content-Length`` over the limit is refused before reading; a chunked body (or
    one longer than declared) is counted as it streams, so it is never held in memory whole.

    Raises:
        BodyTooLarge: the body is over the limit (the message names the limit, in bytes).
        BodyTimeout: the body did not arrive whole within ``timeout_s`` seconds.
    """
    try:
        return await asyncio.wait_for(_read(request, max_bytes), timeout_s)
    except TimeoutError:
        raise BodyTimeout(f"the body did not arrive within {timeout_s:g} s") from None


async def _read(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(f"body of {int(declared):,} bytes is over the limit of {max_bytes:,} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLarge(f"body is over the limit of {max_bytes:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def error_response(error: EdgeInsightsError, **extra) -> JSONResponse:
    """The one mapping from an error to an HTTP answer: ``{"error": message, **extra}`` with the
    error's :attr:`~commons.errors.EdgeInsightsError.http_status` (and the RFC 6750
    ``WWW-Authenticate`` challenge for a :class:`BearerRefusal`: 401 or 403)."""
    headers = {"WWW-Authenticate": error.challenge()} if isinstance(error, BearerRefusal) else None
    return JSONResponse({"error": str(error), **extra}, status_code=error.http_status, headers=headers)
