"""The signed revocation list with real Ed25519 keys: published, verified, refused when forged or stale."""

from __future__ import annotations

import base64
import json
import time
from concurrent.futures import ProcessPoolExecutor

import jwt
import pytest

from commons.revocation_list import (
    MAX_LIST_BYTES,
    MAX_REASON_CHARS,
    RevocationList,
    RevocationListError,
    default_list_path,
    publish_next,
    read_published,
    sign_list,
    verify_list,
)
from commons.token_keys import current_key, jwks_path, rotate_keys
from serving.jwks_file import JwksFile


@pytest.fixture()
def keys(tmp_path):
    """Two token key folders: the trusted one (key, JWKS) and an outsider's key."""
    trusted = rotate_keys(tmp_path / "tokens")
    outsider = rotate_keys(tmp_path / "outsider")
    return trusted, outsider, JwksFile(jwks_path(tmp_path / "tokens"))


def reason_of(document: str, jwks: JwksFile, **kwargs) -> str:
    with pytest.raises(RevocationListError) as refused:
        verify_list(document, jwks.key, **kwargs)
    return refused.value.reason


def test_publishing_continues_the_serial_and_keeps_every_entry(tmp_path, keys):
    key, _, jwks = keys
    path = default_list_path(tmp_path / "state")
    first = publish_next(path, key, jwks.path, bundles=[{"sha256": "a" * 64, "reason": "leaked"}], now=1_000_000)
    second = publish_next(path, key, jwks.path, kids=[{"kid": "old-key", "reason": "rotated out"}],
                          max_age_s=600, now=1_000_100)
    assert (first.serial, second.serial) == (1, 2)
    assert path == tmp_path / "state" / "revocation" / "list.jwt"
    read = verify_list(path.read_text(), jwks.key, now=1_000_200)
    assert read.serial == 2 and read.signer == key.kid
    assert read.revoked_bundles == {"a" * 64} and read.revoked_kids == {"old-key"}
    assert (read.issued_at, read.next_update) == (1_000_100, 1_000_700)
    assert read.bundles[0]["revoked_at"] == "1970-01-12T13:46:40+00:00"
    assert read_published(path, jwks.path).serial == 2


def test_stale_unsigned_forged_and_unknown_lists_are_refused(keys):
    key, outsider, jwks = keys
    now = time.time()
    good = RevocationList(3, now, now + 60, ({"sha256": "b" * 64, "reason": "x"},))
    assert verify_list(sign_list(good, key), jwks.key).serial == 3
    assert reason_of(sign_list(RevocationList(3, now - 120, now - 60), key), jwks) == "stale"
    unsigned = jwt.encode(good.claims(), None, algorithm="none", headers={"typ": "revocation-list+jwt"})
    assert reason_of(unsigned, jwks) == "unsigned"
    assert reason_of("not a list", jwks) == "unsigned"
    assert reason_of(sign_list(good, outsider), jwks) == "unknown_kid"
    # The outsider's signature under the trusted key's kid: the header passes, the signature does not.
    forged = jwt.encode(good.claims(), outsider.private_key, algorithm="EdDSA",
                        headers={"kid": key.kid, "typ": "revocation-list+jwt"})
    assert reason_of(forged, jwks) == "bad_signature"
    header, payload, signature = sign_list(good, key).split(".")
    widened = json.loads(base64.urlsafe_b64decode(payload + "=="))
    widened["bundles"] = []
    edited = base64.urlsafe_b64encode(json.dumps(widened).encode()).rstrip(b"=").decode()
    assert reason_of(f"{header}.{edited}.{signature}", jwks) == "bad_signature"
    hs256 = jwt.encode(good.claims(), "s" * 32, algorithm="HS256", headers={"kid": key.kid,
                                                                           "typ": "revocation-list+jwt"})
    assert reason_of(hs256, jwks) == "bad_algorithm"
    token_shaped = jwt.encode(good.claims(), key.private_key, algorithm="EdDSA", headers={"kid": key.kid})
    assert reason_of(token_shaped, jwks) == "malformed"
    self_revoking = RevocationList(4, now, now + 60, kids=({"kid": key.kid, "reason": "compromised"},))
    assert reason_of(sign_list(self_revoking, key), jwks) == "revoked_signer"


