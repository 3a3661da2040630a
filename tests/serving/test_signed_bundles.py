"""Pods load only bundles the release key signed: every refusal kind on a real signed bundle, each
with its reason, through the loader pods use (``open_bundle``) and through a real pod process."""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime, timedelta, timezone

import pytest

from commons.bundle_signature import (
    REASONS,
    BundleExpired,
    BundleRefused,
    BundleSignatureInvalid,
    BundleTampered,
    BundleUnknownKey,
    BundleUnsigned,
    verify_bundle,
)
from commons.manifest import MANIFEST_NAME, SIGNATURE_NAME, write_manifest
from edge_export.signer import generate_pem_key, open_signer
from release_keys import signed, trust_dir
from serving.bundle_model import open_bundle
from serving.inference import EdgeModel
from test_serving_pod import refused_start, running_pod


@pytest.fixture
def bundle(edge_bundle, tmp_path):
    """A copy of the session's signed test bundle (deploy folder: bundle files, model.sig, release.json)."""
    return shutil.copytree(edge_bundle.path, tmp_path / "bundle")


def _flip_byte(path, offset=4096):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _resealed(bundle, **changes):
    """The bundle with manifest keys changed, resealed and signed by the release key."""
    manifest = json.loads((bundle / MANIFEST_NAME).read_text())
    kept = {k: v for k, v in manifest.items() if k not in ("bundle_sha256", "files", "schema_version")}
    release = (bundle / "release.json").read_bytes()
    (bundle / "release.json").unlink()  # deployed after sealing, as the pipeline does
    write_manifest(bundle, {**kept, **changes})
    (bundle / "release.json").write_bytes(release)
    return signed(bundle)


def _stranger_signed(bundle, tmp_path):
    """The bundle re-signed by a valid key that pods do not trust; returns that signer."""
    stranger = open_signer(str(generate_pem_key(tmp_path / "stranger.pem")))
    stranger.sign(bundle)
    return stranger


def test_a_signed_bundle_verifies_and_opens(bundle):
    manifest = verify_bundle(bundle, trust_dir())
    assert manifest["signed_by"] and manifest["decision"] == "negative_review"
    assert isinstance(open_bundle(bundle, trust_dir=trust_dir()), EdgeModel)


def test_the_deploy_step_may_rewrite_release_json(bundle):
    release = json.loads((bundle / "release.json").read_text())
    (bundle / "release.json").write_text(json.dumps({**release, "model_version": "9"}))
    verify_bundle(bundle, trust_dir())


def test_unsigned_is_refused(bundle):
    (bundle / SIGNATURE_NAME).unlink()
    with pytest.raises(BundleUnsigned, match="is unsigned"):
        open_bundle(bundle, trust_dir=trust_dir())


def test_signed_by_an_unknown_key_is_refused(bundle, tmp_path):
    stranger = _stranger_signed(bundle, tmp_path)
    with pytest.raises(BundleUnknownKey, match=f"signed by key {stranger.key_id[:16]}…, which is not among"):
        open_bundle(bundle, trust_dir=trust_dir())


def test_a_signature_claiming_a_trusted_key_it_was_not_made_with_is_refused(bundle, tmp_path):
    trusted_id = verify_bundle(bundle, trust_dir())["signed_by"]
    _stranger_signed(bundle, tmp_path)
    sig = json.loads((bundle / SIGNATURE_NAME).read_text())
    sig["verificationMaterial"]["publicKey"]["hint"] = trusted_id
    (bundle / SIGNATURE_NAME).write_text(json.dumps(sig))
    with pytest.raises(BundleSignatureInvalid, match="does not verify under trusted key"):
        open_bundle(bundle, trust_dir=trust_dir())


def test_a_garbled_signature_is_refused(bundle):
    (bundle / SIGNATURE_NAME).write_text("{not json")
    with pytest.raises(BundleSignatureInvalid, match="is not a model-signing signature"):
        open_bundle(bundle, trust_dir=trust_dir())


def test_a_signature_without_its_envelope_is_refused_in_one_line(bundle):
    sig = json.loads((bundle / SIGNATURE_NAME).read_text())
    del sig["dsseEnvelope"]
    (bundle / SIGNATURE_NAME).write_text(json.dumps(sig))
    with pytest.raises(BundleSignatureInvalid, match="cannot be verified: .*dsseEnvelope") as refused:
        open_bundle(bundle, trust_dir=trust_dir())
    assert "\n" not in str(refused.value)


