"""The verifier remembers tokens it verified, but never past what could have changed since: a real
Ed25519 key and JWKS file. A remembered token is refused once it expires, once a rotation drops its
key, at an endpoint needing a scope it lacks, and under replay protection it is never remembered."""

from __future__ import annotations

import time

import pytest

from commons.http import Forbidden, Unauthorised
from commons.token_keys import current_key, jwks_path, rotate_keys
from commons.tokens import issue_token
from serving.auth import VERIFIED_CACHE, PodAuth, TokenVerifier

AUD = "negative_review"


@pytest.fixture
def tokens_dir(tmp_path):
    rotate_keys(tmp_path / "tokens")
    return tmp_path / "tokens"


def bearer(tokens_dir, **changes) -> str:
    arguments = {"audience": AUD, "subject": "tester", "scopes": ["decide"], "ttl_s": 300}
    return "Bearer " + issue_token(current_key(tokens_dir), **{**arguments, **changes})


def test_a_remembered_token_is_answered_the_same_and_faster(tokens_dir):
    verifier = TokenVerifier(PodAuth(jwks_path(tokens_dir)))
    header = bearer(tokens_dir)
    began = time.perf_counter()
    first = verifier.verify(header, audience=AUD, scope="decide")
    full_s = time.perf_counter() - began
    began = time.perf_counter()
    for _ in range(20):
        assert verifier.verify(header, audience=AUD, scope="decide") == first
    assert (time.perf_counter() - began) / 20 < full_s


@pytest.mark.parametrize("then, reason", [
    (lambda tokens_dir: time.sleep(1.1), "token_expired"),  # its 1 s lifetime passes (no leeway)
    (lambda tokens_dir: rotate_keys(tokens_dir, keep=1), "token_unknown_kid"),  # its key leaves the JWKS
], ids=["expires", "key_rotated_out"])
def test_a_remembered_token_is_refused_once_it_no_longer_holds(tokens_dir, then, reason):
    verifier = TokenVerifier(PodAuth(jwks_path(tokens_dir), leeway_s=0.0))
    header = bearer(tokens_dir, ttl_s=1 if reason == "token_expired" else 300)
    verifier.verify(header, audience=AUD, scope="decide")
    then(tokens_dir)
    with pytest.raises(Unauthorised) as refused:
        verifier.verify(header, audience=AUD, scope="decide")
    assert refused.value.reason == reason


def test_scope_and_audience_are_checked_on_every_request(tokens_dir):
    verifier = TokenVerifier(PodAuth(jwks_path(tokens_dir)))
    header = bearer(tokens_dir)
    verifier.verify(header, audience=AUD, scope="decide")
    with pytest.raises(Forbidden) as scope:
        verifier.verify(header, audience=AUD, scope="metrics")
    with pytest.raises(Forbidden) as audience:
        verifier.verify(header, audience="price_spike", scope="decide")
    assert (scope.value.reason, audience.value.reason) == ("token_wrong_scope", "token_wrong_audience")
    assert verifier.verify(header, audience=AUD, scope="decide")["aud"] == AUD


def test_replay_protection_never_answers_from_memory(tokens_dir):
    verifier = TokenVerifier(PodAuth(jwks_path(tokens_dir), replay_protection=True))
    header = bearer(tokens_dir)
    verifier.verify(header, audience=AUD, scope="decide")
    with pytest.raises(Unauthorised) as refused:
        verifier.verify(header, audience=AUD, scope="decide")
    assert refused.value.reason == "token_replayed"


def test_memory_is_bounded(tokens_dir):
    verifier = TokenVerifier(PodAuth(jwks_path(tokens_dir)))
    headers = [bearer(tokens_dir) for _ in range(VERIFIED_CACHE + 5)]
    for header in headers:
        verifier.verify(header, audience=AUD, scope="decide")
    assert len(verifier._verified) == VERIFIED_CACHE
    assert headers[0].removeprefix("Bearer ") not in verifier._verified