@pytest.mark.parametrize("claim", [{"exp": "tomorrow"}, {"iat": "x"}, {"exp": True}, {"exp": 10**400},
                                   {"iat": None}, {"serial": True}])
def test_a_trusted_list_with_times_or_serial_of_the_wrong_type_is_malformed(keys, claim):
    """Signed by the trusted key, yet no list: PyJWT leaves ``exp`` unchecked when told to, and
    ``true`` is an int to Python (serial 1 once answered 409 serial_reused, not malformed)."""
    key, _, jwks = keys
    now = time.time()
    claims = {**RevocationList(2, now, now + 60).claims(), **claim}
    document = jwt.encode(claims, key.private_key, algorithm="EdDSA",
                          headers={"kid": key.kid, "typ": "revocation-list+jwt"})
    assert reason_of(document, jwks) == "malformed"


def test_a_tampered_published_list_is_not_continued(tmp_path, keys):
    key, outsider, jwks = keys
    path = default_list_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(sign_list(RevocationList(99, time.time(), time.time() + 60), outsider))
    with pytest.raises(RevocationListError) as refused:
        publish_next(path, key, jwks.path)
    assert refused.value.reason == "unreadable"


def test_an_entry_with_a_reason_over_the_limit_is_not_published(tmp_path, keys):
    key, _, jwks = keys
    path = default_list_path(tmp_path)
    with pytest.raises(RevocationListError) as refused:
        publish_next(path, key, jwks.path, kids=[{"kid": "k", "reason": "x" * (MAX_REASON_CHARS + 1)}])
    assert refused.value.reason == "malformed" and not path.exists()
    assert publish_next(path, key, jwks.path, kids=[{"kid": "k", "reason": "x" * MAX_REASON_CHARS}]).serial == 1


def test_a_binary_published_list_is_not_continued(tmp_path, keys):
    key, _, jwks = keys
    path = default_list_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\xff\xfe" + sign_list(RevocationList(1, time.time(), time.time() + 60), key).encode())
    with pytest.raises(RevocationListError) as refused:
        publish_next(path, key, jwks.path)
    assert refused.value.reason == "unreadable" and "is not ASCII text" in str(refused.value)


def _revoke(path, tokens_dir, sha):
    return publish_next(path, current_key(tokens_dir), jwks_path(tokens_dir),
                        bundles=[{"sha256": sha, "reason": "drill"}]).serial


def test_concurrent_publishers_lose_no_revocation_and_reuse_no_serial(tmp_path, keys):
    path = default_list_path(tmp_path)
    shas = [f"{n:x}" * 64 for n in range(10)]
    with ProcessPoolExecutor(max_workers=4) as pool:
        serials = list(pool.map(_revoke, [path] * 10, [tmp_path / "tokens"] * 10, shas))
    published = read_published(path, jwks_path(tmp_path / "tokens"))
    assert sorted(serials) == list(range(1, 11))
    assert (published.serial, sorted(b["sha256"] for b in published.bundles)) == (10, sorted(shas))


def test_a_list_pods_would_not_read_is_not_published(tmp_path):
    # Entries of the longest reason: about 1,200 of them outgrow the 1 MiB a pod reads.
    key = rotate_keys(tmp_path / "tokens")
    path, jwks = tmp_path / "list.jwt", jwks_path(tmp_path / "tokens")
    publish_next(path, key, jwks, kids=[{"kid": "first", "reason": "r"}])
    before = path.read_bytes()
    many = [{"kid": f"k{i:05d}", "reason": "x" * MAX_REASON_CHARS} for i in range(1500)]
    with pytest.raises(RevocationListError, match="over the 1,048,576 a pod reads; not published") as refused:
        publish_next(path, key, jwks, kids=many)
    assert refused.value.reason == "too_large" and path.read_bytes() == before
    assert len(publish_next(path, key, jwks, kids=many[:1000]).kids) == 1001
    assert len(path.read_bytes()) <= MAX_LIST_BYTES
