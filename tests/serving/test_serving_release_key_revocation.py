"""A revoked release key withdraws every bundle it signed, on a real pod (``edge-insights serve
--poll-s 0.2`` on loopback) that trusts two real release keys: the session's (SoftHSM or PEM) and a
second PEM key. A bundle the second key signed is served, then left under load for the newest held
bundle the list spares when its key is revoked; a new deployment that key signed is refused; and
with every held bundle's key revoked the pod goes central-only."""

from __future__ import annotations

import contextlib
import shutil
import time

import httpx
import pytest
from release_keys import session_signer, trust_dir
from test_serving_pod import URL, running_pod
from test_serving_revocation_pod import bench, decide, health_when, metric, until

from commons.revocation_list import default_list_path, publish_next
from commons.settings import RELEASE_TRUST_ENV
from commons.token_keys import current_key, jwks_path, rotate_keys
from edge_export.signer import generate_pem_key, open_signer

pytestmark = pytest.mark.slow  # starts processes

POLL = ("--poll-s", "0.2")


def revoke_key(state, kid: str):
    tokens = state / "tokens"
    return publish_next(default_list_path(state), current_key(tokens), jwks_path(tokens),
                        kids=[{"kid": kid, "reason": "test: release key withdrawn"}])


@pytest.fixture(scope="module")
def two_keys(edge_bundle, tmp_path_factory):
    """A pod trusting the session's release key and a second one, serving bundle A (session key);
    yields ``(pod, workdir, deploy_dir, second signer)``."""
    workdir = tmp_path_factory.mktemp("release_key_revocation")
    rotate_keys(workdir / "state" / "tokens")
    trusted = workdir / "trusted"
    trusted.mkdir()
    for public in trust_dir().glob("*.pub"):
        shutil.copy(public, trusted / public.name)
    second = open_signer(str(generate_pem_key(workdir / "second" / "release-signing.pem")))
    second.trust(trusted)
    deploy_dir = workdir / "deploy" / "champion"
    bench.deploy(edge_bundle.path, deploy_dir)
    with contextlib.ExitStack() as stack:
        # The pod reads its trust folder at start; this process keeps the session's.
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(RELEASE_TRUST_ENV, str(trusted))
            pod = stack.enter_context(running_pod(deploy_dir, workdir, *POLL))
        yield pod, workdir, deploy_dir, second


def test_a_bundle_signed_by_the_second_key_is_served_and_names_its_key(two_keys, edge_bundle):
    pod, workdir, deploy_dir, second = two_keys
    assert second.key_id != session_signer().key_id
    health = httpx.get(pod.url + "/healthz", timeout=5.0).json()
    assert (health["bundle_sha256"], health["signed_by"]) == (edge_bundle.manifest["bundle_sha256"],
                                                              session_signer().key_id)
    sha_b = bench.variant(edge_bundle.path, workdir / "variant-b", "b", second)
    bench.deploy(workdir / "variant-b", deploy_dir)
    health = health_when(pod.url, lambda h: h["bundle_sha256"] == sha_b)
    assert health["signed_by"] == second.key_id


def test_revoking_the_key_leaves_its_bundle_for_the_newest_held_one_under_load(two_keys, edge_bundle):
    pod, workdir, _, second = two_keys
    sha_a = edge_bundle.manifest["bundle_sha256"]
    body = {"records": [{"review_text": edge_bundle.sentences[0]}]}
    with bench.SteadyLoad(pod.url + URL, body, 4) as load:
        time.sleep(0.5)
        revoke_key(workdir / "state", second.key_id)
        health = health_when(pod.url, lambda h: h["bundle_sha256"] == sha_a)
        swapped = time.monotonic()
        until(lambda: sum(a.sent > swapped for a in list(load.answers)) >= 5)
    assert health == {**health, "signed_by": session_signer().key_id, "central_only": False,
                      "revocation_serial": 1}
    assert load.failed() == [] and len(load.answers) > 20
    assert {a.bundle_sha256 for a in load.answers if a.sent > swapped} == {sha_a}
    assert metric(pod.url, "bundle_swaps_total", cause="revoked") == 1


def test_a_new_deployment_signed_by_the_revoked_key_is_refused(two_keys, edge_bundle):
    pod, workdir, deploy_dir, second = two_keys
    bench.variant(edge_bundle.path, workdir / "variant-c", "c", second)
    bench.deploy(workdir / "variant-c", deploy_dir)
    until(lambda: metric(pod.url, "bundle_swaps_refused_total", reason="revoked") >= 1)
    time.sleep(0.6)  # three more polls: still counted once
    assert metric(pod.url, "bundle_swaps_refused_total", reason="revoked") == 1
    assert metric(pod.url, "bundle_swaps_refused_total", reason="unverified") == 0
    assert httpx.get(pod.url + "/healthz", timeout=5.0).json()["bundle_sha256"] == edge_bundle.manifest["bundle_sha256"]


def test_with_every_held_bundles_key_revoked_the_pod_goes_central_only(two_keys, edge_bundle):
    pod, workdir, _, _ = two_keys
    revoke_key(workdir / "state", session_signer().key_id)
    health = health_when(pod.url, lambda h: h["central_only"])
    assert (health["bundle_sha256"], health["signed_by"], health["revocation_serial"]) == (None, None, 2)
    reply = decide(pod.url, edge_bundle)  # no central pod behind this one
    assert reply.status_code == 503 and "revoked" in reply.json()["error"]
    assert metric(pod.url, "bundle_swaps_total", cause="revoked") == 2
