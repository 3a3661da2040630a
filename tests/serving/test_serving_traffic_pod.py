"""Real pods on loopback log each decision's traffic class (``commons.traffic``): a request marked
``Edge-Insights-Traffic: replay`` by a token with scope ``replay`` is logged as replay, shadow lines
included, and left out of the divergence report's production figures; without that scope, or on a
pod without tokens, the mark is refused and nothing is logged; the field is covered by the chain.
An edge pod passes the mark on to a central pod that requires tokens, with its own credential, and
sends an open central pod (which would refuse it) the records unmarked. The pod's decision and shadow
counters carry the class as their ``traffic`` label."""

from __future__ import annotations

import json
from collections import Counter

import httpx
import pytest
from test_serving_audit_pod import audit_verify
from test_serving_pod import URL, as_central, read_log, running_pod, samples

from commons.token_keys import current_key, jwks_path, rotate_keys
from commons.tokens import issue_token
from edge_insights import pods
from training.divergence import divergence_reports, read_decisions

pytestmark = pytest.mark.slow  # starts processes

HEADER = "Edge-Insights-Traffic"


def bearer(tokens_dir, scopes: tuple[str, ...]) -> dict[str, str]:
    token = issue_token(current_key(tokens_dir), audience="negative_review", subject="test", scopes=list(scopes),
                        ttl_s=300)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def guarded(edge_bundle, central_bundle, tmp_path_factory):
    """An open central pod and an edge pod with tokens required consulting it at shadow rate 0.5;
    yields ``(edge pod, tokens_dir, central pod)``."""
    workdir = tmp_path_factory.mktemp("traffic")
    tokens_dir = workdir / "edge" / "state" / "tokens"
    rotate_keys(tokens_dir)
    central_deploy = as_central(central_bundle, workdir / "central_deploy" / "central")
    with running_pod(central_deploy.path, workdir / "central") as central:
        with running_pod(edge_bundle.path, workdir / "edge", "--jwks", str(jwks_path(tokens_dir)),
                         "--central-url", central.url, "--shadow-rate", "0.5") as edge:
            yield edge, tokens_dir, central


def test_replay_marked_by_a_replay_token_is_logged_apart_and_kept_out_of_production_figures(guarded, edge_bundle):
    pod, tokens_dir, central = guarded
    body = {"records": [{"review_text": s} for s in edge_bundle.sentences[:9]]}
    production = httpx.post(pod.url + URL, json=body, headers=bearer(tokens_dir, ("decide",)), timeout=10.0)
    assert production.status_code == 200, production.text
    replay = httpx.post(pod.url + URL, json=body, timeout=10.0,
                        headers={**bearer(tokens_dir, ("decide", "replay")), HEADER: "replay"})
    assert replay.status_code == 200, replay.text
    # The mark changes what is logged, not what is answered.
    assert [d["label"] for d in replay.json()["decisions"]] == [d["label"] for d in production.json()["decisions"]]

    lines = read_log(pod.log_dir, 18)
    assert Counter(line["traffic"] for line in lines) == {"production": 9, "replay": 9}
    shadow = Counter(line["traffic"] for line in lines if line["shadow"])
    # Shadow lines are logged after the answer, in a background task: they keep their request's class.
    assert shadow["replay"] == shadow["production"] > 0

    report = divergence_reports(pod.log_dir, ["negative_review"])["negative_review"]
    assert report["shadow"]["decisions"] == shadow["production"]
    assert sum(sum(by_reason.values()) for by_reason in report["routes"].values()) == 9
    assert report["replay"]["decisions"] == 9 and report["replay"]["shadow"]["decisions"] == shadow["replay"]
    # The open central pod would refuse the mark: it got the records unmarked, and answered them.
    asked = [line for line in lines if line["traffic"] == "replay" and (line["route"] == "central" or line["shadow"])]
    assert asked and all(line["central_label"] is not None for line in asked)
    assert {line["traffic"] for line in read_log(central.log_dir, len(asked))} == {"production"}


def by_traffic(pod, tokens_dir, name: str) -> Counter:
    """The pod's ``name`` series summed by its ``traffic`` label."""
    text = httpx.get(pod.url + "/metrics", headers=bearer(tokens_dir, ("metrics",)), timeout=5.0).text
    summed = Counter()
    for labels, value in samples(text, name).items():
        summed[dict(labels)["traffic"]] += value
    return summed


def test_decision_and_shadow_counters_tell_replay_from_production(guarded, edge_bundle):
    pod, tokens_dir, _ = guarded
    body = {"records": [{"review_text": s} for s in edge_bundle.sentences[:9]]}
    before = len(read_log(pod.log_dir, 0))
    decided, shadowed = (by_traffic(pod, tokens_dir, name) for name in ("decisions_total", "shadow_comparisons_total"))
    assert httpx.post(pod.url + URL, json=body, headers=bearer(tokens_dir, ("decide",)), timeout=10.0).is_success
    assert httpx.post(pod.url + URL, json=body, timeout=10.0,
                      headers={**bearer(tokens_dir, ("decide", "replay")), HEADER: "replay"}).is_success
    # Shadowed decisions are logged after their pair is scored: all 18 lines mean every count is in.
    lines = read_log(pod.log_dir, before + 18)[before:]
    shadow = Counter(line["traffic"] for line in lines if line["shadow"])
    assert by_traffic(pod, tokens_dir, "decisions_total") - decided == {"production": 9, "replay": 9}
    assert by_traffic(pod, tokens_dir, "shadow_comparisons_total") - shadowed == shadow
    assert shadow["replay"] == shadow["production"] > 0


