"""``champion_alias_sensor`` on a real Dagster instance and a real MLflow registry (SQLite) under a
temporary state folder, with bundles signed by the session's release key: moving ``champion``
with ``MlflowClient`` deploys that version to the pods' deploy folder (``release.json``, bundle,
``deploy`` events in the control audit log); an alias on a revoked, unsigned or revoked-key version
is refused and nothing is deployed; a real pod on that deploy folder follows the alias."""

from __future__ import annotations

import json
import time

import dagster as dg
import httpx
import pytest
from benchmark_module import load_benchmark
from registry_factory import register_version, registered_versions, registry_of, sealed_bundle
from release_keys import session_signer, trust_dir

from commons.chain_verify import verify_folder
from commons.control_audit import read_events
from commons.manifest import load_manifest
from commons.revocation_list import default_list_path, publish_next
from commons.settings import Settings
from commons.token_keys import current_key, jwks_path, rotate_keys
from edge_insights.pods import running_pod
from orchestration.alias_sensor import champion_alias_sensor
from orchestration.definitions import build_definitions
from training.registry import CHAMPION, experiment_id

pytestmark = pytest.mark.slow  # an MLflow registry

MODEL = "negative_review"
PROMOTED = "promoted: gate passed"
bench = load_benchmark("revocation")


@pytest.fixture
def world(tmp_path, data_dir):
    """Definitions over a fresh state folder trusting the session's release key, and versions
    1–3 (signed) and 4 (unsigned) of negative_review; yields ``(defs, settings, client, shas)``."""
    settings = Settings(state_dir=tmp_path / "state", data_dir=data_dir, preset="tiny",
                        release_trust_dir=trust_dir())
    defs = build_definitions(settings)
    rotate_keys(settings.tokens_dir)
    session_signer()  # its public key is in the trust folder before anything is verified
    client, shas = registered_versions(settings, MODEL, dict.fromkeys("1234", PROMOTED), tmp_path / "bundles",
                                       sign={"1", "2", "3"})
    yield defs, settings, client, shas
    Settings.from_env().ensure()  # later tests use the session's own state folder


def evaluate(defs: dg.Definitions, instance: dg.DagsterInstance) -> dg.SensorResult:
    with dg.build_sensor_context(instance=instance, resources={
            name: defs.resources[name] for name in ("mlflow", "training", "revocation")}) as context:
        return champion_alias_sensor(context)


def deployed(settings: Settings) -> tuple[str, str]:
    """The deployed champion's version and bundle sha256."""
    folder = settings.deploy_dir / MODEL / CHAMPION
    return str(json.loads((folder / "release.json").read_text())["model_version"]), \
        load_manifest(folder)["bundle_sha256"]


def withdraw(settings: Settings, **entries) -> None:
    """Publish the next revocation list with ``entries`` (``bundles=[…]`` or ``kids=[…]``)."""
    tokens = settings.tokens_dir
    publish_next(default_list_path(settings.state_dir), current_key(tokens), jwks_path(tokens), **entries)


def deploys(settings: Settings) -> list[tuple[str, str, str]]:
    return [(e["version"], e["alias"], e["bundle_sha256"]) for e in read_events(settings.audit_dir / "control.jsonl")
            if e["action"] == "deploy"]


def test_moving_the_alias_deploys_that_version_once(world):
    defs, settings, client, shas = world
    assert defs.resolve_sensor_def("champion_alias_sensor").default_status == dg.DefaultSensorStatus.RUNNING
    with dg.instance_for_test() as instance:
        nothing = evaluate(defs, instance)
        assert nothing.asset_events == []
        assert f"{MODEL}: {MODEL} has no {CHAMPION} alias" in nothing.skip_reason.skip_message
        client.set_registered_model_alias(MODEL, CHAMPION, "1")
        first = evaluate(defs, instance)
        assert deployed(settings) == ("1", shas["1"])
        client.set_registered_model_alias(MODEL, CHAMPION, "2")
        moved = evaluate(defs, instance)
        again = evaluate(defs, instance)
    assert deployed(settings) == ("2", shas["2"])
    events = first.asset_events + moved.asset_events
    assert [(e.asset_key.to_user_string(), e.metadata["model_version"].value) for e in events] == [
        (f"{MODEL}/deployed_bundle", "1"), (f"{MODEL}/deployed_bundle", "2")]
    assert moved.skip_reason is None
    assert again.asset_events == [] and f"{MODEL}: {CHAMPION} is version 2, deployed" in again.skip_reason.skip_message
    central = load_manifest(settings.deploy_dir / MODEL / "central")["bundle_sha256"]
    assert deploys(settings) == [("1", CHAMPION, shas["1"]), ("1", "central", deploys(settings)[1][2]),
                                 ("2", CHAMPION, shas["2"]), ("2", "central", central)]
    assert verify_folder(settings.audit_dir).fault is None


