"""Token signing keys, the JWKS and the issuer (commons.token_keys, commons.tokens), with real keys."""

from __future__ import annotations

import base64
import json
import stat

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from commons.settings import Settings
from commons.token_keys import TokenKeyError, current_key, jwks_path, rotate_keys, signing_keys, thumbprint
from commons.tokens import MAX_TTL_S, issue_token, parse_ttl


def test_kid_is_the_rfc7638_thumbprint_of_the_rfc8037_example_key():
    # RFC 8037 appendix A.1 (the key) and A.3 (its thumbprint).
    d = base64.urlsafe_b64decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=")
    key = Ed25519PrivateKey.from_private_bytes(d)
    assert thumbprint(key.public_key()) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_keys_live_in_the_state_folder_readable_by_the_owner_only(tmp_path):
    settings = Settings.from_env(state_dir=tmp_path / "state")
    assert settings.tokens_dir == tmp_path / "state" / "tokens"
    key = rotate_keys(settings.tokens_dir)
    assert key.path.parent == settings.tokens_dir / "keys" and key.path.name.endswith(f"_{key.kid}.pem")
    assert stat.S_IMODE(key.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.path.parent.stat().st_mode) == 0o700
    document = json.loads(jwks_path(settings.tokens_dir).read_text())
    assert document == {"keys": [key.public_jwk()]}
    assert set(document["keys"][0]) == {"kty", "crv", "x", "kid", "use", "alg"}  # no private "d"
    assert not list(settings.tokens_dir.glob("*.partial")) and not list(key.path.parent.glob(".*"))


def test_rotation_signs_with_the_new_key_and_keeps_the_newest_in_the_jwks(tmp_path):
    first = rotate_keys(tmp_path)
    second = rotate_keys(tmp_path, keep=2)
    assert current_key(tmp_path).kid == second.kid
    assert [k["kid"] for k in json.loads(jwks_path(tmp_path).read_text())["keys"]] == [second.kid, first.kid]
    third = rotate_keys(tmp_path, keep=2)
    assert [k.kid for k in signing_keys(tmp_path)] == [third.kid, second.kid]  # the first key's file is gone
    assert [k["kid"] for k in json.loads(jwks_path(tmp_path).read_text())["keys"]] == [third.kid, second.kid]
    assert len({first.kid, second.kid, third.kid}) == 3
    with pytest.raises(ValueError):
        rotate_keys(tmp_path, keep=0)


def test_no_key_yet_is_a_clear_error(tmp_path):
    with pytest.raises(TokenKeyError, match="run `edge-insights token keygen` first"):
        current_key(tmp_path)


def test_a_key_file_that_is_not_ed25519_pem_is_refused(tmp_path):
    rotate_keys(tmp_path)
    (tmp_path / "keys" / "99999999999999999999_bad.pem").write_text("not a key")
    with pytest.raises(TokenKeyError, match="not a readable PEM private key"):
        current_key(tmp_path)


@pytest.mark.parametrize("text, seconds", [("300", 300), ("90s", 90), ("5m", 300), ("2H", 7200), ("1d", 86400)])
def test_lifetimes_read_with_units(text, seconds):
    assert parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "5 minutes", "-5m", "1.5h", "2d", "5w"])
def test_lifetimes_outside_one_second_to_a_day_are_refused(text):
    with pytest.raises(ValueError):
        parse_ttl(text)


def test_an_issued_token_carries_every_claim(tmp_path):
    key = rotate_keys(tmp_path)
    token = issue_token(key, audience="price_spike", subject="ops", scopes=["decide", "metrics", "decide"],
                        ttl_s=300, now=1_800_000_000, not_before_s=10)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert {k: v for k, v in claims.items() if k != "jti"} == {
        "iss": "edge-insights", "aud": "price_spike", "sub": "ops", "scope": "decide metrics",
        "iat": 1_800_000_000, "nbf": 1_800_000_010, "exp": 1_800_000_300}
    other = jwt.decode(issue_token(key, audience="price_spike", subject="ops", scopes=["decide"], ttl_s=300),
                       options={"verify_signature": False})
    assert len(claims["jti"]) >= 16 and claims["jti"] != other["jti"]


@pytest.mark.parametrize("changes", [
    {"audience": " "}, {"subject": ""}, {"issuer": ""}, {"scopes": []}, {"scopes": ["root"]},
    {"ttl_s": 0}, {"ttl_s": MAX_TTL_S + 1}])
def test_the_issuer_refuses_what_no_pod_should_accept(tmp_path, changes):
    key = rotate_keys(tmp_path)
    arguments = {"audience": "price_spike", "subject": "ops", "scopes": ["decide"], "ttl_s": 60, **changes}
    with pytest.raises(ValueError):
        issue_token(key, **arguments)
