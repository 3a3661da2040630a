"""Residency at the edge: a pod started with a region refuses (451, through the one error mapping)
a record holding a field the privacy policy does not allow there, counts the refusal, and logs
nothing of it; the same record is answered by a pod of a region that may hold it, and by a pod
started without a region. A region the policy does not name, or one that may not hold a field the
decision requires, stops the pod from starting."""

from __future__ import annotations

import subprocess
import sys

import pytest
from starlette.testclient import TestClient
from test_serving_pod import REPO, URL, read_log, samples

from commons.privacy_policy import POLICY_PATH, load_policy
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


def test_a_region_that_may_not_hold_a_required_field_stops_the_pod(edge_bundle, tmp_path):
    # review_text is EU-only and negative_review requires it: a US pod could answer no valid record.
    done = subprocess.run([sys.executable, "-m", "edge_insights", "serve", "--deploy-dir", str(edge_bundle.path),
                           "--region", "us", "--decision-log-dir", str(tmp_path)], cwd=REPO, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "refusing to start: region 'us' may not hold review_text, which every record of 'negative_review' must "
        "carry, so each would be refused (451); serve it in region eu or without --region")


def us_policy(tmp_path):
    """The repository's policy with review_text allowed in the US and product_id kept in the EU: an
    optional field a US pod may not hold."""
    text = POLICY_PATH.read_text(encoding="utf-8")
    text = text.replace('product_id = ["eu", "us"]', 'product_id = ["eu"]')
    text = text.replace('review_text = ["eu"]', 'review_text = ["eu", "us"]')
    (tmp_path / "policy.toml").write_text(text, encoding="utf-8")
    return load_policy(tmp_path / "policy.toml")


def test_a_us_pod_refuses_an_optional_field_it_may_not_hold_and_logs_nothing(edge_bundle, tmp_path):
    policy = us_policy(tmp_path)
    assert policy.fields["product_id"] == ("eu",)
    app = create_app(edge_bundle.path, trust_dir=trust_dir(), decision_log_dir=tmp_path / "log", region="us",
                     policy=policy)
    with TestClient(app) as client:
        reply = client.post(URL, json={"records": [{"review_text": edge_bundle.sentences[0], "product_id": "p-us"}]})
        assert reply.status_code == 451
        assert "region 'us' may not hold field(s) product_id" in reply.json()["error"]
        assert reply.json()["errors"] == [{"record": 0, "field": "product_id",
                                           "message": "not allowed in region 'us'"}]
        metrics = samples(client.get("/metrics").text, "rejected_requests_total")
        assert metrics == {(("reason", "residency"),): 1.0}
        assert read_log(tmp_path / "log", 1, timeout_s=0.5) == []
        # Without the optional field the same review is answered.
        assert client.post(URL, json={"records": [{"review_text": edge_bundle.sentences[0]}]}).status_code == 200


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