def test_replay_without_the_replay_scope_or_with_an_unknown_class_is_refused_and_not_logged(guarded, edge_bundle):
    pod, tokens_dir, _ = guarded
    body = {"records": [{"review_text": edge_bundle.sentences[0]}]}
    before = len(read_log(pod.log_dir, 0))
    refused = httpx.post(pod.url + URL, json=body, timeout=10.0,
                         headers={**bearer(tokens_dir, ("decide",)), HEADER: "replay"})
    assert refused.status_code == 403
    assert refused.headers["www-authenticate"].endswith('error="insufficient_scope", '
                                                        'error_description="token grants decide; this endpoint '
                                                        'needs \'replay\'", scope="replay"')
    unknown = httpx.post(pod.url + URL, json=body, timeout=10.0,
                         headers={**bearer(tokens_dir, ("decide", "replay")), HEADER: "evaluation"})
    assert unknown.status_code == 422
    assert unknown.json()["errors"] == [{"record": None, "field": "edge-insights-traffic", "message":
                                         "edge-insights-traffic must be one of production, replay, got 'evaluation'"}]
    twice = httpx.post(pod.url + URL, json=body, timeout=10.0,
                       headers=[*bearer(tokens_dir, ("decide", "replay")).items(), (HEADER, "replay"),
                                (HEADER, "production")])
    assert twice.status_code == 422
    assert len(read_log(pod.log_dir, before + 1, timeout_s=1.0)) == before


def test_a_pod_without_tokens_takes_production_only_and_the_chain_covers_the_class(edge_bundle, tmp_path):
    body = {"records": [{"review_text": s} for s in edge_bundle.sentences[:3]]}
    with running_pod(edge_bundle.path, tmp_path) as pod:
        refused = httpx.post(pod.url + URL, json=body, headers={HEADER: "replay"}, timeout=10.0)
        assert refused.status_code == 403
        assert refused.json() == {"error": "this pod requires no tokens, so it cannot tell who may mark traffic "
                                           "as replay; it takes production traffic only"}
        assert httpx.post(pod.url + URL, json=body, headers={HEADER: "Production"}, timeout=10.0).status_code == 200
        assert httpx.post(pod.url + URL, json=body, timeout=10.0).status_code == 200
        metrics = httpx.get(pod.url + "/metrics", timeout=5.0).text
        assert samples(metrics, "rejected_requests_total")[(("reason", "replay_without_tokens"),)] == 1.0
        assert [line["traffic"] for line in read_log(pod.log_dir, 6)] == ["production"] * 6

    # Whoever edits a line to hide it from the drift test breaks the chain there.
    [day] = sorted((pod.log_dir / "negative_review").glob("*.jsonl"))
    lines = day.read_text().splitlines(keepends=True)
    edited = json.loads(lines[1])
    edited["traffic"] = "replay"
    lines[1] = json.dumps(edited, separators=(",", ":"), sort_keys=True, ensure_ascii=False) + "\n"
    day.write_text("".join(lines))
    done = audit_verify(str(pod.log_dir), state=tmp_path / "state")
    assert done.returncode == 1
    assert done.stdout.splitlines()[-1] == f"TAMPERED {day}:2: edited: its content does not match its hash"


def test_an_edge_pod_passes_the_replay_mark_on_to_a_central_pod_requiring_tokens(token_plane, central_bundle,
                                                                                   edge_bundle, tmp_path):
    """Both pods started as the demo starts them (:func:`edge_insights.pods.running_pod`, auth on), logging
    into one folder: central's own lines of a replayed request are replay too."""
    settings, log_dir = token_plane.settings, tmp_path / "decision_log"
    central_deploy = as_central(central_bundle, tmp_path / "central_deploy" / "central")
    body = {"records": [{"review_text": s} for s in edge_bundle.sentences[:9]]}
    client = token_plane.client("replayer", ["negative_review"], scope="decide replay", scopes=("decide", "replay"))
    headers = {"Authorization": f"Bearer {client.token('negative_review')}"}
    with pods.running_pod(central_deploy.path, settings, tokens=token_plane, decision_log_dir=log_dir) as central, \
            pods.running_pod(edge_bundle.path, settings, central_url=central, shadow_rate=0.5, tokens=token_plane,
                             decision_log_dir=log_dir) as edge:
        for traffic in ("replay", "production"):
            reply = httpx.post(edge + URL, json=body, headers={**headers, HEADER: traffic}, timeout=30.0)
            assert reply.status_code == 200, reply.text
            assert "fallback" not in {d["route"] for d in reply.json()["decisions"]}
        # Shadow lines, the edge's and central's, are written after the answers: given a few seconds.
        read_log(log_dir, 10**6, timeout_s=5.0)
    rows = read_decisions(log_dir, "negative_review")
    edge_lines = [r for r in rows if r["edge_bundle_sha256"] == edge_bundle.manifest["bundle_sha256"]]
    central_lines = [r for r in rows if r["edge_bundle_sha256"] == central_deploy.manifest["bundle_sha256"]]
    asked = Counter(r["traffic"] for r in edge_lines if r["central_label"] is not None)
    assert len(edge_lines) == 18 and asked["replay"] == asked["production"] > 0
    assert Counter(r["traffic"] for r in central_lines) == asked
