"""Real pods swapping bundles live (``edge-insights serve --poll-s 0.2`` on loopback, real Ed25519
keys, real files): a new deployment taken in under load, a revoked bundle left for a held one or for
central-only routing, forged, stale and rolled-back lists refused and counted, the admin push."""

from __future__ import annotations

import shutil
import time

import httpx
import jwt
import pytest
from benchmark_module import load_benchmark
from release_keys import session_signer
from test_serving_auth_pod import bearer
from test_serving_pod import URL, as_central, running_pod, samples

from commons.revocation_list import RevocationList, default_list_path, publish_next, sign_list
from commons.token_keys import current_key, jwks_path, rotate_keys

pytestmark = pytest.mark.slow  # starts processes

POLL = ("--poll-s", "0.2")
bench = load_benchmark("revocation")


def revoke(state, *shas):
    tokens = state / "tokens"
    return publish_next(default_list_path(state), current_key(tokens), jwks_path(tokens),
                        bundles=[{"sha256": sha, "reason": "test"} for sha in shas])


def health_when(url: str, predicate, timeout_s: float = 60.0) -> dict:
    """``/healthz`` once ``predicate`` holds for it; fails after ``timeout_s`` (a bound on a loaded
    machine, not a speed: time to revoke is measured by benchmarks/revocation.py)."""
    start = time.monotonic()
    while True:
        health = httpx.get(url + "/healthz", timeout=5.0).json()
        if predicate(health):
            return health
        assert time.monotonic() - start < timeout_s, f"healthz still {health}"
        time.sleep(0.05)


