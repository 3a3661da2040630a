"""The release signer: the one key the release step signs bundles with.

A signer is named by a PKCS#11 URI (RFC 7512: a SoftHSM token in tests and the demo, a real HSM
or a TPM's PKCS#11 module in production) or by the path of a PEM private key (the fallback for a
laptop without SoftHSM). Signing goes through OpenSSF ``model-signing`` (its PKCS#11 signer or
its elliptic-key signer), so the signature is the same Sigstore bundle either way and pods verify
it with the public key alone (:mod:`commons.bundle_signature`).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from pathlib import Path

import PyKCS11
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from model_signing import signing

from commons.bundle_signature import SIGNATURE_NAME, hashing_config, key_id, trust_key
from commons.errors import ExportError
from commons.pkcs11_keys import yield_login
from commons.pkcs11_module import PKCS11_LOCK
from commons.pkcs11_uri import is_pkcs11_uri
from commons.settings import Settings
from commons.softhsm import ensure_token, softhsm_available

PEM_NAME = "release-signing.pem"


class SignerError(ExportError):
    """The release signer cannot be opened or cannot sign."""


@dataclass(frozen=True)
class ReleaseSigner:
    """A release signing key and its public half.

    Attributes:
        spec: a PKCS#11 URI (``pkcs11:token=…;object=…?module-path=…&pin-source=…``) or a PEM path;
            kept out of ``repr`` (a URI may carry ``pin-value``).
        public_pem: the public key, PEM SubjectPublicKeyInfo.
    """

    spec: str = field(repr=False)
    public_pem: bytes
    _config: signing.Config = field(repr=False, compare=False)

    @property
    def kind(self) -> str:
        """``pkcs11`` or ``pem``."""
        return "pkcs11" if is_pkcs11_uri(self.spec) else "pem"

    @property
    def key_id(self) -> str:
        """sha256 hex of :attr:`public_pem` (what a signature names as its key)."""
        return key_id(self.public_pem)

    def sign(self, bundle_dir: Path) -> float:
        """Sign every file of ``bundle_dir`` into ``bundle_dir/model.sig`` (replacing an old one).

        Returns:
            Seconds taken (hashing and signing).

        Raises:
            SignerError: the token refused to sign (removed, logged out) or a file cannot be read.
        """
        start = time.perf_counter()
        try:
            # model-signing calls the token itself: it too keeps the process's one-caller promise.
            with PKCS11_LOCK:
                self._config.sign(Path(bundle_dir), Path(bundle_dir) / SIGNATURE_NAME)
        except (OSError, PyKCS11.PyKCS11Error) as err:
            raise SignerError(f"signing {bundle_dir} failed: {err}") from None
        return time.perf_counter() - start

    def trust(self, trust_dir: Path) -> Path:
        """Add this signer's public key to ``trust_dir`` (named by its key id); returns the file."""
        return trust_key(self.public_pem, trust_dir, f"release-{self.key_id[:16]}")


def _pem_public(private_pem: bytes, path: Path) -> bytes:
    try:
        key = serialization.load_pem_private_key(private_pem, password=None)
    except ValueError as err:
        raise SignerError(f"{path} is not an unencrypted PEM private key: {err}") from None
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@functools.cache
def open_signer(spec: str) -> ReleaseSigner:
    """Open the signer ``spec`` names (a PKCS#11 URI or a PEM path), once per process: a PKCS#11
    token takes one login per application (a second is refused while the first session lives).

    Raises:
        SignerError: the PEM file is missing or not an EC private key, or the token, its PIN or
            the key the URI names cannot be reached.
    """
    config = signing.Config().set_hashing_config(hashing_config())
    if is_pkcs11_uri(spec):
        try:
            with PKCS11_LOCK:
                # The token-issuing and audit keys of this process may share the token and its login.
                yield_login(spec)
                config.use_pkcs11_signer(pkcs11_uri=spec)
        except (ValueError, RuntimeError, PyKCS11.PyKCS11Error) as err:
            raise SignerError(f"PKCS#11 signer cannot be opened: {err}") from None
        public = config._signer.public_key().public_bytes(  # model-signing exposes the key only here
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        return ReleaseSigner(spec, public, config)
    path = Path(spec)
    if not path.is_file():
        raise SignerError(f"release signing key {path} does not exist")
    public = _pem_public(path.read_bytes(), path)
    try:
        config.use_elliptic_key_signer(private_key=path)
    except ValueError as err:
        raise SignerError(f"{path} cannot sign: {err}") from None
    return ReleaseSigner(spec, public, config)


def generate_pem_key(path: Path) -> Path:
    """Write a new ECDSA P-256 private key (PKCS#8 PEM, mode 0600) to ``path``; returns it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    path.touch(mode=0o600)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


def local_signer(signing_dir: Path, trust_dir: Path, spec: str | None = None) -> ReleaseSigner:
    """The signer a run signs releases with, its public key added to ``trust_dir``.

    ``spec`` when given (a PKCS#11 URI or PEM path); else the SoftHSM token under
    ``signing_dir`` when SoftHSM2 is installed (created on first use); else a PEM key there
    (created on first use), the laptop fallback.

    Raises:
        SignerError: as :func:`open_signer`; TokenError: the SoftHSM token cannot be set up.
    """
    if not spec and softhsm_available():
        spec = ensure_token(signing_dir)
    elif not spec:
        pem = signing_dir / PEM_NAME
        spec = str(pem if pem.is_file() else generate_pem_key(pem))
    signer = open_signer(spec)
    signer.trust(trust_dir)
    return signer


def release_signer(settings: Settings) -> ReleaseSigner:
    """:func:`local_signer` for ``settings`` (its ``release_signer``, ``signing_dir``, ``trust_dir``)."""
    return local_signer(settings.signing_dir, settings.trust_dir, settings.release_signer)
