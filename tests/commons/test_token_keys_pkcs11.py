"""Token-issuing and audit keys held by a real SoftHSM2 token (commons.pkcs11_keys via
commons.token_keys): generated inside it, never extractable, signing tokens PyJWT and a pod's
verifier accept, rotated and destroyed there, signing checkpoints and the revocation list; and the
PEM fallback the setting still selects."""

from __future__ import annotations

import json
import stat
from datetime import datetime, timezone

import httpx
import jwt
import PyKCS11
import pytest
from release_keys import session_signer

from commons.chain_checkpoint import checkpoint_entry, signature_fault
from commons.chain_verify import verify_folder
from commons.control_audit import ControlAudit
from commons.hash_chain import GENESIS
from commons.http import Forbidden, Unauthorised
from commons.key_store import key_store
from commons.pkcs11_keys import load_key
from commons.pkcs11_module import PKCS11_LOCK
from commons.pkcs11_uri import Pkcs11Error, is_pkcs11_uri, open_session, parse_uri
from commons.revocation_list import default_list_path, publish_next, read_published
from commons.settings import SIGNING_KEYS_ENV, Settings, SettingsError
from commons.softhsm import softhsm_available
from commons.token_client import BearerAuth
from commons.token_keys import (
    PEM_STORE,
    TokenKeyError,
    current_key,
    jwks_path,
    rotate_keys,
    signing_keys,
    thumbprint,
    trusted_keys,
)
from commons.tokens import issue_token
from edge_export.signer import release_signer
from edge_insights.broker_load import PRICE_WINDOW, deploy_rule_pod
from edge_insights.pods import running_pod, running_token_plane
from serving.auth import PodAuth, TokenVerifier

RULE_POD_BODY = {"records": [{"title": "Kettle", "prices": [1000.0] * PRICE_WINDOW}]}
needs_softhsm = pytest.mark.skipif(not softhsm_available(),
                                   reason="SoftHSM2 is not installed (Debian package softhsm2; .ci/run installs it)")


@pytest.fixture()
def store():
    """The session's SoftHSM token (tests/conftest.py pins it: one token folder per process)."""
    uri = key_store(Settings.from_env())
    assert is_pkcs11_uri(uri)
    return uri


def _object_attributes(uri: str, object_class: int, attributes: list[int]) -> list:
    parsed = parse_uri(uri)
    _, session = open_session(parsed.module_path, parsed.token, parsed.pin())
    with PKCS11_LOCK:
        [handle] = session.findObjects([(PyKCS11.CKA_CLASS, object_class), (PyKCS11.CKA_ID, parsed.object_id)])
        values = session.getAttributeValue(handle, attributes)
        template = PyKCS11.LowLevel.ckattrlist(1)
        template[0].SetType(PyKCS11.CKA_VALUE)
        # The private value itself: the token answers CKR_ATTRIBUTE_SENSITIVE (PyKCS11's high-level
        # call would turn that refusal into None, so the C call is made directly).
        value_rv = session.lib.C_GetAttributeValue(session.session, handle, template)
        session.closeSession()
    return [*values, value_rv]


@needs_softhsm
def test_the_key_is_made_inside_the_token_and_cannot_leave_it(tmp_path, store):
    key = rotate_keys(tmp_path / "tokens", store=store)
    assert key.kind == "pkcs11" and key.path.name.endswith(f"_{key.kid}.p11")
    assert stat.S_IMODE(key.path.stat().st_mode) == 0o600
    uri = key.path.read_text().strip()
    assert uri.startswith("pkcs11:token=edge-insights;id=%") and "pin-value" not in uri
    extractable, sensitive, key_type, value_rv = _object_attributes(
        uri, PyKCS11.CKO_PRIVATE_KEY, [PyKCS11.CKA_EXTRACTABLE, PyKCS11.CKA_SENSITIVE, PyKCS11.CKA_KEY_TYPE])
    assert (extractable, sensitive, key_type) == (False, True, PyKCS11.CKK_EC_EDWARDS)
    assert value_rv == PyKCS11.CKR_ATTRIBUTE_SENSITIVE
    # The key file holds no key material, only where it is; the kid is the RFC 7638 thumbprint.
    assert "PRIVATE KEY" not in key.path.read_text()
    assert key.kid == thumbprint(key.private_key.public_key())
    assert json.loads(jwks_path(tmp_path / "tokens").read_text()) == {"keys": [key.public_jwk()]}


