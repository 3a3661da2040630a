"""The token endpoint (``edge-insights token serve``, OAuth 2.0 client credentials, RFC 6749 §4.4) as a
real process on loopback: a registered client trades its secret for a token a pod accepts; a wrong
secret, an unknown client, another audience or scope, another grant are refused with their OAuth
error; secrets are stored hashed; tokens are renewed before they expire."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import httpx
import pytest
from typer.testing import CliRunner

from commons.client_registry import clients_path
from commons.control_audit import CONTROL_LOG, read_events
from commons.http import BODY_TIMEOUT_S
from commons.token_client import REFRESH_AT, ClientCredentials, TokenFetchError
from commons.token_keys import jwks_path
from edge_insights.cli import app
from serving.auth import PodAuth, TokenVerifier

pytestmark = pytest.mark.slow  # starts a process

GRANT = {"grant_type": "client_credentials", "audience": "price_spike"}


@pytest.fixture(scope="module")
def watcher_secret(token_plane) -> str:
    return token_plane.register("watcher", ["price_spike", "urgent_inventory"], ("decide", "metrics"))


def test_a_valid_secret_gets_a_short_lived_token_the_pod_accepts(token_plane, watcher_secret):
    reply = httpx.post(token_plane.token_url, auth=("watcher", watcher_secret), data={**GRANT, "scope": "decide"})
    assert reply.status_code == 200, reply.text
    assert reply.headers["cache-control"] == "no-store"
    body = reply.json()
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 300, "decide")
    verifier = TokenVerifier(PodAuth(jwks_path(token_plane.settings.tokens_dir)))
    claims = verifier.verify(f"Bearer {body['access_token']}", audience="price_spike", scope="decide")
    assert (claims["sub"], claims["aud"], claims["exp"] - claims["iat"]) == ("watcher", "price_spike", 300)
    issued = [e for e in read_events(token_plane.settings.audit_dir / CONTROL_LOG) if e["action"] == "token_issue"]
    assert claims["jti"] in {e["details"]["jti"] for e in issued}
    assert body["access_token"] not in (token_plane.settings.audit_dir / CONTROL_LOG).read_text()


def test_credentials_in_the_body_work_too(token_plane, watcher_secret):
    reply = httpx.post(token_plane.token_url, data={**GRANT, "client_id": "watcher", "client_secret": watcher_secret})
    assert reply.status_code == 200, reply.text
    # No scope asked: the client's scopes.
    assert reply.json()["scope"] == "decide metrics"


@pytest.mark.parametrize("client, secret", [("watcher", "not-the-secret"), ("nobody", "x")])
def test_a_wrong_secret_or_unknown_client_is_401_invalid_client(token_plane, watcher_secret, client, secret):
    reply = httpx.post(token_plane.token_url, auth=(client, secret), data=GRANT)
    assert reply.status_code == 401
    assert reply.json()["error"] == "invalid_client"
    assert reply.headers["www-authenticate"] == 'Basic realm="edge-insights-token"'
    assert "access_token" not in reply.json()


@pytest.mark.parametrize("data, status, error", [
    ({**GRANT, "audience": "negative_review"}, 400, "invalid_target"),
    ({**GRANT, "scope": "decide admin"}, 400, "invalid_scope"),
    ({**GRANT, "grant_type": "password"}, 400, "unsupported_grant_type"),
    ({"grant_type": "client_credentials"}, 400, "invalid_request"),
    # A form without the grant is a missing parameter (§5.2), not another grant.
    ({"audience": "price_spike"}, 400, "invalid_request"),
    ({}, 400, "invalid_request"),
])
def test_what_the_client_may_not_have_is_refused_with_its_oauth_error(token_plane, watcher_secret, data, status, error):
    reply = httpx.post(token_plane.token_url, auth=("watcher", watcher_secret), data=data)
    assert (reply.status_code, reply.json()["error"]) == (status, error)


def test_a_scope_named_twice_is_granted_once(token_plane, watcher_secret):
    reply = httpx.post(token_plane.token_url, auth=("watcher", watcher_secret),
                       data={**GRANT, "scope": "decide decide"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["scope"] == "decide"
    auth = PodAuth(jwks_path(token_plane.settings.tokens_dir))
    assert TokenVerifier(auth).verify(f"Bearer {reply.json()['access_token']}", audience="price_spike",
                                      scope="decide")["scope"] == "decide"


def test_guessing_a_secret_is_held_to_ten_tries_a_minute_per_client(token_plane, watcher_secret):
    from edge_insights.token_endpoint import FAILED_AUTH_LIMIT

    secret = token_plane.register("guessed", ["price_spike"], ("decide",))
    wrong = [httpx.post(token_plane.token_url, auth=("guessed", f"guess-{i}"), data=GRANT).status_code
             for i in range(FAILED_AUTH_LIMIT)]
    assert wrong == [401] * FAILED_AUTH_LIMIT
    # Now even the right secret waits: answering 200 to it would tell the guesser which try was right.
    held = httpx.post(token_plane.token_url, auth=("guessed", secret), data=GRANT)
    assert (held.status_code, held.json()["error"]) == (429, "temporarily_unavailable")
    assert 1 <= int(held.headers["retry-after"]) <= 60 and "access_token" not in held.json()
    # Another client is not held back by the guesser.
    assert httpx.post(token_plane.token_url, auth=("watcher", watcher_secret), data=GRANT).status_code == 200
    health = httpx.get(token_plane.token_url.replace("/oauth/token", "/healthz")).json()
    assert health["refused"]["temporarily_unavailable"] == 1


def test_two_credentials_at_once_are_an_invalid_request(token_plane, watcher_secret):
    reply = httpx.post(token_plane.token_url, auth=("watcher", watcher_secret),
                       data={**GRANT, "client_id": "watcher", "client_secret": watcher_secret})
    assert (reply.status_code, reply.json()["error"]) == (400, "invalid_request")


def test_an_oversized_body_is_refused_before_it_is_read(token_plane, watcher_secret):
    reply = httpx.post(token_plane.token_url, auth=("watcher", watcher_secret), content=b"a" * 100_000)
    assert (reply.status_code, reply.json()["error"]) == (413, "invalid_request")
    assert reply.json()["error_description"] == "body of 100,000 bytes is over the limit of 8,192 bytes"


def test_a_stalled_body_is_answered_not_held_open(token_plane):
    """A client that declares more bytes than it sends gets 408 after the body timeout; before, the
    endpoint waited on it for as long as the client kept the connection."""
    url = urlsplit(token_plane.token_url)
    with socket.create_connection((url.hostname, url.port)) as conn:
        conn.sendall(f"POST {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
                     "grant_type=".encode())
        conn.settimeout(BODY_TIMEOUT_S * 3)
        status_line = conn.makefile("rb").readline()
    assert status_line.split()[1] == b"408"


def test_the_registry_keeps_a_hash_never_the_secret(token_plane, watcher_secret):
    path = clients_path(token_plane.settings.tokens_dir)
    assert path.stat().st_mode & 0o777 == 0o600
    assert watcher_secret not in path.read_text()
    entry = json.loads(path.read_text())["clients"]["watcher"]
    assert entry["audiences"] == ["price_spike", "urgent_inventory"] and len(entry["secret_scrypt"]) == 88


def test_a_client_renews_its_token_after_80_percent_of_its_lifetime(token_plane, watcher_secret):
    now = [1000.0]
    client = ClientCredentials(token_plane.token_url, "watcher", watcher_secret, clock=lambda: now[0])
    first = client.token("price_spike")
    now[0] += REFRESH_AT * 300 - 1
    assert client.token("price_spike") == first and client.fetches == 1
    now[0] += 2
    assert client.token("price_spike") != first and client.fetches == 2
    # One token per audience.
    client.token("urgent_inventory")
    assert client.fetches == 3


def test_a_refused_client_raises_with_the_oauth_error(token_plane, watcher_secret):
    with pytest.raises(TokenFetchError, match="HTTP 401 invalid_client"):
        ClientCredentials(token_plane.token_url, "watcher", "wrong").token("price_spike")


def test_token_client_prints_a_secret_the_endpoint_accepts(token_plane, monkeypatch):
    monkeypatch.setenv("EDGE_INSIGHTS_STATE_DIR", str(token_plane.settings.state_dir))
    result = CliRunner().invoke(app, ["token", "client", "evaluate", "--audience", "price_spike"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip()
    assert httpx.post(token_plane.token_url, auth=("evaluate", secret), data=GRANT).status_code == 200
    refused = CliRunner().invoke(app, ["token", "client", "bad id", "--audience", "price_spike"])
    assert refused.exit_code == 2 and "client id" in refused.output


def test_a_broken_client_registry_is_a_server_error_that_names_nothing(token_plane, watcher_secret):
    path = clients_path(token_plane.settings.tokens_dir)
    kept = path.read_bytes()
    path.write_bytes(b"\xff not json")
    try:
        reply = httpx.post(token_plane.token_url, auth=("watcher", watcher_secret), data=GRANT)
    finally:
        path.write_bytes(kept)
    assert reply.status_code == 500 and reply.headers["cache-control"] == "no-store"
    assert reply.json() == {"error": "server_error", "error_description": "tokens cannot be issued now"}
    port = urlsplit(token_plane.token_url).port
    log = (token_plane.settings.logs_dir / f"token-endpoint-{port}.log").read_text()
    assert f"ALARM: cannot issue tokens: {path} is not a readable client registry" in log
    assert httpx.post(token_plane.token_url, auth=("watcher", watcher_secret), data=GRANT).status_code == 200


def test_secrets_are_checked_off_the_event_loop(token_plane, watcher_secret, monkeypatch):
    """scrypt takes ~0.1 s: on the event loop, every request waited for every wrong secret before it."""
    import asyncio

    from starlette.testclient import TestClient

    import edge_insights.token_endpoint as endpoint

    on_loop = []

    def checked(*args):
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:  # no loop in this thread: a worker thread
            on_loop.append(False)
        return real(*args)

    real = endpoint.authenticate
    monkeypatch.setattr(endpoint, "authenticate", checked)
    settings = token_plane.settings
    config = endpoint.EndpointConfig(tokens_dir=settings.tokens_dir, audit_dir=settings.audit_dir)
    with TestClient(endpoint.create_token_app(config)) as client:
        good = client.post("/oauth/token", auth=("watcher", watcher_secret), data=GRANT)
        wrong = client.post("/oauth/token", auth=("watcher", "not-the-secret"), data=GRANT)
    assert (good.status_code, wrong.status_code) == (200, 401) and on_loop == [False, False]
