"""The release signer on a bundle built by the export code: a SoftHSM2 token under the state
folder (key made inside it, never extractable) and the PEM fallback, each signing a real bundle
that then verifies against the trusted keys, and not against others."""

from __future__ import annotations

import json
import os
import shutil
import stat
from datetime import datetime, timezone

import PyKCS11
import pytest

from commons.bundle_signature import BundleUnknownKey, verify_bundle
from commons.manifest import SIGNATURE_NAME
from commons.pkcs11_module import PKCS11_LOCK, loaded_module
from commons.settings import RELEASE_SIGNER_ENV, Settings
from edge_export.bundle import build_bundle
from edge_export.release import RELEASE_VALIDITY, privacy_entry, release_window
from edge_export.signer import SignerError, generate_pem_key, open_signer, release_signer
from commons.softhsm import KEY_LABEL, TOKEN_LABEL, TokenError, ensure_token, softhsm_available
from training.encoder import base_model_path, load_tokenizer, pretrained_classifier, student_from_teacher
from training.loop import Inputs

pytestmark = pytest.mark.slow  # exports a model

needs_softhsm = pytest.mark.skipif(not softhsm_available(),
                                   reason="SoftHSM2 is not installed (Debian package softhsm2; .ci/run installs it)")


@pytest.fixture(scope="module")
def exported(tmp_path_factory, data_dir):
    """An int8 edge bundle of a 1-layer MiniLM student, sealed by :func:`edge_export.bundle.build_bundle`
    with the release fields the release step writes."""
    lines = (data_dir / "reviews" / "uci_sentiment_sentences" / "yelp_labelled.txt").read_bytes().decode(
        "utf-8", "replace").splitlines()[:32]
    texts = Inputs([line.rsplit("\t", 1)[0] for line in lines])
    model = student_from_teacher(pretrained_classifier(2, seed=5), 1).eval()
    folder = tmp_path_factory.mktemp("export") / "edge"
    build_bundle(model, load_tokenizer(), base_model_path() / "tokenizer.json", texts, folder, max_length=32,
                 min_agreement=0.0, metadata={"decision": "negative_review", "labels": ["not_negative", "negative"],
                                              "privacy": privacy_entry(("review_text", "product_id")),
                                              **release_window(datetime.now(timezone.utc))})
    return folder


def _copy(exported, tmp_path):
    return shutil.copytree(exported, tmp_path / "bundle")


def test_the_manifest_carries_privacy_compute_revocation_and_not_after(exported):
    manifest = json.loads((exported / "manifest.json").read_text())
    assert manifest["privacy"]["input_fields"] == ["review_text", "product_id"]
    assert manifest["privacy"]["decision_log_retention_days"] == 400  # commons/privacy_policy.toml
    compute = manifest["compute"]
    assert compute["runtime"] == "onnxruntime" and compute["opset"] == 17 and compute["threads"] == 1
    assert compute["quantization"] == "dynamic_int8"
    assert 0 < compute["bundle_mb"] < 30 and compute["latency_p50_ms"] > 0
    assert manifest["revocation"] == {"list": "deploy/revocations.json", "serial_checked": None}
    window = datetime.fromisoformat(manifest["not_after"]) - datetime.fromisoformat(manifest["created_at"])
    assert window == RELEASE_VALIDITY


@needs_softhsm
def test_the_softhsm_key_signs_a_real_bundle_and_it_verifies(exported, tmp_path):
    settings = Settings.from_env()
    signer = release_signer(settings)
    assert signer.kind == "pkcs11"
    bundle = _copy(exported, tmp_path)
    seconds = signer.sign(bundle)
    assert (bundle / SIGNATURE_NAME).is_file() and 0 < seconds < 10
    assert verify_bundle(bundle, settings.trust_dir)["signed_by"] == signer.key_id
    # Only the key's public half is trusted, under its id.
    assert (settings.trust_dir / f"release-{signer.key_id[:16]}.pub").read_bytes() == signer.public_pem
    with pytest.raises(BundleUnknownKey, match="not among the 0 trusted release keys"):
        verify_bundle(bundle, tmp_path / "no-keys")


