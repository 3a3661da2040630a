"""Residency at the edge: a pod started with a region refuses (451, through the one error mapping)
a record holding a field the privacy policy does not allow there, counts the refusal, and logs
nothing of it; the same record is answered by a pod of a region that may hold it, and by a pod
started without a region. A region the policy does not name stops the pod from starting."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest
from starlette.testclient import TestClient
from test_serving_pod import REPO, URL, read_log, running_pod, samples

from commons.privacy_policy import load_policy
from commons.residency import ResidencyRefused, forbidden_fields
from release_keys import trust_dir
from serving.app import create_app

pytestmark = pytest.mark.slow  # builds a model and starts a process


def test_forbidden_fields_follow_the_policy_and_fail_closed():
    policy = load_policy()
    record = {"product_id": "p1", "review_text": "fine", "title": None, "unlisted": 3}
    assert forbidden_fields(record, "eu", policy) == ["unlisted"]
    assert forbidden_fields(record, "us", policy) == ["review_text", "unlisted"]
    assert ResidencyRefused("x").http_status == 451


def test_a_us_pod_refuses_review_text_and_logs_nothing(edge_bundle, tmp_path):
    body = {"records": [{"review_text": edge_bundle.sentences[0], "product_id": "p-us"}]}
    with running_pod(edge_bundle.path, tmp_path / "us", "--region", "us") as pod:
        reply = httpx.post(pod.url + URL, json=body, timeout=10.0)
        assert reply.status_code == 451
        assert "region 'us' may not hold field(s) review_text" in reply.json()["error"]
        assert reply.json()["errors"] == [{"record": 0, "field": "review_text",
                                           "message": "not allowed in region 'us'"}]
        metrics = samples(httpx.get(pod.url + "/metrics").text, "rejected_requests_total")
        assert metrics == {(("reason", "residency"),): 1.0}
    assert read_log(pod.log_dir, 1, timeout_s=0.5) == []


def test_an_eu_pod_and_a_pod_without_region_answer_it(edge_bundle, tmp_path):
    body = {"records": [{"review_text": edge_bundle.sentences[0], "product_id": "p-eu"}]}
    for region in ("eu", None):
        app = create_app(edge_bundle.path, trust_dir=trust_dir(), decision_log_dir=tmp_path / str(region),
                         region=region)
        with TestClient(app) as client:
            assert client.post(URL, json=body).status_code == 200


def test_an_unknown_region_stops_the_pod(edge_bundle, tmp_path):
    done = subprocess.run([sys.executable, "-m", "edge_insights", "serve", "--deploy-dir", str(edge_bundle.path),
                           "--region", "mars", "--decision-log-dir", str(tmp_path)], cwd=REPO, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2 and "refusing to start: unknown region 'mars'" in done.stderr
