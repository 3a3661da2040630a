"""``edge-insights revoke``: a real MLflow registry (SQLite) and real keys under a temporary state
folder; the version is tagged, champion moves back (and is deployed), the list's next serial is
published and signed, and the control audit log records it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mlflow import MlflowClient
from registry_factory import registered_versions, sealed_bundle
from release_keys import session_signer, trust_dir
from typer.testing import CliRunner

from commons.bundle_signature import trusted_keys
from commons.chain_verify import verify_folder
from commons.control_audit import read_events
from commons.manifest import load_manifest
from commons.revocation_list import default_list_path, publish_next, verify_list
from commons.settings import Settings
from commons.token_keys import current_key, jwks_path, rotate_keys
from edge_insights.cli import app
from serving.jwks_file import JwksFile
from training.registry import CHALLENGER, CHAMPION, aliases, deploy_champion

pytestmark = pytest.mark.slow  # an MLflow registry

MODEL = "negative_review"


@pytest.fixture
def state(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("EDGE_INSIGHTS_STATE_DIR", str(tmp_path / "state"))
    rotate_keys(tmp_path / "state" / "tokens")
    return tmp_path / "state"


@pytest.fixture
def registry(state, tmp_path) -> tuple[MlflowClient, dict[str, str]]:
    """Versions 1 and 2 passed the gate, 3 did not; champion is 2. Yields the client and each
    version's bundle sha256."""
    client, shas = registered_versions(Settings.from_env().ensure(), MODEL, {
        "1": "promoted: gate passed", "2": "promoted: gate passed", "3": "not promoted: below the baseline"}, tmp_path)
    client.set_registered_model_alias(MODEL, CHAMPION, "2")
    return client, shas


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def test_revoking_the_champion_moves_it_back_publishes_the_list_and_records_it(state, registry):
    client, shas = registry
    done = invoke("revoke", "2", "--decision", MODEL, "--reason", "trained on leaked labels")
    assert done.exit_code == 0, done.output
    assert done.output.strip() == (f"revoked {MODEL} version 2 (bundle {shas['2']}); revocation list serial 1; "
                                   "champion now 1")
    tags = client.get_model_version(MODEL, "2").tags
    assert (tags["revoked"], tags["revoked_reason"]) == ("true", "trained on leaked labels")
    assert str(aliases(client, MODEL)[CHAMPION]) == "1"
    deployed = state / "deploy" / MODEL / CHAMPION
    assert load_manifest(deployed)["bundle_sha256"] == shas["1"]
    assert str(json.loads((deployed / "release.json").read_text())["model_version"]) == "1"

    published = verify_list(default_list_path(state).read_text(), JwksFile(jwks_path(state / "tokens")).key)
    assert published.serial == 1 and published.revoked_bundles == {shas["2"]}
    assert published.bundles[0]["reason"] == "trained on leaked labels"

    events = read_events(state / "audit" / "control.jsonl")
    revoked = events[-1]
    assert (revoked["action"], revoked["version"], revoked["alias"], revoked["bundle_sha256"]) == (
        "revoke", "2", CHAMPION, shas["2"])
    assert revoked["details"] == {"reason": "trained on leaked labels", "serial": 1, "champion": "1"}
    assert [(e["action"], e["alias"]) for e in events[:-1]] == [("deploy", CHAMPION), ("deploy", "central")]
    assert verify_folder(state / "audit").fault is None


def test_revoking_the_last_good_version_leaves_no_champion(state, registry):
    client, shas = registry
    assert invoke("revoke", "2", "--decision", MODEL, "--reason", "a").exit_code == 0
    done = invoke("revoke", "1", "--decision", MODEL, "--reason", "b")
    assert done.exit_code == 0, done.output
    first, left = done.output.strip().splitlines()
    assert first.endswith("revocation list serial 2; champion now none")
    assert left.startswith("no good version is left: ") and "route every request to the central model" in left
    assert CHAMPION not in aliases(client, MODEL)
    published = verify_list(default_list_path(state).read_text(), JwksFile(jwks_path(state / "tokens")).key)
    assert published.revoked_bundles == {shas["1"], shas["2"]}


def test_a_revoked_bundle_left_deployed_is_not_scored_as_the_champion(state, tmp_path):
    client, shas = registered_versions(Settings.from_env().ensure(), MODEL, {"1": "promoted: gate passed"},
                                       tmp_path, sign={"1"})
    client.set_registered_model_alias(MODEL, CHAMPION, "1")
    assert deploy_champion(client, MODEL, state / "deploy")["deployed"]
    assert invoke("revoke", "1", "--decision", MODEL, "--reason", "leaked labels").exit_code == 0
    # No champion is left to deploy, so the folder still holds the signed, now revoked, bundle.
    assert load_manifest(state / "deploy" / MODEL / CHAMPION)["bundle_sha256"] == shas["1"]
    assert f"{MODEL}/{CHAMPION} (bundle revoked)" in invoke("release-keys").output
    scored = invoke("evaluate", MODEL, "--data-dir", str(state))
    assert scored.exit_code == 2
    assert f"is refused (revoked): bundle {shas['1'][:12]} is revoked (revocation list serial 1)" in scored.output


