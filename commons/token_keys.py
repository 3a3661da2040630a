"""The token signing keys and the JWKS document pods verify with (RFC 7517, RFC 8037).

Layout under a keys folder (``Settings.tokens_dir``, i.e. ``<state>/tokens``, or
``Settings.audit_dir`` for the audit keys; never ``$HOME``)::

    tokens/keys/<created_ns>_<kid>.p11   a PKCS#11 URI (RFC 7512) naming a key held by a token, mode 0600
    tokens/keys/<created_ns>_<kid>.pem   or an Ed25519 private key, PKCS#8 PEM, mode 0600 (the fallback)
    tokens/jwks.json                     the public keys as a JWK Set, newest first

Files sort oldest first by name. A ``.p11`` key was generated inside the token (SoftHSM2 under
``<state>/signing`` by default, a real HSM or a TPM's PKCS#11 module where ``EDGE_INSIGHTS_SIGNING_KEYS``
names one; :mod:`commons.key_store`), is not extractable and signs through ``CKM_EDDSA``
(:mod:`commons.pkcs11_keys`); the file holds only where the key is. A ``.pem`` key is the laptop
fallback: the private key itself, on disk.

A key's ``kid`` is its RFC 7638 JWK thumbprint, so the same key always has the same id and two
keys never share one. :func:`rotate_keys` adds a key, signs with it from then on and keeps the
``keep`` newest keys in the JWKS, so tokens already issued by the previous key stay valid until
they expire. The JWKS is replaced atomically (a pod reading it mid-rotation sees the old or the
new document, never half of one). A retired key is destroyed: its PEM file deleted, or its token
objects destroyed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from commons.errors import EdgeInsightsError

if TYPE_CHECKING:
    from .pkcs11_keys import Pkcs11PrivateKey

KEYS_FOLDER = "keys"
PEM_SUFFIX = ".pem"
PKCS11_SUFFIX = ".p11"
PEM_STORE = "pem"
"""The key store that writes new keys as PEM files (:func:`rotate_keys`)."""
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
        private_key: the key: a PEM file's ``Ed25519PrivateKey``, or a token's
            :class:`commons.pkcs11_keys.Pkcs11PrivateKey` (the same ``sign``/``public_key``).
        path: the ``.pem`` file it was read from or written to, or the ``.p11`` file naming it.
    """

    kid: str
    private_key: Ed25519PrivateKey | Pkcs11PrivateKey
    path: Path

    @property
    def kind(self) -> str:
        """``pkcs11`` (held by a token) or ``pem`` (a file)."""
        return "pkcs11" if self.path.suffix == PKCS11_SUFFIX else "pem"

    def sign(self, data: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``data`` (RFC 8032).

        Raises:
            commons.pkcs11_uri.Pkcs11Error: a token key's token refused.
        """
        return self.private_key.sign(data)

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


def _pem_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as err:
        raise TokenKeyError(f"{path} is not a readable PEM private key: {err}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise TokenKeyError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def _key_uri(path: Path) -> str:
    """The PKCS#11 URI a ``.p11`` file names, re-homed to its own state folder's SoftHSM token
    (``<state>/<keys folder>/keys/…`` → ``<state>/signing``) when the folder was copied or moved
    (:func:`commons.softhsm.rehomed`).

    Raises:
        OSError: the file cannot be read.
        commons.pkcs11_uri.Pkcs11Error: it holds no PKCS#11 URI.
    """
    # Imported here: a pod that only verifies tokens never loads a PKCS#11 module.
    from .softhsm import rehomed

    return rehomed(path.read_text(encoding="utf-8").strip(), path.resolve().parents[2] / "signing")


def _token_key(path: Path) -> Pkcs11PrivateKey:
    from .pkcs11_keys import load_key
    from .pkcs11_uri import Pkcs11Error

    try:
        return load_key(_key_uri(path))
    except (OSError, Pkcs11Error) as err:
        raise TokenKeyError(f"{path}: the token key it names cannot be opened: {err}") from None


def _key_files(tokens_dir: Path) -> list[Path]:
    """The key files under ``tokens_dir``, newest first."""
    folder = Path(tokens_dir) / KEYS_FOLDER
    return sorted([*folder.glob(f"*{PEM_SUFFIX}"), *folder.glob(f"*{PKCS11_SUFFIX}")], key=lambda p: p.name,
                  reverse=True)


def signing_keys(tokens_dir: Path) -> list[SigningKey]:
    """Every signing key under ``tokens_dir``, newest first (empty when there is none).

    Raises:
        TokenKeyError: a ``.pem`` file is not an Ed25519 private key in PEM, or a ``.p11`` file
            names a key its token does not hold or a token that cannot be opened.
    """
    keys = []
    for path in _key_files(tokens_dir):
        key = _token_key(path) if path.suffix == PKCS11_SUFFIX else _pem_key(path)
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


def _new_key(folder: Path, store: str) -> SigningKey:
    """A new key made in ``store`` (:data:`PEM_STORE` or a token's PKCS#11 URI), its file in ``folder``."""
    if store == PEM_STORE:
        private = Ed25519PrivateKey.generate()
        data = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())
        suffix = PEM_SUFFIX
    else:
        from .pkcs11_keys import generate_key
        from .pkcs11_uri import Pkcs11Error

        try:
            uri, private = generate_key(store, f"edge-insights {folder.parent.name}")
        except Pkcs11Error as err:
            raise TokenKeyError(str(err)) from None
        data, suffix = f"{uri}\n".encode(), PKCS11_SUFFIX
    kid = thumbprint(private.public_key())
    # Zero-padded creation time first: file names sort oldest → newest.
    path = folder / f"{time.time_ns():020d}_{kid}{suffix}"
    _write_atomically(path, data, 0o600)
    return SigningKey(kid, private, path)


def _retire(key: SigningKey) -> None:
    """Destroy a key that left the JWKS: its token objects, then the file naming it."""
    if key.kind == "pkcs11":
        from .pkcs11_keys import destroy_key
        from .pkcs11_uri import Pkcs11Error

        try:
            destroy_key(_key_uri(key.path))
        except Pkcs11Error as err:
            raise TokenKeyError(f"{key.path}: the retired key could not be destroyed: {err}") from None
    key.path.unlink()


def rotate_keys(tokens_dir: Path, keep: int = 2, store: str = PEM_STORE) -> SigningKey:
    """Make a new signing key, make it current and rewrite the JWKS with the ``keep`` newest keys.

    Older keys leave the JWKS and are destroyed (PEM file deleted, token objects destroyed), so
    tokens they signed are refused from the pods' next JWKS reload; with ``keep`` ≥ 2 the previous
    key keeps verifying the tokens it issued until they expire.

    Args:
        tokens_dir: the keys folder (created with mode 0700 when missing).
        keep: keys kept, the new one included (≥ 1).
        store: where the new key is made: :data:`PEM_STORE` (a PEM file), or the PKCS#11 URI of a
            token (generated inside it, not extractable); :func:`commons.key_store.key_store`
            resolves the setting to one of them.

    Returns:
        The new key.

    Raises:
        ValueError: ``keep`` < 1.
        TokenKeyError: an existing key cannot be read, or the token refuses to make or destroy one.
        OSError: the folder cannot be written.
    """
    if keep < 1:
        raise ValueError(f"keep must be at least 1, got {keep}")
    folder = Path(tokens_dir) / KEYS_FOLDER
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    new = _new_key(folder, store)
    try:
        keys = signing_keys(tokens_dir)
    except TokenKeyError:
        # A rotation that cannot read the keys it would publish leaves none of its own behind:
        # a key file outside the JWKS would be "current" and sign tokens no pod accepts.
        _retire(new)
        raise
    document = json.dumps(jwks_document(keys[:keep]), indent=2) + "\n"
    _write_atomically(jwks_path(tokens_dir), document.encode("ascii"), 0o644)
    for retired in keys[keep:]:
        _retire(retired)
    return new