@needs_softhsm
def test_a_token_signed_in_the_token_verifies_with_pyjwt_and_a_pods_verifier(tmp_path, store):
    tokens_dir = tmp_path / "tokens"
    rotate_keys(tokens_dir, store=store)
    key = current_key(tokens_dir)  # read back from its .p11 file, as the token endpoint does
    token = issue_token(key, audience="negative_review", subject="ops", scopes=["decide"], ttl_s=300)
    header = jwt.get_unverified_header(token)
    assert header == {"typ": "JWT", "alg": "EdDSA", "kid": key.kid}
    jwk = jwt.PyJWKSet.from_json(jwks_path(tokens_dir).read_text())[key.kid]
    claims = jwt.decode(token, jwk.key, algorithms=["EdDSA"], audience="negative_review", issuer="edge-insights")
    assert (claims["sub"], claims["scope"], claims["exp"] - claims["iat"]) == ("ops", "decide", 300)
    verifier = TokenVerifier(PodAuth(jwks_path(tokens_dir)))
    assert verifier.verify(f"Bearer {token}", audience="negative_review", scope="decide")["sub"] == "ops"
    with pytest.raises(Forbidden, match="not for 'price_spike'"):
        verifier.verify(f"Bearer {token}", audience="price_spike", scope="decide")


@needs_softhsm
def test_rotation_keeps_the_newest_and_destroys_the_retired_key_in_the_token(tmp_path, store):
    tokens_dir = tmp_path / "tokens"
    first = rotate_keys(tokens_dir, store=store)
    first_uri = first.path.read_text().strip()
    old_token = issue_token(first, audience="negative_review", subject="ops", scopes=["decide"], ttl_s=300)
    second = rotate_keys(tokens_dir, keep=2, store=store)
    verifier = TokenVerifier(PodAuth(jwks_path(tokens_dir)))
    # The previous key still verifies the tokens it issued.
    assert verifier.verify(f"Bearer {old_token}", audience="negative_review", scope="decide")["sub"] == "ops"
    third = rotate_keys(tokens_dir, keep=2, store=store)
    assert [k.kid for k in signing_keys(tokens_dir)] == [third.kid, second.kid]
    assert [k["kid"] for k in json.loads(jwks_path(tokens_dir).read_text())["keys"]] == [third.kid, second.kid]
    assert not first.path.exists()
    with pytest.raises(Pkcs11Error, match="holds no private key"):
        load_key(first_uri)
    with pytest.raises(Unauthorised):
        TokenVerifier(PodAuth(jwks_path(tokens_dir))).verify(f"Bearer {old_token}", audience="negative_review",
                                                             scope="decide")


@needs_softhsm
def test_the_release_signer_and_the_token_keys_share_the_tokens_login(tmp_path, store):
    key = rotate_keys(tmp_path / "tokens", store=store)
    key.sign(b"before")  # this process is now logged in to the token
    signer = release_signer(Settings.from_env())  # model-signing logs in to the same token
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "weights.bin").write_bytes(b"\x00" * 64)
    signer.sign(tmp_path / "bundle")
    assert (tmp_path / "bundle" / "model.sig").is_file()
    key.private_key.public_key().verify(key.sign(b"after"), b"after")


@needs_softhsm
def test_a_key_file_naming_a_key_the_token_lacks_is_a_clear_error(tmp_path, store):
    key = rotate_keys(tmp_path, store=store)
    uri = key.path.read_text().strip()
    (tmp_path / "keys" / "99999999999999999999_gone.p11").write_text(uri.replace("id=%", "id=%00%", 1))
    with pytest.raises(TokenKeyError, match="the token key it names cannot be opened"):
        current_key(tmp_path)
    # A rotation that cannot read the keys it would publish leaves no key of its own behind.
    before = sorted(p.name for p in (tmp_path / "keys").iterdir())
    with pytest.raises(TokenKeyError, match="the token key it names cannot be opened"):
        rotate_keys(tmp_path, store=store)
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == before


@needs_softhsm
def test_checkpoints_signed_in_the_token_verify_and_the_control_log_holds(tmp_path, store):
    audit_dir = tmp_path / "audit"
    key = rotate_keys(audit_dir, keep=100, store=store)
    trusted = trusted_keys(jwks_path(audit_dir))
    entry = checkpoint_entry(GENESIS, 0, "stop", key, now=datetime(2026, 11, 30, tzinfo=timezone.utc))
    assert entry["checkpoint"]["kid"] == key.kid and signature_fault(entry["checkpoint"], trusted) is None
    forged = {**entry["checkpoint"], "lines": 1}
    assert signature_fault(forged, trusted) == "bad_signature"
    audit = ControlAudit(audit_dir)
    for version in ("1", "2"):
        audit.record("promote", model="negative_review", version=version, alias="champion")
    report = verify_folder(audit_dir, trusted)
    assert report.fault is None and (report.lines, report.signed) == (4, 2)


