"""The token signing keys and the JWKS document pods verify with (RFC 7517, RFC 8037).

Layout under a keys folder (``Settings.tokens_dir``, i.e. ``<state>/tokens``, never ``$HOME``)::

    tokens/keys/<created_ns>_<kid>.pem   Ed25519 private keys, PKCS#8 PEM, mode 0600, oldest first
    tokens/jwks.json                     the public keys as a JWK Set, newest first

A key's ``kid`` is its RFC 7638 JWK thumbprint, so the same key always has the same id and two
keys never share one. :func:`rotate_keys` adds a key, signs with it from then on and keeps the
``keep`` newest keys in the JWKS, so tokens already issued by the previous key stay valid until
they expire. The JWKS is replaced atomically (a pod reading it mid-rotation sees the old or the
new document, never half of one).

The private keys are plain PEM files here: the laptop fallback. Keeping them in a PKCS#11 token is
a later step of issue 12.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from commons.errors import EdgeInsightsError

KEYS_FOLDER = "keys"
JWKS_NAME = "jwks.json"
ALGORITHM = "EdDSA"
"""JWS ``alg`` of every token (RFC 8037 §3.1: EdDSA over Ed25519)."""


class TokenKeyError(EdgeInsightsError):
    """No signing key where one was expected, or a key file that cannot be read."""


@dataclass(frozen=True)
class SigningKey:
    """One Ed25519 signing key.

    Attributes:
        kid: its key id (RFC 7638 thumbprint, base64url, 43 characters).
        private_key: the key itself (signs tokens).
        path: the PEM file it was read from or written to.
    """

    kid: str
    private_key: Ed25519PrivateKey
    path: Path

    def public_jwk(self) -> dict[str, str]:
        """The public half as a JWK (RFC 8037 §2: ``kty`` OKP, ``crv`` Ed25519, ``x``) with
        ``kid``, ``use: sig`` and ``alg: EdDSA``, so a verifier never guesses the algorithm."""
        return {**_okp_members(self.private_key.public_key()), "kid": self.kid, "use": "sig", "alg": ALGORITHM}


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _okp_members(public_key: Ed25519PublicKey) -> dict[str, str]:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw)}


def thumbprint(public_key: Ed25519PublicKey) -> str:
    """RFC 7638 JWK thumbprint: base64url(sha256) of the required members in lexical order."""
    canonical = json.dumps(_okp_members(public_key), sort_keys=True, separators=(",", ":"))
    return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def jwks_path(tokens_dir: Path) -> Path:
    """Where the public JWK Set of ``tokens_dir`` lives (what ``serve --jwks`` is given)."""
    return Path(tokens_dir) / JWKS_NAME


def trusted_keys(jwks_file: Path) -> dict[str, Ed25519PublicKey]:
    """The Ed25519 public keys of a JWKS file by ``kid`` (what a verifier of signatures trusts).

    Keys of another kind (RSA, EC, another curve) are left out: nothing here is signed with them.

    Raises:
        TokenKeyError: the file cannot be read, is not a JWK Set, or an Ed25519 key lacks its
            ``kid`` or has an ``x`` that is not 32 base64url bytes.
    """
    try:
        document = json.loads(Path(jwks_file).read_text(encoding="utf-8"))
        jwks = document["keys"]
        if not isinstance(jwks, list):
            raise TypeError("keys is not a list")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise TokenKeyError(f"{jwks_file} is not a readable JWK Set: {err}") from None
    keys = {}
    for jwk in jwks:
        if not isinstance(jwk, dict) or (jwk.get("kty"), jwk.get("crv")) != ("OKP", "Ed25519"):
            continue
        try:
            raw = base64.urlsafe_b64decode(str(jwk["x"]) + "=" * (-len(str(jwk["x"])) % 4))
            keys[str(jwk["kid"])] = Ed25519PublicKey.from_public_bytes(raw)
        except (KeyError, ValueError) as err:
            raise TokenKeyError(f"{jwks_file}: an Ed25519 key without a usable kid and x: {err}") from None
    return keys


def signing_keys(tokens_dir: Path) -> list[SigningKey]:
    """Every signing key under ``tokens_dir``, newest first (empty when there is none).

    Raises:
        TokenKeyError: a key file is not an Ed25519 private key in PEM.
    """
    keys = []
    for path in sorted((Path(tokens_dir) / KEYS_FOLDER).glob("*.pem"), reverse=True):
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as err:
            raise TokenKeyError(f"{path} is not a readable PEM private key: {err}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise TokenKeyError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
        keys.append(SigningKey(thumbprint(key.public_key()), key, path))
    return keys


def current_key(tokens_dir: Path) -> SigningKey:
    """The key new tokens are signed with: the newest one.

    Raises:
        TokenKeyError: there is no key yet (``edge-insights token keygen`` makes one), or a key
            file cannot be read.
    """
    keys = signing_keys(tokens_dir)
    if not keys:
        raise TokenKeyError(f"no signing key in {Path(tokens_dir) / KEYS_FOLDER}: "
                            "run `edge-insights token keygen` first")
    return keys[0]


def jwks_document(keys: list[SigningKey]) -> dict[str, Any]:
    """The JWK Set (RFC 7517 §5) of ``keys``' public halves: ``{"keys": [jwk, ...]}``."""
    return {"keys": [key.public_jwk() for key in keys]}


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    # Written beside the target and renamed over it: readers see the old or the new file whole.
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(partial, path)


def rotate_keys(tokens_dir: Path, keep: int = 2) -> SigningKey:
    """Make a new signing key, make it current and rewrite the JWKS with the ``keep`` newest keys.

    Older keys leave the JWKS and their PEM files are deleted, so tokens they signed are refused
    from the pods' next JWKS reload; with ``keep`` ≥ 2 the previous key keeps verifying the tokens
    it issued until they expire.

    Args:
        tokens_dir: the keys folder (created with mode 0700 when missing).
        keep: keys kept, the new one included (≥ 1).

    Returns:
        The new key.

    Raises:
        ValueError: ``keep`` < 1.
        TokenKeyError: an existing key file cannot be read.
        OSError: the folder cannot be written.
    """
    if keep < 1:
        raise ValueError(f"keep must be at least 1, got {keep}")
    folder = Path(tokens_dir) / KEYS_FOLDER
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    kid = thumbprint(private.public_key())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    # Zero-padded creation time first: file names sort oldest → newest.
    path = folder / f"{time.time_ns():020d}_{kid}.pem"
    _write_atomically(path, pem, 0o600)
    keys = signing_keys(tokens_dir)
    document = json.dumps(jwks_document(keys[:keep]), indent=2) + "\n"
    _write_atomically(jwks_path(tokens_dir), document.encode("ascii"), 0o644)
    for retired in keys[keep:]:
        retired.path.unlink()
    return SigningKey(kid, private, path)