def test_champion_never_falls_back_to_a_version_the_list_withdraws(state, registry):
    client, shas = registry
    tokens = state / "tokens"
    publish_next(default_list_path(state), current_key(tokens), jwks_path(tokens),
                 bundles=[{"sha256": shas["1"], "reason": "withdrawn before the champion"}])
    done = invoke("revoke", "2", "--decision", MODEL, "--reason", "b")
    assert done.exit_code == 0, done.output
    assert done.output.strip().splitlines()[0].endswith("revocation list serial 2; champion now none")
    assert CHAMPION not in aliases(client, MODEL)


def test_a_reason_too_long_for_the_list_leaves_the_version_untouched(state, registry):
    client, _ = registry
    result = invoke("revoke", "2", "--decision", MODEL, "--reason", "x" * 501)
    assert result.exit_code == 2, result.output
    assert "a reason is at most 500 characters, got 501" in " ".join(result.output.replace("│", " ").split())
    assert "revoked" not in client.get_model_version(MODEL, "2").tags
    assert not default_list_path(state).exists()


def test_an_unknown_version_is_a_clean_error(state, registry):
    result = invoke("revoke", "9", "--decision", MODEL, "--reason", "x")
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {MODEL} has no version '9'"
    assert not default_list_path(state).exists()
    unknown = invoke("revoke", "1", "--decision", "bogus", "--reason", "x")
    assert unknown.exit_code == 2 and "unknown decision 'bogus'; choose one of" in " ".join(unknown.output.split())
    assert not default_list_path(state).exists()


def test_a_missing_registry_is_refused_and_not_created_empty(state):
    # Opened, MLflow would make an empty registry here and answer that it has no version 1.
    result = invoke("revoke", "1", "--decision", MODEL, "--reason", "x")
    assert result.exit_code == 2
    assert result.output.strip() == (f"error: no MLflow registry at {state / 'mlflow' / 'mlflow.db'}: no version to "
                                     "revoke (was it removed, or does EDGE_INSIGHTS_STATE_DIR name another "
                                     "folder?); nothing was created")
    assert sorted(p.name for p in state.iterdir()) == ["tokens"]


def test_a_revocation_folder_that_is_a_file_is_one_error_line(state, registry):
    client, _ = registry
    (state / "revocation").write_text("not a folder\n")
    revoked = invoke("revoke", "2", "--decision", MODEL, "--reason", "x")
    refreshed = invoke("revoke-refresh")
    assert (revoked.exit_code, refreshed.exit_code) == (2, 2)
    unwritable = f"error: the revocation list cannot be published: {state / 'revocation'}: File exists"
    assert revoked.output.strip() == f"{unwritable}; nothing revoked"
    assert refreshed.output.strip() == unwritable
    assert "revoked" not in client.get_model_version(MODEL, "2").tags


def test_a_key_revocation_and_a_refresh_continue_the_serial(state):
    tokens = state / "tokens"
    old = rotate_keys(tokens)  # the fixture's key is older still; this one is current until the next line
    rotate_keys(tokens)
    # A kid may begin with "-" (base64url): "--" keeps it from being read as an option.
    revoked = invoke("revoke-key", "--reason", "laptop stolen", "--", old.kid)
    assert revoked.output.strip() == (f"revoked token key {old.kid} (pods refuse the tokens it signed); "
                                      f"revocation list serial 1 ({default_list_path(state)})")
    refreshed = invoke("revoke-refresh", "--max-age", "2h")
    assert refreshed.output.strip() == "revocation list serial 2 re-published: 0 bundle(s), 1 key(s) revoked"
    published = verify_list(default_list_path(state).read_text(), JwksFile(jwks_path(tokens)).key)
    assert published.revoked_kids == {old.kid} and published.next_update - published.issued_at == 7200
    current = invoke("revoke-key", "--reason", "x", "--", published.signer)
    assert current.exit_code == 2 and "is the current signing key" in current.output
    events = read_events(state / "audit" / "control.jsonl")
    assert [(e["action"], e["details"].get("key_kind"), e["details"].get("serial")) for e in events] == [
        ("revoke", "token", 1), ("revocation_refresh", None, 2)]
    assert events[1]["details"]["next_update"] == datetime.fromtimestamp(
        published.next_update, UTC).isoformat(timespec="seconds")


