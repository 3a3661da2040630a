"""Edge → central with tokens: real pods on loopback started as the demo starts them
(:func:`edge_insights.pods.running_pod`, auth on), the token endpoint a real process. The edge pod
asks its central pod with its own token and gets central answers; a token for another audience
(403) or an expired one (401) gets the edge nothing but the fallback route, and the central pod
counts the refusal by reason."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from release_keys import trust_dir
from test_serving_pod import URL, as_central, samples

from commons.client_registry import clients_path
from commons.control_audit import CONTROL_LOG, read_events
from commons.token_client import StaticToken
from commons.token_keys import current_key
from commons.tokens import issue_token
from edge_insights.pods import running_pod
from serving.bundle_model import open_bundle
from serving.router import Router

pytestmark = pytest.mark.slow  # builds bundles, starts processes

AUD = "negative_review"


@pytest.fixture(scope="module")
def central(token_plane, central_bundle, tmp_path_factory):
    deployed = as_central(central_bundle, tmp_path_factory.mktemp("central_deploy") / "central")
    with running_pod(deployed.path, token_plane.settings, tokens=token_plane) as url:
        yield url


def metrics_of(token_plane, url: str) -> str:
    scraper = token_plane.client("scraper", [AUD], scope="metrics", scopes=("metrics",))
    reply = httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {scraper.token(AUD)}"}, timeout=5.0)
    assert reply.status_code == 200, reply.text
    return reply.text


def test_the_edge_pod_asks_central_with_its_own_token(token_plane, central, edge_bundle):
    records = [{"review_text": s} for s in edge_bundle.sentences]
    client = token_plane.client("tester", [AUD])
    with running_pod(edge_bundle.path, token_plane.settings, central_url=central, tokens=token_plane) as edge:
        assert httpx.post(edge + URL, json={"records": records}, timeout=10.0).status_code == 401
        reply = httpx.post(edge + URL, json={"records": records}, timeout=30.0,
                           headers={"Authorization": f"Bearer {client.token(AUD)}"})
    assert reply.status_code == 200, reply.text
    routes = [d["route"] for d in reply.json()["decisions"]]
    abstain = edge_bundle.manifest["thresholds"]["abstain"]
    assert routes == ["central" if c < abstain else "edge" for c in edge_bundle.confidences]
    assert "central" in routes
    events = read_events(token_plane.settings.audit_dir / CONTROL_LOG)
    issued = [e["details"] for e in events if e["action"] == "token_issue"]
    pod_client = f"pod-negative_review-edge-{edge.rsplit(':', 1)[1]}"
    assert {"sub": pod_client, "aud": AUD, "scope": "decide"}.items() <= \
        next(d for d in issued if d["sub"] == pod_client).items()
    # The pod's client lives as long as the pod.
    assert pod_client not in json.loads(clients_path(token_plane.settings.tokens_dir).read_text())["clients"]
    assert samples(metrics_of(token_plane, central), "rejected_requests_total") == {}


def test_the_edge_pods_token_for_central_is_fetched_at_its_central_check(token_plane, central, edge_bundle):
    tokens = token_plane.client("edge-warm", [AUD])
    router = Router(open_bundle(edge_bundle.path, trust_dir=trust_dir()), model_version="3", central_url=central,
                    central_tokens=tokens)
    try:
        assert router.check_central() is None
        assert tokens.fetches == 1  # before any record
        routed = router.decide([{"review_text": s} for s in edge_bundle.sentences])
    finally:
        router.close()
    assert "central" in {r.route for r in routed}
    assert tokens.fetches == 1  # the first unsure record found it held


def _router(edge_bundle, central: str, token: str) -> Router:
    return Router(open_bundle(edge_bundle.path, trust_dir=trust_dir()), model_version="3", central_url=central,
                  central_tokens=StaticToken(token))


@pytest.mark.parametrize("audience, ttl_past_s, status, reason", [
    ("price_spike", 0, 403, "token_wrong_audience"),
    (AUD, 3600, 401, "token_expired"),
])
def test_central_refuses_an_edge_token_for_another_audience_or_expired(token_plane, central, edge_bundle, audience,
                                                                       ttl_past_s, status, reason):
    before = samples(metrics_of(token_plane, central), "rejected_requests_total").get((("reason", reason),), 0.0)
    key = current_key(token_plane.settings.tokens_dir)
    token = issue_token(key, audience=audience, subject="pod-negative_review-edge", scopes=["decide"], ttl_s=60,
                        now=time.time() - ttl_past_s)
    router = _router(edge_bundle, central, token)
    try:
        routed = router.decide([{"review_text": s} for s in edge_bundle.sentences])
    finally:
        router.close()
    unsure = [r for r in routed if r.edge_score < router.abstain]
    assert unsure and {r.route for r in unsure} == {"fallback"}
    assert {r.central_error for r in unsure} == {f"central answered HTTP {status}"}
    after = samples(metrics_of(token_plane, central), "rejected_requests_total")[(("reason", reason),)]
    # A 401 is retried once with a fresh token; a fixed token is the same one again.
    assert after - before == (2 if status == 401 else 1)
