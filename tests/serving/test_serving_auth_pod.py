"""Real pods with tokens required: ``edge-insights serve --jwks`` on loopback, real Ed25519 keys,
real HTTP. A good token decides, no token or the wrong one is refused before the body is read,
``/healthz`` stays open, and a key rotation reaches the running pod without a restart."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import httpx
import pytest
from test_serving_pod import REPO, URL, read_log, refused_start, running_pod, samples

from commons.token_keys import current_key, jwks_path, rotate_keys
from commons.tokens import issue_token

pytestmark = pytest.mark.slow  # starts processes

AUD = "negative_review"


def bearer(key, scopes=("decide",), audience=AUD) -> dict[str, str]:
    token = issue_token(key, audience=audience, subject="test", scopes=list(scopes), ttl_s=300)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def guarded(edge_bundle, tmp_path_factory):
    """A pod started with a JWKS of one key; yields ``(pod, tokens_dir)``."""
    workdir = tmp_path_factory.mktemp("guarded")
    tokens_dir = workdir / "state" / "tokens"
    rotate_keys(tokens_dir)
    with running_pod(edge_bundle.path, workdir, "--jwks", str(jwks_path(tokens_dir))) as pod:
        yield pod, tokens_dir


def records(bundle, n: int = 3) -> dict:
    return {"records": [{"review_text": s} for s in bundle.sentences[:n]]}


def test_a_good_token_decides_and_healthz_stays_open(guarded, edge_bundle):
    pod, tokens_dir = guarded
    assert httpx.get(pod.url + "/healthz", timeout=5.0).status_code == 200
    reply = httpx.post(pod.url + URL, json=records(edge_bundle), headers=bearer(current_key(tokens_dir)), timeout=10.0)
    assert reply.status_code == 200, reply.text
    assert len(reply.json()["decisions"]) == 3


def test_no_token_is_401_with_a_bearer_challenge(guarded, edge_bundle):
    pod, _ = guarded
    reply = httpx.post(pod.url + URL, json=records(edge_bundle), timeout=10.0)
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"] == 'Bearer realm="edge-insights"'
    assert reply.json() == {"error": "a bearer token is required", "reason": "token_missing"}
    forged = httpx.post(pod.url + URL, json=records(edge_bundle), headers={"Authorization": "Bearer x.y.z"},
                        timeout=10.0)
    assert forged.status_code == 401
    assert forged.headers["www-authenticate"].startswith(
        'Bearer realm="edge-insights", error="invalid_token", error_description="token is not a JWS')


def test_a_huge_kid_or_alg_is_echoed_cut_to_64_characters(guarded, edge_bundle):
    pod, _ = guarded

    def b64(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    for header, field in (({"alg": "EdDSA", "kid": "k" * 60_000}, "key id"),
                          ({"alg": "A" * 60_000, "kid": "k"}, "algorithm")):
        token = f"{b64(header)}.{b64({'sub': 'x'})}.{'A' * 86}"
        reply = httpx.post(pod.url + URL, json=records(edge_bundle), timeout=10.0,
                           headers={"Authorization": f"Bearer {token}"})
        assert reply.status_code == 401
        shown = "'" + header["kid" if field == "key id" else "alg"][:60] + "..."  # 64 characters
        assert reply.json()["error"].startswith(f"token {field} {shown} is ")
        assert len(reply.json()["error"]) < 150 and len(reply.headers["www-authenticate"]) < 250


def test_two_authorization_headers_are_refused_whichever_comes_first(guarded, edge_bundle):
    pod, tokens_dir = guarded
    good = bearer(current_key(tokens_dir))["Authorization"]
    for pair in ((good, "Bearer garbage"), ("Bearer garbage", good)):
        reply = httpx.post(pod.url + URL, json=records(edge_bundle), timeout=10.0,
                           headers=[("Authorization", pair[0]), ("Authorization", pair[1])])
        assert (reply.status_code, reply.json()["reason"]) == (401, "token_malformed")


def test_wrong_scope_or_audience_is_403_insufficient_scope(guarded, edge_bundle):
    pod, tokens_dir = guarded
    key = current_key(tokens_dir)
    for headers, reason in ((bearer(key, scopes=("metrics",)), "token_wrong_scope"),
                            (bearer(key, audience="price_spike"), "token_wrong_audience")):
        reply = httpx.post(pod.url + URL, json=records(edge_bundle), headers=headers, timeout=10.0)
        assert (reply.status_code, reply.json()["reason"]) == (403, reason)
        challenge = reply.headers["www-authenticate"]
        assert 'error="insufficient_scope"' in challenge and challenge.endswith('scope="decide"')


def test_metrics_need_the_metrics_scope_and_count_refusals(guarded, edge_bundle):
    pod, tokens_dir = guarded
    key = current_key(tokens_dir)
    assert httpx.get(pod.url + "/metrics", timeout=5.0).status_code == 401
    assert httpx.get(pod.url + "/metrics", headers=bearer(key), timeout=5.0).status_code == 403
    # Refused before the path is looked at: a caller without a token learns nothing, not even a 404.
    assert httpx.post(pod.url + "/v1/decisions/nope", json={}, timeout=5.0).status_code == 401
    reply = httpx.get(pod.url + "/metrics", headers=bearer(key, scopes=("metrics",)), timeout=5.0)
    assert reply.status_code == 200
    rejected = {dict(labels)["reason"]: value for labels, value in
                samples(reply.text, "rejected_requests_total").items()}
    assert rejected["token_missing"] >= 2 and rejected["token_wrong_scope"] >= 1


def test_refused_requests_never_reach_the_decision_log(guarded, edge_bundle):
    pod, tokens_dir = guarded
    before = len(read_log(pod.log_dir, 0, timeout_s=0))
    httpx.post(pod.url + URL, json=records(edge_bundle, 5), timeout=10.0)
    httpx.post(pod.url + URL, json=records(edge_bundle, 5), headers=bearer(current_key(tokens_dir), ("metrics",)),
               timeout=10.0)
    assert len(read_log(pod.log_dir, 0, timeout_s=0)) == before


def test_a_key_rotation_reaches_the_running_pod_without_a_restart(edge_bundle, tmp_path):
    state = tmp_path / "state"
    tokens_dir = state / "tokens"
    old = rotate_keys(tokens_dir)
    with running_pod(edge_bundle.path, tmp_path, "--jwks", str(jwks_path(tokens_dir))) as pod:
        before = httpx.post(pod.url + URL, json=records(edge_bundle), headers=bearer(old), timeout=10.0)
        assert before.status_code == 200
        # The operator's command, as run beside a live pod: a new key, the old one retired.
        done = subprocess.run([sys.executable, "-m", "edge_insights", "token", "keygen", "--keep", "1"], cwd=REPO,
                              env={**os.environ, "EDGE_INSIGHTS_STATE_DIR": str(state)}, capture_output=True,
                              text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        new = current_key(tokens_dir)
        assert new.kid != old.kid
        accepted = httpx.post(pod.url + URL, json=records(edge_bundle), headers=bearer(new), timeout=10.0)
        assert accepted.status_code == 200, accepted.text
        retired = httpx.post(pod.url + URL, json=records(edge_bundle), headers=bearer(old), timeout=10.0)
        assert (retired.status_code, retired.json()["reason"]) == (401, "token_unknown_kid")
        assert pod.proc.poll() is None  # the same process throughout
    assert "JWKS" in (tmp_path / "pod.err").read_text() and new.kid in (tmp_path / "pod.err").read_text()


def test_issuer_and_replay_protection_options_reach_the_pod(edge_bundle, tmp_path):
    tokens_dir = tmp_path / "state" / "tokens"
    key = rotate_keys(tokens_dir)
    with running_pod(edge_bundle.path, tmp_path, "--jwks", str(jwks_path(tokens_dir)), "--issuer", "ops-plane",
                     "--replay-protection") as pod:
        once = {"Authorization": "Bearer " + issue_token(key, audience=AUD, subject="test", scopes=["decide"],
                                                         ttl_s=60, issuer="ops-plane")}
        assert httpx.post(pod.url + URL, json=records(edge_bundle), headers=once, timeout=10.0).status_code == 200
        replayed = httpx.post(pod.url + URL, json=records(edge_bundle), headers=once, timeout=10.0)
        assert (replayed.status_code, replayed.json()["reason"]) == (401, "token_replayed")
        foreign = httpx.post(pod.url + URL, json=records(edge_bundle), headers=bearer(key), timeout=10.0)
        assert (foreign.status_code, foreign.json()["reason"]) == (401, "token_wrong_issuer")


def test_without_a_jwks_the_pod_is_open_and_says_so(edge_bundle, tmp_path):
    with running_pod(edge_bundle.path, tmp_path) as pod:
        assert httpx.post(pod.url + URL, json=records(edge_bundle), timeout=10.0).status_code == 200
        assert httpx.get(pod.url + "/metrics", timeout=5.0).status_code == 200
    assert "AUTH IS OFF" in (tmp_path / "pod.err").read_text()


def test_a_jwks_without_keys_stops_the_pod_before_it_serves(edge_bundle, tmp_path):
    jwks = tmp_path / "jwks.json"
    jwks.write_text('{"keys": []}')
    [line] = refused_start(edge_bundle.path, tmp_path, "--jwks", str(jwks))
    assert line.startswith(f"refusing to start: JWKS {jwks} is not a readable JWK Set")