def test_a_byte_flipped_in_the_model_is_refused(bundle):
    _flip_byte(bundle / "model.onnx")
    with pytest.raises(BundleTampered, match="changed after signing: model.onnx changed$"):
        open_bundle(bundle, trust_dir=trust_dir())


def test_an_added_file_is_refused(bundle):
    (bundle / "extra.onnx").write_bytes(b"\x08\x07")
    with pytest.raises(BundleTampered, match="changed after signing: extra.onnx added$"):
        open_bundle(bundle, trust_dir=trust_dir())


def test_a_release_json_below_the_top_folder_is_named_as_added(bundle):
    (bundle / "sub").mkdir()
    (bundle / "sub" / "release.json").write_text("{}")
    with pytest.raises(BundleTampered, match="changed after signing: sub/release.json added$"):
        open_bundle(bundle, trust_dir=trust_dir())


def test_a_removed_file_is_refused(bundle):
    (bundle / "tokenizer.json").unlink()
    with pytest.raises(BundleTampered, match="changed after signing: tokenizer.json removed$"):
        open_bundle(bundle, trust_dir=trust_dir())


def test_an_edited_manifest_is_refused_even_when_resealed_without_the_key(bundle):
    manifest = json.loads((bundle / MANIFEST_NAME).read_text())
    manifest["thresholds"]["abstain"] = 0.0
    (bundle / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(BundleTampered, match="changed after signing: manifest.json changed$"):
        open_bundle(bundle, trust_dir=trust_dir())
    # Resealing (valid file hashes and digest) does not help: the seal is not the signature.
    kept = {k: v for k, v in manifest.items() if k not in ("bundle_sha256", "files", "schema_version")}
    (bundle / "release.json").unlink()
    write_manifest(bundle, kept)  # also drops the stale model.sig, as a re-release would
    with pytest.raises(BundleUnsigned):
        open_bundle(bundle, trust_dir=trust_dir())


def test_an_expired_bundle_is_refused(bundle):
    past = datetime.now(timezone.utc) - timedelta(seconds=1)
    _resealed(bundle, not_after=past.isoformat())
    with pytest.raises(BundleExpired, match=re.escape(f"expired at {past.isoformat()} (now ")):
        open_bundle(bundle, trust_dir=trust_dir())


def test_not_after_is_checked_against_the_given_time(bundle):
    not_after = datetime.fromisoformat(verify_bundle(bundle, trust_dir())["not_after"])
    verify_bundle(bundle, trust_dir(), now=not_after - timedelta(seconds=1))
    with pytest.raises(BundleExpired):
        verify_bundle(bundle, trust_dir(), now=not_after)


@pytest.mark.parametrize("not_after", [None, "soon", "2099-01-01T00:00:00"])
def test_a_bundle_without_a_valid_zoned_not_after_is_refused(bundle, not_after):
    _resealed(bundle, not_after=not_after)
    with pytest.raises(BundleExpired, match="not_after"):
        verify_bundle(bundle, trust_dir())


def test_every_refusal_is_a_typed_bundle_refusal_with_its_reason():
    kinds = (BundleUnsigned, BundleUnknownKey, BundleSignatureInvalid, BundleTampered, BundleExpired)
    assert all(issubclass(kind, BundleRefused) for kind in kinds)
    assert REASONS == ("unsigned", "unknown_key", "bad_signature", "tampered", "expired")


def test_a_pod_refuses_to_start_on_a_tampered_bundle(bundle, tmp_path):
    _flip_byte(bundle / "model.onnx")
    [line] = refused_start(bundle, tmp_path)
    assert line.startswith(f"refusing to start: bundle in {bundle} changed after signing")
    assert line.endswith("changed after signing: model.onnx changed")


def test_a_pod_refuses_to_start_on_a_bundle_signed_by_an_unknown_key(bundle, tmp_path):
    _stranger_signed(bundle, tmp_path)
    [line] = refused_start(bundle, tmp_path)
    assert re.search(r"which is not among the \d+ trusted release keys in .*/trusted$", line), line


def test_a_pod_serves_the_signed_bundle(bundle, tmp_path):
    import httpx

    with running_pod(bundle, tmp_path / "pod") as pod:
        reply = httpx.post(f"{pod.url}/v1/decisions/negative_review",
                           json={"records": [{"review_text": "Cold food, rude staff."}]})
    assert reply.status_code == 200, reply.text
