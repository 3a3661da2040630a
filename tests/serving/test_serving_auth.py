"""The pod's token checks with real Ed25519 keys: each way a token can be wrong is refused with
the right status, RFC 6750 error and reason; a rotated JWKS file is picked up without a restart."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from commons.http import Forbidden, Unauthorised, error_response
from commons.token_keys import current_key, jwks_path, rotate_keys
from commons.tokens import issue_token
from serving.auth import PodAuth, TokenVerifier

AUD = "negative_review"


@pytest.fixture
def tokens_dir(tmp_path) -> Path:
    """A keys folder with one signing key and its JWKS."""
    rotate_keys(tmp_path / "tokens")
    return tmp_path / "tokens"


@pytest.fixture
def key(tokens_dir):
    return current_key(tokens_dir)


@pytest.fixture
def verifier(tokens_dir) -> TokenVerifier:
    return TokenVerifier(PodAuth(jwks_path(tokens_dir), leeway_s=5.0))


def token(key, **changes) -> str:
    arguments = {"audience": AUD, "subject": "tester", "scopes": ["decide"], "ttl_s": 300}
    return issue_token(key, **{**arguments, **changes})


def claims(**changes) -> dict:
    now = int(time.time())
    return {"iss": "edge-insights", "aud": AUD, "sub": "tester", "scope": "decide", "iat": now, "nbf": now,
            "exp": now + 300, "jti": "j-1", **changes}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def refusal(verifier: TokenVerifier, authorization: str | None, scope: str = "decide", audience: str = AUD):
    with pytest.raises((Unauthorised, Forbidden)) as caught:
        verifier.verify(authorization, audience=audience, scope=scope)
    return caught.value


def test_a_good_token_is_accepted_with_its_claims(verifier, key):
    claims_seen = verifier.verify(f"Bearer {token(key)}", audience=AUD, scope="decide")
    assert claims_seen["aud"] == AUD and claims_seen["sub"] == "tester" and claims_seen["scope"] == "decide"
    assert claims_seen["exp"] - claims_seen["iat"] == 300 and claims_seen["nbf"] == claims_seen["iat"]
    assert jwt.get_unverified_header(token(key)) == {"alg": "EdDSA", "kid": key.kid, "typ": "JWT"}


def test_no_token_is_401_with_a_challenge_without_an_error_code(verifier):
    for header in (None, "", "Basic dXNlcjpwYXNz"):
        err = refusal(verifier, header)
        # RFC 6750 §3.1: no credential (or another scheme) -> no error code in the challenge.
        assert (err.http_status, err.reason, err.challenge()) == (401, "token_missing", 'Bearer realm="edge-insights"')


def forged_tokens(key, other) -> dict[str, tuple[str, str]]:
    """Each way a token can be wrong -> (the token, the reason it is refused for)."""
    good = token(key)
    head, _, signature = good.split(".")
    public_pem = key.private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    hs_head = b64(json.dumps({"alg": "HS256", "kid": key.kid, "typ": "JWT"}).encode())
    hs_body = b64(json.dumps(claims()).encode())
    # The classic key-confusion forgery: an HMAC keyed with the (public) verification key.
    hs_sig = b64(hmac.new(public_pem, f"{hs_head}.{hs_body}".encode(), hashlib.sha256).digest())
    return {
        "malformed token": ("not-a-jwt", "token_malformed"),
        "malformed header (two tokens)": (f"{good} {good}", "token_malformed"),
        "bad signature (other key, trusted kid)": (
            jwt.encode(claims(), other.private_key, algorithm="EdDSA", headers={"kid": key.kid}),
            "token_bad_signature"),
        "tampered payload": (f"{head}.{b64(json.dumps(claims(scope='decide metrics')).encode())}.{signature}",
                             "token_bad_signature"),
        "alg none": (jwt.encode(claims(), None, algorithm="none", headers={"kid": key.kid}), "token_bad_algorithm"),
        "HS256 with the public key": (f"{hs_head}.{hs_body}.{hs_sig}", "token_bad_algorithm"),
        "unknown kid": (token(other), "token_unknown_kid"),
        "no kid": (jwt.encode(claims(), key.private_key, algorithm="EdDSA"), "token_unknown_kid"),
        "expired": (token(key, now=time.time() - 3600, ttl_s=60), "token_expired"),
        "not yet valid (nbf)": (token(key, not_before_s=3600), "token_not_yet_valid"),
        "issued in the future (iat)": (token(key, now=time.time() + 3600), "token_not_yet_valid"),
        "another issuer": (token(key, issuer="someone-else"), "token_wrong_issuer"),
        "no jti": (jwt.encode({k: v for k, v in claims().items() if k != "jti"}, key.private_key,
                              algorithm="EdDSA", headers={"kid": key.kid}), "token_missing_claim"),
        "no scope": (jwt.encode({k: v for k, v in claims().items() if k != "scope"}, key.private_key,
                                algorithm="EdDSA", headers={"kid": key.kid}), "token_missing_claim"),
        # Signed by a trusted key, so only a mis-minting issuer makes these; PyJWT takes both.
        "exp as a string": (signed(key, claims(exp=str(int(time.time()) + 300))), "token_malformed"),
        "exp as a boolean": (signed(key, claims(exp=True)), "token_malformed"),
        "nbf as a boolean": (signed(key, claims(nbf=True)), "token_malformed"),
        "lives ten days": (signed(key, claims(exp=int(time.time()) + 10 * 86400)), "token_lifetime"),
        "lives for ever": (signed(key, claims(exp=10**30)), "token_lifetime"),
    }


def signed(key, payload: dict) -> str:
    return jwt.encode(payload, key.private_key, algorithm="EdDSA", headers={"kid": key.kid})


@pytest.fixture
def other(tmp_path):
    """A real key the pod does not trust."""
    return rotate_keys(tmp_path / "untrusted")


@pytest.mark.parametrize("case", [
    "malformed token", "malformed header (two tokens)", "bad signature (other key, trusted kid)",
    "tampered payload", "alg none", "HS256 with the public key", "unknown kid", "no kid", "expired",
    "not yet valid (nbf)", "issued in the future (iat)", "another issuer", "no jti", "no scope", "exp as a string", "exp as a boolean", "nbf as a boolean",
    "lives ten days", "lives for ever"])
def test_every_invalid_token_is_401_invalid_token(verifier, key, other, case):
    forged, reason = forged_tokens(key, other)[case]
    err = refusal(verifier, f"Bearer {forged}")
    assert (type(err), err.http_status, err.reason, err.bearer_error) == (Unauthorised, 401, reason, "invalid_token")
    challenge = err.challenge()
    assert challenge.startswith('Bearer realm="edge-insights", error="invalid_token", error_description="')


def test_hs256_forgery_would_pass_a_verifier_that_trusted_the_header(key, other):
    """The forged HS256 token is a real HMAC: only the algorithm allow-list stops it."""
    forged, _ = forged_tokens(key, other)["HS256 with the public key"]
    public_pem = key.private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    head, body, signature = forged.split(".")
    assert hmac.compare_digest(
        signature, b64(hmac.new(public_pem, f"{head}.{body}".encode(), hashlib.sha256).digest()))


def test_another_audience_is_403_insufficient_scope(verifier, key):
    err = refusal(verifier, f"Bearer {token(key, audience='price_spike')}")
    assert (type(err), err.http_status, err.reason) == (Forbidden, 403, "token_wrong_audience")
    assert err.challenge() == ('Bearer realm="edge-insights", error="insufficient_scope", '
                               "error_description=\"token is not for 'negative_review'\", scope=\"decide\"")


def test_a_missing_scope_is_403_naming_the_scope_needed(verifier, key):
    err = refusal(verifier, f"Bearer {token(key, scopes=['decide'])}", scope="metrics")
    assert (err.http_status, err.reason, err.scope) == (403, "token_wrong_scope", "metrics")
    assert verifier.verify(f"Bearer {token(key, scopes=['decide', 'metrics'])}", audience=AUD, scope="metrics")


def test_clock_skew_within_the_leeway_is_tolerated(verifier, key):
    assert verifier.verify(f"Bearer {token(key, now=time.time() - 62, ttl_s=60)}", audience=AUD, scope="decide")
    assert verifier.verify(f"Bearer {token(key, not_before_s=3)}", audience=AUD, scope="decide")


def test_replayed_jti_is_refused_only_with_replay_protection(tokens_dir, key, verifier):
    once = TokenVerifier(PodAuth(jwks_path(tokens_dir), replay_protection=True))
    first, second = token(key), token(key)
    assert once.verify(f"Bearer {first}", audience=AUD, scope="decide")
    err = refusal(once, f"Bearer {first}")
    assert (err.http_status, err.reason) == (401, "token_replayed")
    assert once.verify(f"Bearer {second}", audience=AUD, scope="decide")  # another jti is fine
    # A token refused for its scope was not used: it still works where it is valid.
    third = token(key)
    refusal(once, f"Bearer {third}", scope="metrics")
    assert once.verify(f"Bearer {third}", audience=AUD, scope="decide")
    for _ in range(2):  # without replay protection a token is reusable until it expires
        assert verifier.verify(f"Bearer {first}", audience=AUD, scope="decide")


def test_a_rotated_jwks_file_is_read_again_without_a_new_verifier(tokens_dir, key, verifier):
    old = token(key)
    assert verifier.verify(f"Bearer {old}", audience=AUD, scope="decide")
    kept = rotate_keys(tokens_dir, keep=2)
    assert verifier.verify(f"Bearer {token(kept)}", audience=AUD, scope="decide")
    assert verifier.verify(f"Bearer {old}", audience=AUD, scope="decide")  # previous key still trusted
    newest = rotate_keys(tokens_dir, keep=1)
    assert verifier.verify(f"Bearer {token(newest)}", audience=AUD, scope="decide")
    assert refusal(verifier, f"Bearer {old}").reason == "token_unknown_kid"  # retired with the file
    assert verifier.keys.kids == [newest.kid] and verifier.keys.reloads == 2


def test_a_broken_jwks_file_keeps_the_last_good_keys(tokens_dir, key, verifier, caplog):
    jwks_path(tokens_dir).write_text('{"keys": [')
    assert verifier.verify(f"Bearer {token(key)}", audience=AUD, scope="decide")
    assert "still verifying with the 1 keys read before" in caplog.text


@pytest.mark.parametrize("content", ["", "{}", '{"keys": []}', '{"keys": [{"kty": "OKP", "crv": "Ed25519"}]}'])
def test_a_pod_cannot_start_on_a_jwks_without_usable_keys(tmp_path, content):
    path = tmp_path / "jwks.json"
    path.write_text(content)
    with pytest.raises(ValueError, match="not a readable JWK Set"):
        TokenVerifier(PodAuth(path))


def test_a_jwks_key_without_kid_is_refused(tmp_path, key):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [{k: v for k, v in key.public_jwk().items() if k != "kid"}]}))
    with pytest.raises(ValueError, match="every key needs a kid"):
        TokenVerifier(PodAuth(path))


def test_a_jwks_key_of_another_kind_never_verifies_an_eddsa_token(tmp_path, key):
    # An HMAC secret listed under the signing key's kid: the token claims EdDSA, the key is HS256.
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [{"kty": "oct", "k": b64(b"secret"), "kid": key.kid}]}))
    err = refusal(TokenVerifier(PodAuth(path)), f"Bearer {token(key)}")
    assert (err.http_status, err.reason) == (401, "token_bad_algorithm")


def test_error_response_carries_the_challenge_and_leaves_plain_bearer_alone():
    response = error_response(Forbidden('needs "metrics"', realm="edge-insights", scope="metrics"))
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == ('Bearer realm="edge-insights", error="insufficient_scope", '
                                                    "error_description=\"needs 'metrics'\", scope=\"metrics\"")
    # The intake webhook's refusal is unchanged: a bare challenge.
    plain = error_response(Unauthorised("missing or invalid bearer token"))
    assert (plain.status_code, plain.headers["www-authenticate"]) == (401, "Bearer")
