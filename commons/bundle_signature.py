"""Signed bundles: an OpenSSF ``model-signing`` signature over every file of a bundle folder.

The release step signs a bundle folder after the gate (:mod:`edge_export.signer`); a pod verifies
it against the trusted release public keys before it loads anything (:func:`verify_bundle`, on
the path :func:`serving.bundle_model.open_bundle` takes). The signature is ``model.sig`` inside
the folder: a Sigstore bundle (DSSE envelope around an in-toto statement listing each file's
sha256, signed with ECDSA P-256, FIPS 186-5), written and checked by ``model-signing``
(https://github.com/sigstore/model-transparency). Two names are outside the signed set:
``model.sig`` itself and ``release.json``, which the deploy step writes beside the bundle (which
model version and alias it is; the pod checks it against the signed manifest). Any other file
added, removed or changed breaks the signature.

A refusal is a :class:`BundleError` subclass whose ``reason`` names the kind (:data:`REASONS`),
so a pod keeps serving what it has and says why it would not swap.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from model_signing import hashing, verifying

from commons.errors import BundleError
from commons.manifest import SIGNATURE_NAME, file_sha256, load_manifest

DEPLOY_RELEASE_NAME = "release.json"
UNSIGNED_NAMES = (SIGNATURE_NAME, DEPLOY_RELEASE_NAME)
"""Files a bundle folder may hold outside the signature (see the module docstring)."""
PUBLIC_KEY_SUFFIX = ".pub"


class BundleRefused(BundleError):
    """A bundle failed signature verification; ``reason`` is one of :data:`REASONS`."""

    reason = "invalid"


class BundleUnsigned(BundleRefused):
    """The folder holds no ``model.sig``."""

    reason = "unsigned"


class BundleUnknownKey(BundleRefused):
    """The signature names a key that is not among the trusted release keys."""

    reason = "unknown_key"


class BundleSignatureInvalid(BundleRefused):
    """``model.sig`` is unreadable, or does not verify under the trusted key it names."""

    reason = "bad_signature"


class BundleTampered(BundleRefused):
    """A file was changed, added or removed after signing."""

    reason = "tampered"


class BundleExpired(BundleRefused):
    """The signed manifest's ``not_after`` has passed (or it names none)."""

    reason = "expired"


REASONS = tuple(cls.reason for cls in (BundleUnsigned, BundleUnknownKey, BundleSignatureInvalid,
                                        BundleTampered, BundleExpired))


def hashing_config() -> hashing.Config:
    """How a bundle is hashed for signing and verifying: every file, sha256, no symlinks, only
    :data:`UNSIGNED_NAMES` left out (git files are not skipped: a bundle has none)."""
    return (hashing.Config().use_file_serialization(hashing_algorithm="sha256", allow_symlinks=False)
            .set_ignored_paths(paths=UNSIGNED_NAMES, ignore_git_paths=False))


def key_id(public_pem: bytes) -> str:
    """Identifier of a public key: sha256 hex of its PEM SubjectPublicKeyInfo, the ``hint``
    model-signing writes into a signature's verification material."""
    key = serialization.load_pem_public_key(public_pem)
    spki = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def trusted_keys(trust_dir: Path) -> dict[str, Path]:
    """Key id → PEM file of every ``*.pub`` in ``trust_dir`` (none when the folder is absent).

    Raises:
        BundleError: a ``*.pub`` entry is not a readable PEM public key (a folder, say).
    """
    keys: dict[str, Path] = {}
    for path in sorted(Path(trust_dir).glob(f"*{PUBLIC_KEY_SUFFIX}")):
        try:
            keys[key_id(path.read_bytes())] = path
        except (ValueError, OSError) as err:
            raise BundleError(f"trusted key {path} is not a PEM public key: {err}") from None
    return keys


def trust_key(public_pem: bytes, trust_dir: Path, name: str) -> Path:
    """Add a release public key to ``trust_dir`` as ``<name>.pub``; returns its path."""
    trust_dir.mkdir(parents=True, exist_ok=True)
    path = trust_dir / f"{name}{PUBLIC_KEY_SUFFIX}"
    path.write_bytes(public_pem)
    return path


def signature_key_id(signature: Path) -> str:
    """The key id a ``model.sig`` names (``verificationMaterial.publicKey.hint``), read without
    verifying it: which key to verify under, or which release key a listing should name.

    Raises:
        BundleSignatureInvalid: the file is not a model-signing signature.
        BundleUnknownKey: it names no key.
    """
    try:
        hint = json.loads(signature.read_text(encoding="utf-8"))["verificationMaterial"]["publicKey"]["hint"]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
        raise BundleSignatureInvalid(f"{signature} is not a model-signing signature: {err!r}") from None
    if not isinstance(hint, str) or not hint:
        raise BundleUnknownKey(f"{signature} names no public key")
    return hint