@needs_softhsm
def test_the_token_lives_under_the_state_folder_and_its_key_cannot_leave_it():
    settings = Settings.from_env()
    uri = ensure_token(settings.signing_dir)
    assert uri == ensure_token(settings.signing_dir)  # a second call changes nothing
    assert uri.startswith(f"pkcs11:token={TOKEN_LABEL};object={KEY_LABEL}?module-path=")
    assert os.environ["SOFTHSM2_CONF"] == str((settings.signing_dir / "softhsm2.conf").resolve())
    assert any((settings.signing_dir / "tokens").iterdir())
    assert stat.S_IMODE((settings.signing_dir / "pin").stat().st_mode) == 0o600
    lib = loaded_module("/usr/lib/softhsm/libsofthsm2.so")
    with PKCS11_LOCK:
        [slot] = [s for s in lib.getSlotList(tokenPresent=True) if lib.getTokenInfo(s).label.strip() == TOKEN_LABEL]
        session = lib.openSession(slot)
        try:
            session.login((settings.signing_dir / "pin").read_text())
        except PyKCS11.PyKCS11Error as err:  # the signer of this process holds the login already
            assert err.value == PyKCS11.CKR_USER_ALREADY_LOGGED_IN
        [key] = session.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY), (PyKCS11.CKA_LABEL, KEY_LABEL)])
        extractable, sensitive = session.getAttributeValue(key, [PyKCS11.CKA_EXTRACTABLE, PyKCS11.CKA_SENSITIVE])
        assert (extractable, sensitive) == (False, True)
        # The private value itself: the token answers CKR_ATTRIBUTE_SENSITIVE (PyKCS11's high-level
        # call would turn that refusal into None, so the C call is made directly).
        template = PyKCS11.LowLevel.ckattrlist(1)
        template[0].SetType(PyKCS11.CKA_VALUE)
        assert session.lib.C_GetAttributeValue(session.session, key, template) == PyKCS11.CKR_ATTRIBUTE_SENSITIVE
        session.closeSession()


@needs_softhsm
def test_a_second_token_folder_in_one_process_is_refused_not_mixed_up(tmp_path):
    release_signer(Settings.from_env())
    with pytest.raises(TokenError, match="needs a process of its own"):
        ensure_token(tmp_path / "signing")
    assert not (tmp_path / "signing").exists()


def test_the_pem_fallback_signs_and_verifies(exported, tmp_path):
    pem = generate_pem_key(tmp_path / "keys" / "release.pem")
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    signer = open_signer(str(pem))
    assert signer.kind == "pem"
    signer.trust(tmp_path / "trusted")
    bundle = _copy(exported, tmp_path)
    signer.sign(bundle)
    assert verify_bundle(bundle, tmp_path / "trusted")["signed_by"] == signer.key_id


def test_the_setting_names_the_signer_and_its_key_becomes_trusted(tmp_path, monkeypatch):
    pem = generate_pem_key(tmp_path / "release.pem")
    monkeypatch.setenv(RELEASE_SIGNER_ENV, str(pem))
    settings = Settings.from_env(state_dir=tmp_path / "state", release_trust_dir=tmp_path / "trusted")
    signer = release_signer(settings)
    assert signer.kind == "pem" and signer.spec == str(pem)
    assert [p.name for p in (tmp_path / "trusted").iterdir()] == [f"release-{signer.key_id[:16]}.pub"]
    assert not (tmp_path / "state" / "signing").exists()  # no token made when a signer is named


def test_a_signer_that_cannot_be_opened_is_a_clear_error(tmp_path):
    with pytest.raises(SignerError, match="does not exist"):
        open_signer(str(tmp_path / "missing.pem"))
    (tmp_path / "not.pem").write_text("not a key")
    with pytest.raises(SignerError, match="not an unencrypted PEM private key"):
        open_signer(str(tmp_path / "not.pem"))
    if softhsm_available():
        with pytest.raises(SignerError, match="PKCS#11 signer cannot be opened"):
            open_signer("pkcs11:token=no-such-token;object=x?module-path=/usr/lib/softhsm/libsofthsm2.so"
                        "&pin-value=1234")
