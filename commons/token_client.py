"""Bearer tokens on the client side: where a client's token comes from, and how it rides a request.

A :class:`TokenSource` answers "a token for audience A now". Two kinds:

- :class:`ClientCredentials` trades a client id and secret at a token endpoint (OAuth 2.0 client
  credentials grant, RFC 6749 §4.4, the client authenticated with HTTP Basic, §2.3.1) for a token
  per audience, keeps it and fetches a new one once 80 % of its ``expires_in`` has passed, so a
  long-running client (the watcher, an edge pod asking its central pod) never sends an expired one;
- :class:`StaticToken` is one token handed over whole (``EDGE_INSIGHTS_POD_TOKEN``): it is never
  renewed, so it suits short runs only.

:class:`BearerAuth` is an ``httpx.Auth`` that puts ``Authorization: Bearer <token>`` (RFC 6750
§2.1) on each request and, when the server answers 401 anyway (the token was revoked by a key
rotation, or the clock jumped), drops the token, fetches a new one and sends the request once more.

The client's credentials come from three environment variables (:func:`credentials_from_env`),
never the command line, where any user of the machine could read them in the process list.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator, Mapping
from typing import Protocol

import httpx

from .errors import EdgeInsightsError

TOKEN_URL_ENV = "EDGE_INSIGHTS_TOKEN_URL"
CLIENT_ID_ENV = "EDGE_INSIGHTS_CLIENT_ID"
CLIENT_SECRET_ENV = "EDGE_INSIGHTS_CLIENT_SECRET"
REFRESH_AT = 0.8
"""Share of a token's lifetime after which a new one is fetched (a 5-minute token lives 4 minutes here)."""


class TokenFetchError(EdgeInsightsError):
    """The token endpoint could not be reached or refused the client (its OAuth error in the message)."""


class TokenSource(Protocol):
    """Where a client gets its bearer tokens."""

    def token(self, audience: str) -> str:
        """A token valid now for ``audience``."""

    def invalidate(self, audience: str) -> None:
        """Forget the token held for ``audience`` (the server refused it)."""


class StaticToken:
    """One fixed token for every audience (a token issued by hand with ``edge-insights token issue``)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def token(self, audience: str) -> str:
        return self._token

    def invalidate(self, audience: str) -> None:
        """Nothing to do: a fixed token cannot be renewed."""


class ClientCredentials:
    """Tokens fetched from a token endpoint with a client id and secret, one per audience, renewed
    before they expire. Thread-safe: pods ask from several worker threads.

    Args:
        token_url: the endpoint, e.g. ``http://127.0.0.1:8095/oauth/token``.
        client_id, client_secret: the credential (``edge-insights token client``).
        scope: the scope asked for (``decide`` or ``metrics``; space-separated for several).
        timeout_s: seconds allowed for one fetch.
        clock: seconds on a monotonic clock (tests pass their own to step past a refresh).
    """

    def __init__(self, token_url: str, client_id: str, client_secret: str, *, scope: str = "decide",
                 timeout_s: float = 5.0, clock=time.monotonic) -> None:
        self.token_url, self.client_id, self.scope = token_url, client_id, scope
        self._secret, self._timeout_s, self._clock = client_secret, timeout_s, clock
        self._held: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self.fetches = 0

    def token(self, audience: str) -> str:
        """A token for ``audience``: the one held while under :data:`REFRESH_AT` of its lifetime,
        else a new one.

        Raises:
            TokenFetchError: the endpoint is unreachable, or refuses (``invalid_client``,
                ``invalid_scope``, ``invalid_target`` ...), or answers without a bearer token.
        """
        with self._lock:
            held = self._held.get(audience)
            if held is not None and self._clock() < held[1]:
                return held[0]
            started = self._clock()
            token, lifetime_s = self._fetch(audience)
            self._held[audience] = (token, started + REFRESH_AT * lifetime_s)
            return token

    def invalidate(self, audience: str) -> None:
        with self._lock:
            self._held.pop(audience, None)

    def _fetch(self, audience: str) -> tuple[str, float]:
        try:
            reply = httpx.post(self.token_url, auth=(self.client_id, self._secret), timeout=self._timeout_s,
                               data={"grant_type": "client_credentials", "scope": self.scope,
                                     "audience": audience})
        except httpx.HTTPError as err:
            raise TokenFetchError(f"token endpoint {self.token_url} unreachable: {type(err).__name__}") from None
        try:
            body = reply.json()
        except ValueError:
            body = {}
        if reply.status_code != 200:
            raise TokenFetchError(f"token endpoint refused client {self.client_id!r} for {audience!r}: HTTP "
                                  f"{reply.status_code} {body.get('error', '')} {body.get('error_description', '')}")
        if str(body.get("token_type", "")).lower() != "bearer" or not body.get("access_token"):
            raise TokenFetchError(f"token endpoint {self.token_url} answered without a bearer token")
        self.fetches += 1
        return str(body["access_token"]), float(body.get("expires_in", 60))


class BearerAuth(httpx.Auth):
    """``httpx`` authentication with a :class:`TokenSource`'s token for one audience.

    Args:
        source: where tokens come from.
        audience: the ``aud`` the server accepts (the decision a pod serves).
    """

    def __init__(self, source: TokenSource, audience: str) -> None:
        self.source, self.audience = source, audience

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.source.token(self.audience)}"
        response = yield request
        if response.status_code == 401:
            # Once: a token the server dropped (a retired key) is replaced; a second 401 is the answer.
            self.source.invalidate(self.audience)
            request.headers["Authorization"] = f"Bearer {self.source.token(self.audience)}"
            yield request


def credentials_from_env(environ: Mapping[str, str], *, scope: str = "decide") -> ClientCredentials | None:
    """The client credential in ``EDGE_INSIGHTS_TOKEN_URL``, ``_CLIENT_ID`` and ``_CLIENT_SECRET``,
    or None when none of them is set.

    Raises:
        ValueError: some but not all of the three are set.
    """
    values = [environ.get(name) or None for name in (TOKEN_URL_ENV, CLIENT_ID_ENV, CLIENT_SECRET_ENV)]
    if not any(values):
        return None
    if not all(values):
        raise ValueError(f"a client credential needs all of {TOKEN_URL_ENV}, {CLIENT_ID_ENV} and "
                         f"{CLIENT_SECRET_ENV}")
    return ClientCredentials(values[0], values[1], values[2], scope=scope)