@pytest.mark.parametrize("kid, reason, named", [
    ("some-kid", " ", "Invalid value for '--reason': must not be blank"),
    (" ", "laptop stolen", "Invalid value for 'KID': must not be blank"),
    ("a\udcffb", "laptop stolen", "Invalid value for 'KID': must be valid UTF-8"),
    ("some-kid", "a\udcffb", "Invalid value for '--reason': must be valid UTF-8"),
    # A few pasted logs would otherwise outgrow the 1 MiB a pod takes in a push, for good.
    ("some-kid", "x" * 501, "Invalid value for '--reason': a reason is at most 500 characters, got 501"),
])
def test_revoke_key_refuses_a_blank_or_undecodable_kid_or_reason_before_publishing(state, kid, reason, named):
    # Entries stay on the list for good, so a bad one must never reach it.
    result = invoke("revoke-key", kid, "--reason", reason)
    assert result.exit_code == 2, result.output
    assert named in " ".join(result.output.replace("│", " ").split())
    assert not default_list_path(state).exists()


def test_release_keys_names_the_id_revoke_key_takes_and_the_bundles_it_signed(state):
    key = session_signer()
    sealed_bundle(state / "deploy" / MODEL / CHAMPION, MODEL, "edge 1", sign=True)
    listed = invoke("release-keys")
    public = trusted_keys(trust_dir())[key.key_id].name
    assert f"{key.key_id}  {public}  deployed: {MODEL}/{CHAMPION}" in listed.output.splitlines()
    revoked = invoke("revoke-key", key.key_id, "--reason", "release key left on a build host")
    assert revoked.output.startswith(f"revoked release key {key.key_id} (pods leave and refuse every bundle it "
                                     "signed); revocation list serial 1")
    assert f"{key.key_id}  {public}  REVOKED  deployed: {MODEL}/{CHAMPION}" in invoke("release-keys").output
    published = verify_list(default_list_path(state).read_text(), JwksFile(jwks_path(state / "tokens")).key)
    assert published.withdrawal("0" * 64, key.key_id) == f"its release key {key.key_id[:16]} is revoked"


@pytest.mark.parametrize("spoil", [lambda p: p.write_text("not a key"), lambda p: p.mkdir()])
def test_an_unreadable_trusted_key_is_one_error_line(state, tmp_path, monkeypatch, spoil):
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    spoil(trusted / "broken.pub")
    monkeypatch.setenv("EDGE_INSIGHTS_RELEASE_TRUST", str(trusted))
    for args in (("release-keys",), ("revoke-key", "some-kid", "--reason", "x")):
        result = invoke(*args)
        assert result.exit_code == 2, result.output
        assert result.output.startswith(f"error: trusted key {trusted / 'broken.pub'} is not a PEM public key: ")
    assert not default_list_path(state).exists()


def test_revoking_the_release_key_of_the_champion_moves_it_back(state, registry):
    client, shas = registry
    key = session_signer()
    client.set_model_version_tag(MODEL, "2", "release_signed_by", key.key_id)
    revoked = invoke("revoke-key", key.key_id, "--reason", "release key left on a build host")
    assert revoked.exit_code == 0, revoked.output
    assert revoked.output.splitlines()[-1] == f"{MODEL}: champion signed by it, now 1"
    assert str(aliases(client, MODEL)[CHAMPION]) == "1"
    assert load_manifest(state / "deploy" / MODEL / CHAMPION)["bundle_sha256"] == shas["1"]
    event = read_events(state / "audit" / "control.jsonl")[-1]
    assert (event["action"], event["details"]["key_kind"], event["details"]["champions"]) == (
        "revoke", "release", {MODEL: "1"})


@pytest.mark.parametrize("written", ["01", "+1", " 2", "\u0662"])
def test_a_version_not_written_as_mlflow_numbers_it_is_refused(state, registry, written):
    # MLflow reads each as a version; compared as text with the champion's "2" it kept champion on it.
    client, _ = registry
    result = invoke("revoke", written, "--decision", MODEL, "--reason", "x")
    assert result.exit_code == 2, result.output
    assert result.output.strip() == f"error: {written!r} is no version number: write it as MLflow shows it (1, 2, …)"
    assert str(aliases(client, MODEL)[CHAMPION]) == "2" and not default_list_path(state).exists()