def until(predicate, timeout_s: float = 60.0) -> None:
    """Poll ``predicate`` until it holds; fail after ``timeout_s`` (a bound, not a speed)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def metric(url: str, name: str, **labels) -> float:
    return samples(httpx.get(url + "/metrics", timeout=5.0).text, name).get(tuple(sorted(labels.items())), 0.0)


def decide(url: str, bundle) -> httpx.Response:
    return httpx.post(url + URL, json={"records": [{"review_text": bundle.sentences[0]}]}, timeout=10.0)


@pytest.fixture(scope="module")
def swapping(edge_bundle, tmp_path_factory):
    """A pod serving a copy of the test bundle (A) from its own deploy folder, polling every 0.2 s;
    yields ``(pod, workdir, deploy_dir, variant B's folder and sha256)``."""
    workdir = tmp_path_factory.mktemp("swapping")
    rotate_keys(workdir / "state" / "tokens")
    deploy_dir = workdir / "deploy" / "champion"
    bench.deploy(edge_bundle.path, deploy_dir)
    variant_b = workdir / "variant-b"
    sha_b = bench.variant(edge_bundle.path, variant_b, "b", session_signer())
    with running_pod(deploy_dir, workdir, *POLL) as pod:
        yield pod, workdir, deploy_dir, variant_b, sha_b


def test_a_new_deployment_is_taken_in_live_under_load_with_no_failed_request(swapping, edge_bundle):
    pod, _, deploy_dir, variant_b, sha_b = swapping
    sha_a = edge_bundle.manifest["bundle_sha256"]
    assert httpx.get(pod.url + "/healthz").json()["bundle_sha256"] == sha_a
    with bench.SteadyLoad(pod.url + URL, {"records": [{"review_text": edge_bundle.sentences[0]}]}, 4) as load:
        time.sleep(0.5)
        bench.deploy(variant_b, deploy_dir)
        health_when(pod.url, lambda h: h["bundle_sha256"] == sha_b)
        swapped = time.monotonic()
        until(lambda: sum(a.sent > swapped for a in list(load.answers)) >= 5)
    assert load.failed() == [] and len(load.answers) > 20
    assert {a.bundle_sha256 for a in load.answers} == {sha_a, sha_b}
    assert {a.bundle_sha256 for a in load.answers if a.sent > swapped} == {sha_b}
    assert metric(pod.url, "bundle_swaps_total", cause="deployed") == 1


def test_a_revoked_bundle_is_left_for_the_newest_held_one(swapping, edge_bundle):
    pod, workdir, _, _, sha_b = swapping
    sha_a = edge_bundle.manifest["bundle_sha256"]
    assert decide(pod.url, edge_bundle).json()["decisions"][0]["bundle_sha256"] == sha_b
    revoke(workdir / "state", sha_b)
    health = health_when(pod.url, lambda h: h["bundle_sha256"] == sha_a)
    assert health["revocation_serial"] == 1 and health["central_only"] is False
    assert decide(pod.url, edge_bundle).json()["decisions"][0]["bundle_sha256"] == sha_a
    assert metric(pod.url, "bundle_swaps_total", cause="revoked") == 1
    assert metric(pod.url, "revocation_list_serial") == 1


def test_a_revoked_bundle_deployed_again_is_refused(swapping, edge_bundle):
    pod, _, deploy_dir, variant_b, _ = swapping
    bench.deploy(variant_b, deploy_dir)
    until(lambda: metric(pod.url, "bundle_swaps_refused_total", reason="revoked") >= 1)
    time.sleep(0.6)  # three more polls: still counted once
    assert metric(pod.url, "bundle_swaps_refused_total", reason="revoked") == 1
    assert httpx.get(pod.url + "/healthz").json()["bundle_sha256"] == edge_bundle.manifest["bundle_sha256"]


def test_a_tampered_deployment_is_refused_and_the_pod_keeps_its_bundle(swapping, edge_bundle):
    pod, workdir, deploy_dir, _, _ = swapping
    tampered = workdir / "tampered"
    shutil.copytree(edge_bundle.path, tampered)  # a copy, not links: the session's bundle stays intact
    with open(tampered / "tokenizer.json", "a", encoding="utf-8") as file:
        file.write(" ")
    bench.deploy(tampered, deploy_dir)
    until(lambda: metric(pod.url, "bundle_swaps_refused_total", reason="unverified") >= 1)
    time.sleep(0.6)  # three more polls: still counted once
    assert metric(pod.url, "bundle_swaps_refused_total", reason="unverified") == 1
    assert httpx.get(pod.url + "/healthz").json()["bundle_sha256"] == edge_bundle.manifest["bundle_sha256"]
    assert decide(pod.url, edge_bundle).status_code == 200


def test_a_deployment_its_region_may_not_hold_is_refused_and_the_pod_keeps_its_bundle(edge_bundle, tmp_path):
    # The policy names no field shop_ref, so no region may hold it (residency fails closed): a pod of
    # any region could answer no valid record of a bundle that requires it.
    contract = edge_bundle.manifest["feature_contract"]
    requiring = {**contract, "fields": {**contract["fields"], "shop_ref": {
        "type": "string", "role": "key", "required": True, "max_length": 64}}}
    variant = tmp_path / "shop-ref"
    bench.variant(edge_bundle.path, variant, "shop-ref", session_signer(), feature_contract=requiring)
    deploy_dir = tmp_path / "deploy" / "champion"
    bench.deploy(edge_bundle.path, deploy_dir)
    with running_pod(deploy_dir, tmp_path, "--region", "eu", *POLL) as pod:
        bench.deploy(variant, deploy_dir)
        until(lambda: metric(pod.url, "bundle_swaps_refused_total", reason="residency") >= 1)
        time.sleep(0.6)  # three more polls: still counted once
        assert metric(pod.url, "bundle_swaps_refused_total", reason="residency") == 1
        assert metric(pod.url, "bundle_swaps_refused_total", reason="unverified") == 0
        assert httpx.get(pod.url + "/healthz").json()["bundle_sha256"] == edge_bundle.manifest["bundle_sha256"]
        assert decide(pod.url, edge_bundle).status_code == 200
    assert ("refused: region 'eu' may not hold shop_ref, which every record of 'negative_review' must carry"
            in (tmp_path / "pod.err").read_text())


def test_stale_unsigned_forged_and_rolled_back_lists_are_refused_counted_and_never_obeyed(swapping, edge_bundle):
    pod, workdir, _, _, _ = swapping
    state, sha_a = workdir / "state", edge_bundle.manifest["bundle_sha256"]
    key, path = current_key(state / "tokens"), default_list_path(state)
    serial_1 = path.read_text()
    revoke(state)  # serial 2, nothing new: the list re-published
    health_when(pod.url, lambda h: h["revocation_serial"] == 2)
    now = time.time()
    kills_a = ({"sha256": sha_a, "reason": "forged"},)
    outsider = rotate_keys(workdir / "outsider")
    forged = {
        "stale": sign_list(RevocationList(9, now - 120, now - 60, kills_a), key),
        "unsigned": jwt.encode(RevocationList(9, now, now + 60, kills_a).claims(), None, algorithm="none",
                               headers={"typ": "revocation-list+jwt"}),
        "unknown_kid": sign_list(RevocationList(9, now, now + 60, kills_a), outsider),
        "rolled_back": serial_1,
    }
    for reason, document in forged.items():
        path.write_text(document)
        until(lambda: metric(pod.url, "revocation_lists_refused_total", reason=reason) >= 1)
        time.sleep(0.6)  # three more polls: counted once
        assert metric(pod.url, "revocation_lists_refused_total", reason=reason) == 1, reason
    pushed = httpx.post(pod.url + "/admin/revocation", content=forged["stale"], timeout=5.0)
    assert (pushed.status_code, pushed.json()["reason"]) == (422, "stale")
    rolled = httpx.post(pod.url + "/admin/revocation", content=serial_1, timeout=5.0)
    assert (rolled.status_code, rolled.json()["reason"]) == (409, "rolled_back")
    assert metric(pod.url, "revocation_lists_refused_total", reason="stale") == 2
    health = httpx.get(pod.url + "/healthz").json()
    assert (health["bundle_sha256"], health["revocation_serial"]) == (sha_a, 2)


def test_with_no_bundle_left_and_no_central_the_pod_answers_503(swapping, edge_bundle):
    pod, workdir, _, _, _ = swapping
    pushed = httpx.post(pod.url + "/admin/revocation", timeout=5.0,
                        content=sign_list(RevocationList(3, time.time(), time.time() + 60, (
                            {"sha256": edge_bundle.manifest["bundle_sha256"], "reason": "t"},)),
                            current_key(workdir / "state" / "tokens")))
    assert pushed.json() == {"serial": 3, "bundle_sha256": None, "central_only": True}
    health = httpx.get(pod.url + "/healthz").json()
    assert (health["central_only"], health["bundle_sha256"], health["model_version"]) == (True, None, None)
    reply = decide(pod.url, edge_bundle)
    assert reply.json() == {"error": "this pod's bundle is revoked and it holds no other; no central pod to route to"}
    assert reply.status_code == 503
    # Alive, not ready: the readiness probe takes it out of a load balancer's rotation.
    ready = httpx.get(pod.url + "/readyz")
    assert (ready.status_code, ready.json()["ready"]) == (503, False)


def test_with_no_bundle_left_every_record_goes_to_central(edge_bundle, central_bundle, tmp_path):
    central_deploy = as_central(central_bundle, tmp_path / "central_deploy")
    state = tmp_path / "edge" / "state"
    rotate_keys(state / "tokens")
    with running_pod(central_deploy.path, tmp_path / "central") as central:
        with running_pod(edge_bundle.path, tmp_path / "edge", "--central-url", central.url, *POLL) as edge:
            revoke(state, edge_bundle.manifest["bundle_sha256"])
            health = health_when(edge.url, lambda h: h["central_only"])
            assert health["bundle_sha256"] is None
            assert httpx.get(edge.url + "/readyz").json() == {"ready": True}  # central answers for it
            records = [{"review_text": s} for s in edge_bundle.sentences]
            answers = httpx.post(edge.url + URL, json={"records": records}, timeout=10.0).json()["decisions"]
    assert {(a["route"], a["bundle_sha256"]) for a in answers} == {
        ("central", central_deploy.manifest["bundle_sha256"])}
    assert len(answers) == len(records)


def test_the_admin_push_needs_the_admin_scope_and_a_revoked_key_signs_no_token(edge_bundle, tmp_path):
    tokens = tmp_path / "state" / "tokens"
    old = rotate_keys(tokens)
    new = rotate_keys(tokens)
    document = sign_list(RevocationList(1, time.time(), time.time() + 60,
                                        kids=({"kid": old.kid, "reason": "leaked"},)), new)
    with running_pod(edge_bundle.path, tmp_path, "--jwks", str(jwks_path(tokens)), *POLL) as pod:
        assert decide_with(pod.url, edge_bundle, bearer(old)).status_code == 200
        refused = httpx.post(pod.url + "/admin/revocation", content=document, headers=bearer(new), timeout=5.0)
        assert (refused.status_code, refused.json()["reason"]) == (403, "token_wrong_scope")
        pushed = httpx.post(pod.url + "/admin/revocation", content=document,
                            headers=bearer(new, scopes=("admin",)), timeout=5.0)
        assert pushed.status_code == 200 and pushed.json()["serial"] == 1
        stale_key = decide_with(pod.url, edge_bundle, bearer(old))
        assert (stale_key.status_code, stale_key.json()["reason"]) == (401, "token_key_revoked")
        assert decide_with(pod.url, edge_bundle, bearer(new)).status_code == 200


def decide_with(url: str, bundle, headers: dict) -> httpx.Response:
    return httpx.post(url + URL, json={"records": [{"review_text": bundle.sentences[0]}]}, headers=headers,
                      timeout=10.0)


def test_a_pod_started_on_a_revoked_bundle_never_answers_with_it(edge_bundle, tmp_path):
    state = tmp_path / "state"
    rotate_keys(state / "tokens")
    revoke(state, edge_bundle.manifest["bundle_sha256"])
    shutil.copytree(edge_bundle.path, tmp_path / "deploy")
    with running_pod(tmp_path / "deploy", tmp_path, *POLL) as pod:
        assert httpx.get(pod.url + "/healthz").json()["central_only"] is True
        assert decide(pod.url, edge_bundle).status_code == 503