def _changes(bundle_dir: Path, signature: Path) -> str:
    """What differs between the folder and the files a verified signature lists (its in-toto
    statement's ``predicate.resources``: name and sha256), e.g. ``model.onnx changed; x added``."""
    statement = json.loads(base64.b64decode(json.loads(signature.read_text())["dsseEnvelope"]["payload"]))
    signed = {r["name"]: r["digest"] for r in statement["predicate"]["resources"]}
    # Only the top folder's model.sig and release.json are outside the signature: a sub/release.json is not.
    present = {p.relative_to(bundle_dir).as_posix(): p for p in sorted(bundle_dir.rglob("*"))
               if p.is_file() and p.relative_to(bundle_dir).as_posix() not in UNSIGNED_NAMES}
    changes = [f"{name} changed" for name in signed.keys() & present.keys()
               if file_sha256(present[name]) != signed[name]]
    changes += [f"{name} added" for name in present.keys() - signed.keys()]
    changes += [f"{name} removed" for name in signed.keys() - present.keys()]
    return "; ".join(sorted(changes)) or "the files differ from the signed list"


def _not_after(manifest: dict[str, Any], bundle_dir: Path, now: datetime) -> None:
    raw = manifest.get("not_after")
    try:
        limit = datetime.fromisoformat(raw)
    except (TypeError, ValueError):
        raise BundleExpired(f"bundle in {bundle_dir} has no valid not_after (got {raw!r})") from None
    if limit.tzinfo is None:
        raise BundleExpired(f"bundle in {bundle_dir}: not_after {raw!r} has no time zone")
    if now >= limit:
        raise BundleExpired(f"bundle in {bundle_dir} expired at {raw} (now {now.isoformat(timespec='seconds')})")


def verify_bundle(bundle_dir: Path, trust_dir: Path, *, now: datetime | None = None) -> dict[str, Any]:
    """Verify a bundle folder before anything in it is loaded.

    Checks, in order: ``model.sig`` exists; it names a key in ``trust_dir``; the signature
    verifies under that key and the folder's files are exactly the signed ones with the signed
    sha256s (model-signing); the manifest's own file hashes and digest hold
    (:func:`commons.manifest.load_manifest`); ``not_after`` (ISO 8601 with a zone) is after ``now``.

    Args:
        bundle_dir: the bundle (or deploy) folder.
        trust_dir: folder of trusted release public keys (``*.pub``).
        now: the reference time (UTC now by default).

    Returns:
        The verified manifest plus ``signed_by`` (the signing key's id).

    Raises:
        BundleUnsigned, BundleUnknownKey, BundleSignatureInvalid, BundleTampered, BundleExpired:
            as their names say; BundleError: the manifest fails :func:`load_manifest`.
    """
    bundle_dir = Path(bundle_dir)
    signature = bundle_dir / SIGNATURE_NAME
    if not signature.is_file():
        raise BundleUnsigned(f"bundle in {bundle_dir} is unsigned (no {SIGNATURE_NAME})")
    signer = signature_key_id(signature)
    keys = trusted_keys(trust_dir)
    if signer not in keys:
        raise BundleUnknownKey(f"bundle in {bundle_dir} is signed by key {signer[:16]}…, which is not among "
                               f"the {len(keys)} trusted release keys in {trust_dir}")
    config = verifying.Config().use_elliptic_key_verifier(public_key=keys[signer]).set_hashing_config(hashing_config())
    try:
        config.verify(bundle_dir, signature)
    except InvalidSignature:
        raise BundleSignatureInvalid(f"{signature} does not verify under trusted key {signer[:16]}…") from None
    except (ValueError, KeyError, TypeError) as err:  # model-signing's refusals, and a malformed bundle
        if str(err).startswith("Signature mismatch"):
            raise BundleTampered(f"bundle in {bundle_dir} changed after signing: "
                                 f"{_changes(bundle_dir, signature)}") from None
        # One line: a pod prints its refusal as one (pydantic's messages span several).
        raise BundleSignatureInvalid(f"{signature} cannot be verified: {' '.join(str(err).split())}") from None
    manifest = load_manifest(bundle_dir)
    _not_after(manifest, bundle_dir, now or datetime.now(timezone.utc))
    return {**manifest, "signed_by": signer}