def test_revoking_twice_keeps_the_first_revocation_and_publishes_nothing_new(state, registry):
    client, shas = registry
    assert invoke("revoke", "3", "--decision", MODEL, "--reason", "first").exit_code == 0
    first = client.get_model_version(MODEL, "3").tags
    again = invoke("revoke", "3", "--decision", MODEL, "--reason", "second")
    assert again.exit_code == 0, again.output
    assert again.output.strip() == (f"{MODEL} version 3 was already revoked (bundle {shas['3']}; revocation list "
                                    "serial 1); champion now 2")
    tags = client.get_model_version(MODEL, "3").tags
    assert (tags["revoked_reason"], tags["revoked_at"]) == ("first", first["revoked_at"])
    published = verify_list(default_list_path(state).read_text(), JwksFile(jwks_path(state / "tokens")).key)
    assert published.serial == 1 and published.bundles[0]["reason"] == "first"
    assert [e["action"] for e in read_events(state / "audit" / "control.jsonl")][-1:] == ["revoke"]
    assert sum(e["action"] == "revoke" for e in read_events(state / "audit" / "control.jsonl")) == 1


def test_a_revoke_whose_list_cannot_be_continued_leaves_the_registry_untouched(state, registry, tmp_path):
    client, _ = registry
    outsider = rotate_keys(tmp_path / "outsider")
    publish_next(default_list_path(state), outsider, jwks_path(tmp_path / "outsider"))
    result = invoke("revoke", "2", "--decision", MODEL, "--reason", "x")
    assert result.exit_code == 2
    assert result.output.startswith(f"error: the published list {default_list_path(state)} does not verify "
                                    "(revocation list key id ")
    assert result.output.strip().endswith("is not trusted); nothing revoked")
    assert "revoked" not in client.get_model_version(MODEL, "2").tags
    assert str(aliases(client, MODEL)[CHAMPION]) == "2"


@pytest.mark.parametrize("keep", ["1", "2"])
def test_rotating_the_token_key_re_signs_the_list_so_revocation_goes_on(state, registry, keep):
    # The list's signer leaves the JWKS on the first rotation with --keep 1, on the second with 2.
    client, shas = registry
    assert invoke("revoke", "3", "--decision", MODEL, "--reason", "a").exit_code == 0
    for turn in (1, 2):
        rotated = invoke("token", "keygen", "--keep", keep)
        assert rotated.exit_code == 0, rotated.output
        assert f"revocation list re-signed with it: serial {1 + turn}" in rotated.output
    published = verify_list(default_list_path(state).read_text(), JwksFile(jwks_path(state / "tokens")).key)
    assert (published.serial, published.revoked_bundles) == (3, {shas["3"]})
    assert published.signer == current_key(state / "tokens").kid
    done = invoke("revoke", "2", "--decision", MODEL, "--reason", "b")
    assert done.exit_code == 0, done.output
    assert done.output.strip().endswith("revocation list serial 4; champion now 1")
    events = [(e["action"], e["details"].get("serial")) for e in read_events(state / "audit" / "control.jsonl")
              if e["action"] != "deploy"]  # the fallback champion's deployment
    assert events[-6:] == [("revoke", 1), ("key_rotation", None), ("revocation_refresh", 2), ("key_rotation", None),
                           ("revocation_refresh", 3), ("revoke", 4)]


@pytest.mark.parametrize("kid", ["k" * 129, "a kid with spaces", "ключ"])
def test_revoke_key_refuses_what_is_no_key_id(state, kid):
    # Entries stay for good: 9 ids of 120 KB made a list over the 1 MiB every pod ignores.
    result = invoke("revoke-key", "--reason", "x", "--", kid)
    assert result.exit_code == 2, result.output
    assert "is no key id: 1 to 128 letters, digits or . _ : -" in " ".join(result.output.replace("│", " ").split())
    assert not default_list_path(state).exists()


def test_a_revoked_challenger_loses_its_alias_and_the_audit_log_says_so(state, registry):
    client, shas = registry
    client.set_registered_model_alias(MODEL, CHALLENGER, "3")  # as registering the newest version does
    done = invoke("revoke", "3", "--decision", MODEL, "--reason", "scored on the wrong split")
    assert done.exit_code == 0, done.output
    assert done.output.strip() == (f"revoked {MODEL} version 3 (bundle {shas['3']}); revocation list serial 1; "
                                   "champion now 2; challenger alias removed")
    assert {alias: str(v) for alias, v in aliases(client, MODEL).items()} == {CHAMPION: "2"}
    revoked = read_events(state / "audit" / "control.jsonl")[-1]
    assert (revoked["action"], revoked["version"], revoked["alias"]) == ("revoke", "3", None)
    assert revoked["details"]["challenger_removed"] is True
    again = invoke("revoke", "3", "--decision", MODEL, "--reason", "again")
    assert again.output.strip().endswith("champion now 2")