@needs_softhsm
def test_the_revocation_list_signed_in_the_token_verifies(tmp_path, store):
    settings = Settings.from_env(state_dir=tmp_path / "state")
    key = rotate_keys(settings.tokens_dir, store=store)
    path = default_list_path(settings.state_dir)
    published = publish_next(path, key, jwks_path(settings.tokens_dir),
                             bundles=[{"sha256": "a" * 64, "reason": "leaked"}])
    read = read_published(path, jwks_path(settings.tokens_dir))
    assert (read.serial, read.signer, read.bundles) == (1, key.kid, published.bundles)


@pytest.mark.slow  # starts a token endpoint and a pod
@needs_softhsm
def test_a_real_pod_accepts_tokens_signed_in_the_token_and_signs_its_log_there(tmp_path):
    settings = Settings.from_env(state_dir=tmp_path / "state").ensure()
    rotate_keys(settings.audit_dir, keep=100, store=key_store(settings))
    log_dir = tmp_path / "decision_log"
    # The token endpoint (a process of its own) signs with the state folder's first token key,
    # made in the token; the pod (another process) verifies against the JWKS and signs its
    # decision log's checkpoints with the audit key, opened from its .p11 file.
    with running_token_plane(settings) as plane:
        assert [k.kind for k in signing_keys(settings.tokens_dir)] == ["pkcs11"]
        with running_pod(deploy_rule_pod(tmp_path / "pod", session_signer()), settings, tokens=plane,
                         decision_log_dir=log_dir) as url:
            auth = BearerAuth(plane.client("hsm-test", ["price_spike"]), "price_spike")
            reply = httpx.post(f"{url}/v1/decisions/price_spike", json=RULE_POD_BODY, auth=auth, timeout=10.0)
            assert reply.status_code == 200, reply.text
            refused = httpx.post(f"{url}/v1/decisions/price_spike", json=RULE_POD_BODY, timeout=10.0)
            assert refused.status_code == 401
    report = verify_folder(log_dir / "price_spike", trusted_keys(jwks_path(settings.audit_dir)),
                           require_signed=True)
    assert report.fault is None and report.signed >= 1


def test_the_setting_selects_pem_files_and_they_still_sign(tmp_path, monkeypatch):
    monkeypatch.setenv(SIGNING_KEYS_ENV, "pem")
    settings = Settings.from_env(state_dir=tmp_path / "state")
    assert key_store(settings) == PEM_STORE
    key = rotate_keys(settings.tokens_dir, store=key_store(settings))
    assert key.kind == "pem" and "PRIVATE KEY" in key.path.read_text()
    token = issue_token(current_key(settings.tokens_dir), audience="negative_review", subject="ops",
                        scopes=["decide"], ttl_s=60)
    assert TokenVerifier(PodAuth(jwks_path(settings.tokens_dir))).verify(
        f"Bearer {token}", audience="negative_review", scope="decide")["sub"] == "ops"


def test_a_setting_that_is_neither_a_token_nor_pem_is_refused(monkeypatch):
    monkeypatch.setenv(SIGNING_KEYS_ENV, "/keys/token.pem")
    with pytest.raises(SettingsError, match="PKCS#11 URI of a token"):
        Settings.from_env()


@needs_softhsm
def test_a_copied_state_folder_signs_with_its_own_token_and_rotates(tmp_path):
    """Key files name their token by its PIN file's absolute path; a copy (``cp -a``, as the README
    advises for drills) uses the copy's token, rotates there, and leaves the original alone."""
    import os
    import shutil
    import subprocess
    import sys

    def cli(state, *args):
        env = {**os.environ, "EDGE_INSIGHTS_STATE_DIR": str(state)}
        # The state folder's own token, as outside the tests (conftest pins the session's token).
        for name in ("SOFTHSM2_CONF", SIGNING_KEYS_ENV, "EDGE_INSIGHTS_RELEASE_TRUST"):
            env.pop(name, None)
        return subprocess.run([sys.executable, "-m", "edge_insights", *args], env=env, capture_output=True,
                              text=True, timeout=300)

    original, copy = tmp_path / "original", tmp_path / "copy"
    assert cli(original, "token", "keygen").returncode == 0
    shutil.copytree(original, copy, symlinks=True)
    made = cli(copy, "token", "keygen")
    assert made.returncode == 0, made.stderr[-2000:]
    issued = cli(copy, "token", "issue", "--decision", "price_spike")
    assert issued.returncode == 0, issued.stderr[-2000:]
    kid = jwt.get_unverified_header(issued.stdout.strip())["kid"]
    copy_kids = [k["kid"] for k in json.loads(jwks_path(copy / "tokens").read_text())["keys"]]
    original_kids = [k["kid"] for k in json.loads(jwks_path(original / "tokens").read_text())["keys"]]
    assert kid == copy_kids[0] and len(copy_kids) == 2 and original_kids == copy_kids[1:]
    assert len(list((copy / "tokens" / "keys").glob("*.p11"))) == 2
    assert len(list((original / "tokens" / "keys").glob("*.p11"))) == 1