def test_an_alias_on_a_revoked_unsigned_or_revoked_key_version_is_refused(world):
    defs, settings, client, shas = world
    with dg.instance_for_test() as instance:
        client.set_registered_model_alias(MODEL, CHAMPION, "2")
        evaluate(defs, instance)
        withdraw(settings, bundles=[{"sha256": shas["3"], "reason": "trained on leaked labels"}])
        client.set_registered_model_alias(MODEL, CHAMPION, "3")
        revoked = evaluate(defs, instance)
        client.set_registered_model_alias(MODEL, CHAMPION, "4")
        unsigned = evaluate(defs, instance)
        withdraw(settings, kids=[{"kid": session_signer().key_id, "reason": "release key leaked"}])
        client.set_registered_model_alias(MODEL, CHAMPION, "1")
        revoked_key = evaluate(defs, instance)
    assert [r.asset_events for r in (revoked, unsigned, revoked_key)] == [[], [], []]
    assert (f"{MODEL}: {CHAMPION} moved to version 3, NOT deployed: version 3's bundle is withdrawn by revocation "
            f"list serial 1: bundle {shas['3'][:12]} is revoked") in revoked.skip_reason.skip_message
    unsigned_why = unsigned.skip_reason.skip_message
    assert f"{MODEL}: {CHAMPION} moved to version 4, NOT deployed: version 4's bundle does not verify: " in unsigned_why
    assert "is unsigned (no model.sig)" in unsigned_why
    assert (f"NOT deployed: version 1's bundle is withdrawn by revocation list serial 2: its release key "
            f"{session_signer().key_id[:16]} is revoked") in revoked_key.skip_reason.skip_message
    assert deployed(settings) == ("2", shas["2"])
    assert [version for version, _, _ in deploys(settings)] == ["2", "2"]


def test_an_alias_put_back_on_the_deployed_version_after_its_revocation_is_refused(world):
    # The alias already names the deployed version, so no download is due; the tag and the list are.
    defs, settings, client, shas = world
    with dg.instance_for_test() as instance:
        client.set_registered_model_alias(MODEL, CHAMPION, "2")
        evaluate(defs, instance)
        withdraw(settings, bundles=[{"sha256": shas["2"], "reason": "trained on leaked labels"}])
        listed = evaluate(defs, instance)
        client.set_model_version_tag(MODEL, "2", "revoked", "true")
        client.set_model_version_tag(MODEL, "2", "revoked_reason", "trained on leaked labels")
        tagged = evaluate(defs, instance)
    assert (f"{MODEL}: {CHAMPION} is version 2, deployed but withdrawn: revocation list serial 1: bundle "
            f"{shas['2'][:12]} is revoked") in listed.skip_reason.skip_message
    assert (f"{MODEL}: {CHAMPION} is version 2, deployed but withdrawn: version 2 is tagged revoked (trained on "
            "leaked labels)") in tagged.skip_reason.skip_message
    assert [r.asset_events for r in (listed, tagged)] == [[], []]


def test_a_version_of_another_decision_is_never_deployed_in_this_ones_slot(world, tmp_path):
    # MLflow's "Register model" lets anyone file a run under any model name.
    defs, settings, client, shas = world
    stranger = sealed_bundle(tmp_path / "stranger-edge", "price_spike", "edge of price_spike", sign=True)
    sealed_bundle(tmp_path / "stranger-central", "price_spike", "central of price_spike", sign=True)
    experiment = experiment_id(client, f"{MODEL}-test", settings.artifact_root)
    version = register_version(client, experiment, MODEL, tmp_path / "stranger-edge", tmp_path / "stranger-central",
                               {"bundle_sha256": stranger, "promotion": PROMOTED})
    with dg.instance_for_test() as instance:
        client.set_registered_model_alias(MODEL, CHAMPION, "2")
        evaluate(defs, instance)
        client.set_registered_model_alias(MODEL, CHAMPION, version)
        refused = evaluate(defs, instance)
    assert refused.asset_events == []
    assert (f"{MODEL}: {CHAMPION} moved to version {version}, NOT deployed: version {version}'s bundle decides "
            f"'price_spike', not '{MODEL}'") in refused.skip_reason.skip_message
    assert deployed(settings) == ("2", shas["2"])


def test_a_pod_follows_the_alias_the_sensor_deploys(edge_bundle, tmp_path, data_dir):
    """A real pod (``edge-insights serve --poll-s 0.2``) on the deploy folder the sensor writes:
    versions 1 and 2 are the signed test bundle and a signed variant of it."""
    settings = Settings(state_dir=tmp_path / "state", data_dir=data_dir, preset="tiny",
                        release_trust_dir=trust_dir())
    defs = build_definitions(settings)
    sha_b = bench.variant(edge_bundle.path, tmp_path / "variant-b", "b", session_signer())
    client, experiment = registry_of(settings, MODEL)
    for folder in (edge_bundle.path, tmp_path / "variant-b"):
        register_version(client, experiment, MODEL, folder, folder, {"promotion": PROMOTED})
    try:
        with dg.instance_for_test() as instance:
            client.set_registered_model_alias(MODEL, CHAMPION, "1")
            evaluate(defs, instance)
            with running_pod(settings.deploy_dir / MODEL / CHAMPION, settings, auth_off=True,
                             extra_args=("--poll-s", "0.2")) as url:
                assert httpx.get(url + "/healthz", timeout=5.0).json()["bundle_sha256"] == \
                    edge_bundle.manifest["bundle_sha256"]
                client.set_registered_model_alias(MODEL, CHAMPION, "2")
                evaluate(defs, instance)
                deadline = time.monotonic() + 60.0  # a bound on a loaded machine, not a speed
                while (health := httpx.get(url + "/healthz", timeout=5.0).json())["bundle_sha256"] != sha_b:
                    assert time.monotonic() < deadline, f"healthz still {health}"
                    time.sleep(0.05)
    finally:
        Settings.from_env().ensure()  # later tests use the session's own state folder
    assert (health["model_version"], health["alias"], health["signed_by"]) == ("2", CHAMPION,
                                                                               session_signer().key_id)
