"""The signed revocation list: which bundles and which keys the control plane has withdrawn.

The list is one compact JWS (RFC 7515) signed with EdDSA over Ed25519 (RFC 8037) by the control
plane's current token-issuing key (:mod:`commons.token_keys`), its ``kid`` in the JWS header, so a
pod checks it against the very JWKS it checks tokens with: one trust root. Its claims, modelled on
an X.509 CRL (RFC 5280 §5.1.2):

    ``iss``      the issuer (:data:`commons.tokens.DEFAULT_ISSUER`)
    ``serial``   a number that grows by one with every list published (RFC 5280 §5.2.3 cRLNumber);
                 a pod refuses a list whose serial is below one it accepted (a rollback)
    ``iat``      issued at (thisUpdate), NumericDate seconds
    ``exp``      next update (nextUpdate): past it the list is stale and refused
    ``bundles``  ``[{"sha256", "reason", "model", "version", "revoked_at"}]`` withdrawn bundles
    ``kids``     ``[{"kid", "reason", "revoked_at"}]`` withdrawn signing keys: a token-issuing key
                 (its JWK thumbprint; pods refuse the tokens it signed) or a release key (its
                 :func:`commons.bundle_signature.key_id`; pods refuse every bundle it signed)

Entries are never removed: a revocation is permanent, so each list holds every earlier one.
A list must be re-published (a new serial, the same entries) before ``exp``; pods alarm on a
stale list but keep obeying the last list they accepted. The default location is
``<state>/revocation/list.jwt`` (:func:`default_list_path`).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
from jwt import PyJWK, PyJWKSet
from jwt.exceptions import InvalidSignatureError, PyJWTError

from .bundle_signature import BundleRefused
from .errors import EdgeInsightsError
from .file_lock import exclusive_lock
from .jws import encode
from .token_keys import ALGORITHM, SigningKey, current_key, jwks_path
from .tokens import DEFAULT_ISSUER

if TYPE_CHECKING:
    from .control_audit import ControlAudit
    from .settings import Settings

LIST_FOLDER = "revocation"
LIST_NAME = "list.jwt"
JWS_TYPE = "revocation-list+jwt"
"""JWS ``typ`` header (RFC 7515 §4.1.9): a token never passes for a list, nor a list for a token."""
DEFAULT_MAX_AGE_S = 24 * 3600
"""Lifetime of a list (``exp - iat``): the control plane re-publishes at least daily."""
REQUIRED = ("iss", "serial", "iat", "exp", "bundles", "kids")
MAX_REASON_CHARS = 500
"""Longest reason an entry keeps: entries stay on the list for good, and a pod takes a pushed list
of at most 1 MiB, so a few pasted logs must not outgrow every push from then on."""
MAX_LIST_BYTES = 1024 * 1024
"""Largest list a pod takes, pushed, fetched or read from a file (thousands of entries fit); the
publisher refuses to write a larger one, which every pod would ignore."""
KID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")
"""A key id an entry may withdraw: a token key's JWK thumbprint (RFC 7638, 43 base64url characters)
or a release key's id (64 hex digits), with room for other schemes; anything longer or with other
characters is a typo or an attempt to grow the list."""


class RevocationListError(EdgeInsightsError):
    """A revocation list that must not be obeyed, or cannot be published.

    Attributes:
        reason: a short fixed code for counters: ``unsigned``, ``bad_algorithm``, ``unknown_kid``,
            ``bad_signature``, ``stale``, ``malformed``, ``revoked_signer``, ``rolled_back``,
            ``serial_reused``, ``unreadable``, ``too_large``.
    """

    http_status = 422

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class RevocationList:
    """One verified list.

    Attributes:
        serial: its serial (≥ 1).
        issued_at, next_update: Unix seconds (``iat``, ``exp``).
        bundles: withdrawn bundles, each ``{"sha256", "reason", ...}``.
        kids: withdrawn key ids, each ``{"kid", "reason", ...}``.
        signer: the ``kid`` that signed it.
    """

    serial: int
    issued_at: float
    next_update: float
    bundles: tuple[dict[str, Any], ...] = ()
    kids: tuple[dict[str, Any], ...] = ()
    signer: str = ""
    revoked_bundles: frozenset[str] = field(init=False)
    revoked_kids: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "revoked_bundles", frozenset(b["sha256"] for b in self.bundles))
        object.__setattr__(self, "revoked_kids", frozenset(k["kid"] for k in self.kids))

    def withdrawal(self, bundle_sha256: str, signed_by: str | None) -> str | None:
        """Why this list withdraws a bundle, or None when it spares it.

        Args:
            bundle_sha256: the bundle's identity (its manifest's ``bundle_sha256``).
            signed_by: the release key id its signature verified under (``signed_by`` of
                :func:`commons.bundle_signature.verify_bundle`), None when unknown.

        Returns:
            ``"bundle <sha256[:12]> is revoked"``, ``"its release key <kid[:16]> is revoked"`` or None.
        """
        if bundle_sha256 in self.revoked_bundles:
            return f"bundle {bundle_sha256[:12]} is revoked"
        if signed_by is not None and signed_by in self.revoked_kids:
            return f"its release key {signed_by[:16]} is revoked"
        return None

    def claims(self, issuer: str = DEFAULT_ISSUER) -> dict[str, Any]:
        """The JWT claims of this list."""
        return {"iss": issuer, "serial": self.serial, "iat": int(self.issued_at), "exp": int(self.next_update),
                "bundles": list(self.bundles), "kids": list(self.kids)}


def default_list_path(state_dir: Path) -> Path:
    """Where the control plane publishes the list and pods read it by default."""
    return Path(state_dir) / LIST_FOLDER / LIST_NAME


def sign_list(revocations: RevocationList, key: SigningKey, issuer: str = DEFAULT_ISSUER) -> str:
    """The list as a compact JWS signed by ``key`` (``kid`` and ``typ`` in its header)."""
    return encode(revocations.claims(issuer), key, {"typ": JWS_TYPE})


def verify_list(document: str, key_for: Callable[[str], PyJWK | None], *, issuer: str = DEFAULT_ISSUER,
                now: float | None = None) -> RevocationList:
    """Check a published list and return it; rollback is the caller's check (it knows the serials seen).

    Args:
        document: the compact JWS as published.
        key_for: the trusted public key for a ``kid`` (e.g. :meth:`serving.jwks_file.JwksFile.key`),
            None when the ``kid`` is not trusted.
        issuer: the only ``iss`` accepted.
        now: the time to check ``exp`` against, Unix seconds (default: the clock).

    Raises:
        RevocationListError: ``unsigned`` (not a JWS, or ``alg: none``), ``bad_algorithm`` (any
            algorithm but EdDSA, or a key of another kind), ``unknown_kid``, ``bad_signature``,
            ``stale`` (past ``exp``), ``malformed`` (a claim missing or of the wrong shape, another
            issuer or ``typ``), ``revoked_signer`` (signed by a key the list itself withdraws).
    """
    try:
        header = jwt.get_unverified_header(document.strip())
    except PyJWTError as err:
        raise RevocationListError(f"revocation list is not a JWS: {err}", "unsigned") from None
    alg = header.get("alg")
    if alg in (None, "none"):
        raise RevocationListError("revocation list is unsigned (alg none)", "unsigned")
    if alg != ALGORITHM:
        raise RevocationListError(f"revocation list algorithm {alg!r} is not accepted; only {ALGORITHM}",
                                  "bad_algorithm")
    if header.get("typ") != JWS_TYPE:
        raise RevocationListError(f"JWS typ {header.get('typ')!r} is not {JWS_TYPE!r}", "malformed")
    kid = header.get("kid")
    key = key_for(kid) if isinstance(kid, str) else None
    if key is None:
        raise RevocationListError(f"revocation list key id {kid!r} is not trusted", "unknown_kid")
    if key.algorithm_name != ALGORITHM:
        raise RevocationListError(f"key {kid!r} is a {key.algorithm_name} key, not {ALGORITHM}", "bad_algorithm")
    checked_at = time.time() if now is None else now
    try:
        claims = jwt.decode(document.strip(), key.key, algorithms=[ALGORITHM], issuer=issuer,
                            options={"require": list(REQUIRED), "verify_exp": False, "verify_iat": False})
    except InvalidSignatureError:
        raise RevocationListError("revocation list signature does not verify", "bad_signature") from None
    except PyJWTError as err:
        raise RevocationListError(f"revocation list claims are not valid: {err}", "malformed") from None
    times = {name: claims[name] for name in ("iat", "exp")}
    if not all(_is_number(value) for value in times.values()):
        raise RevocationListError(f"revocation list times are not JSON numbers: {times}", "malformed")
    if claims["exp"] <= checked_at:
        raise RevocationListError(f"revocation list serial {claims['serial']} is stale: its next update was due "
                                  f"{_iso(claims['exp'])}", "stale")
    revocations = _parsed(claims, kid)
    if kid in revocations.revoked_kids:
        raise RevocationListError(f"revocation list is signed by key {kid!r}, which it revokes", "revoked_signer")
    return revocations


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds")


def _is_number(value: Any) -> bool:
    """A JSON number within ±10¹⁵ s of the epoch (``true`` is no number, though Python's bool is an
    int; NaN, infinities and 400-digit integers are no instant either)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and -1e15 < value < 1e15


def _parsed(claims: dict[str, Any], signer: str) -> RevocationList:
    bundles, kids, serial = claims["bundles"], claims["kids"], claims["serial"]
    shaped = (isinstance(serial, int) and not isinstance(serial, bool) and serial >= 1 and isinstance(bundles, list) and isinstance(kids, list)
              and all(isinstance(b, dict) and isinstance(b.get("sha256"), str) for b in bundles)
              and all(isinstance(k, dict) and isinstance(k.get("kid"), str) for k in kids))
    if not shaped:
        raise RevocationListError("revocation list needs a serial ≥ 1 and lists of bundles (sha256) and "
                                  "kids (kid)", "malformed")
    return RevocationList(serial, float(claims["iat"]), float(claims["exp"]), tuple(bundles), tuple(kids), signer)


def read_published(path: Path, jwks: Path) -> RevocationList | None:
    """The list published at ``path``, checked against ``jwks`` but not for staleness (the publisher
    reads its own last list to continue it), or None when nothing is published yet.

    Raises:
        RevocationListError: the file exists but does not verify (the serial must not restart).
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        keys = {k.key_id: k for k in PyJWKSet.from_json(Path(jwks).read_text(encoding="utf-8")).keys}
    except (OSError, ValueError, PyJWTError) as err:
        raise RevocationListError(f"JWKS {jwks} cannot be read: {err}", "unknown_kid") from None
    try:
        document = path.read_text(encoding="ascii")
    except UnicodeDecodeError:
        # A compact JWS is ASCII; bytes beyond it (a corrupt or binary file) are no list.
        raise RevocationListError(f"revocation list {path} is not ASCII text", "unsigned") from None
    return verify_list(document, keys.get, now=0.0)


def check_reason(reason: str) -> str:
    """``reason`` when a list entry may keep it.

    Raises:
        RevocationListError: ``malformed``: longer than :data:`MAX_REASON_CHARS` characters.
    """
    if len(reason) > MAX_REASON_CHARS:
        raise RevocationListError(f"a reason is at most {MAX_REASON_CHARS} characters, got {len(reason):,}",
                                  "malformed")
    return reason


def check_kid(kid: str) -> str:
    """``kid`` when a list entry may withdraw it (:data:`KID_PATTERN`).

    Raises:
        RevocationListError: ``malformed``: empty, over 128 characters, or characters outside
            letters, digits and ``._:-``.
    """
    if not isinstance(kid, str) or not KID_PATTERN.fullmatch(kid):
        shown = kid[:40] + "…" if isinstance(kid, str) and len(kid) > 40 else kid
        raise RevocationListError(f"{shown!r} is no key id: 1 to 128 letters, digits or . _ : -", "malformed")
    return kid


def publish_next(path: Path, key: SigningKey, jwks: Path, *, bundles: Iterable[dict[str, Any]] = (),
                 kids: Iterable[dict[str, Any]] = (), max_age_s: int = DEFAULT_MAX_AGE_S,
                 now: float | None = None) -> RevocationList:
    """Publish the next list: the previous list's entries plus ``bundles`` and ``kids``, serial + 1.

    The file is replaced atomically (written beside it, then renamed), so a pod polling it reads
    the old or the new list whole; publishers hold ``<list>.lock``, so concurrent ones serialise.

    Args:
        path: where the list is published (:func:`default_list_path`).
        key: the control plane's current token-issuing key.
        jwks: the JWKS the previous list is checked against (the tokens' ``jwks.json``).
        bundles: new bundle entries, each with ``sha256`` and ``reason``.
        kids: new key entries, each with ``kid`` and ``reason``.
        max_age_s: seconds until the list is stale (``exp - iat``), ≥ 1.
        now: issue time, Unix seconds (default: the clock).

    Returns:
        The list published.

    Raises:
        RevocationListError: the previous list does not verify (``unreadable``), ``max_age_s`` < 1, a
            new entry's reason is longer than :data:`MAX_REASON_CHARS` or its kid fails
            :func:`check_kid` (``malformed``), or the list would outgrow :data:`MAX_LIST_BYTES`
            (``too_large``; the published list is left as it was).
        OSError: the folder cannot be written.
    """
    if max_age_s < 1:
        raise RevocationListError(f"max_age_s must be at least 1, got {max_age_s}", "malformed")
    bundles, kids = list(bundles), list(kids)
    for entry in bundles + kids:
        check_reason(entry.get("reason", ""))
    for entry in kids:
        check_kid(entry["kid"])
    path = Path(path)
    # Locked from read to rename: a concurrent publish (revoke beside revoke-refresh) would otherwise
    # drop the other's entries and reuse its serial.
    with exclusive_lock(path.with_name(f"{path.name}.lock")):
        try:
            previous = read_published(path, jwks)
        except RevocationListError as err:
            raise RevocationListError(f"the published list {path} does not verify ({err}); not continuing it",
                                      "unreadable") from None
        issued = int(time.time() if now is None else now)
        stamp = _iso(issued)
        merged_bundles = {b["sha256"]: b for b in (previous.bundles if previous else ())}
        for entry in bundles:
            merged_bundles.setdefault(entry["sha256"], {"revoked_at": stamp, **entry})
        merged_kids = {k["kid"]: k for k in (previous.kids if previous else ())}
        for entry in kids:
            merged_kids.setdefault(entry["kid"], {"revoked_at": stamp, **entry})
        published = RevocationList((previous.serial if previous else 0) + 1, issued, issued + max_age_s,
                                   tuple(merged_bundles.values()), tuple(merged_kids.values()), key.kid)
        _write(path, published, key)
    return published


def _write(path: Path, published: RevocationList, key: SigningKey) -> None:
    """Sign and replace the list atomically (written beside it, then renamed); the caller holds the lock.

    Raises:
        RevocationListError: ``too_large``: the signed list is over :data:`MAX_LIST_BYTES`.
    """
    document = sign_list(published, key) + "\n"
    if len(document) > MAX_LIST_BYTES:
        raise RevocationListError(f"the next list would be {len(document):,} bytes, over the {MAX_LIST_BYTES:,} "
                                  "a pod reads; not published", "too_large")
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(document, encoding="ascii")
    os.replace(partial, path)


def rotate_with_list(path: Path, tokens_dir: Path, rotate: Callable[[], SigningKey]
                     ) -> tuple[SigningKey, RevocationList | None]:
    """Rotate the token-issuing keys and carry the published list over to the new key.

    The list is read and verified against the JWKS before ``rotate`` runs, then re-published with
    the next serial, the same entries and the same lifetime, signed by the new key. A rotation that
    drops the list's signer from the JWKS (``keep`` 1, or a second rotation with ``keep`` 2) would
    otherwise leave a list that neither pods nor the next publisher can verify: every later
    ``revoke`` and refresh would fail.

    Args:
        path: the published list (:func:`default_list_path`).
        tokens_dir: the token keys folder (its ``jwks.json`` verifies the list).
        rotate: makes the new key and rewrites the JWKS (e.g. :func:`commons.token_keys.rotate_keys`
            with its arguments bound); returns the new key.

    Returns:
        The new key and the list re-published (None when none was published).

    Raises:
        RevocationListError: the published list does not verify before the rotation (``unreadable``;
            nothing is rotated: a list replaced by someone else is no list to re-sign).
        TokenKeyError, OSError: as ``rotate``, or the list cannot be written.
    """
    path = Path(path)
    if not path.is_file():
        return rotate(), None
    with exclusive_lock(path.with_name(f"{path.name}.lock")):
        try:
            previous = read_published(path, jwks_path(tokens_dir))
        except RevocationListError as err:
            raise RevocationListError(f"the published list {path} does not verify ({err}); no key rotated",
                                      "unreadable") from None
        key = rotate()
        issued = int(time.time())
        lifetime = max(1, int(previous.next_update - previous.issued_at))
        published = RevocationList(previous.serial + 1, issued, issued + lifetime, previous.bundles, previous.kids,
                                   key.kid)
        _write(path, published, key)
    return key, published


def refresh_list(path: Path, tokens_dir: Path, *, max_age_s: int = DEFAULT_MAX_AGE_S,
                 audit: ControlAudit | None = None) -> RevocationList:
    """Re-publish the list at ``path``: the next serial, the same entries, a new ``exp``, signed by
    the current token-issuing key of ``tokens_dir`` (``edge-insights revoke-refresh`` and the
    ``revocation_refresh_schedule`` both call this). With ``audit``, records a
    ``revocation_refresh`` event (serial, entry counts, next update).

    Returns:
        The list published (serial 1, empty, when none was published before).

    Raises:
        RevocationListError: as :func:`publish_next`; TokenKeyError: no token signing key.
        OSError: the list or the audit log cannot be written.
    """
    published = publish_next(path, current_key(tokens_dir), jwks_path(tokens_dir), max_age_s=max_age_s)
    if audit is not None:
        audit.record("revocation_refresh", serial=published.serial, bundles=len(published.bundles),
                     kids=len(published.kids), next_update=_iso(published.next_update))
    return published


class BundleRevoked(BundleRefused):
    """A verified bundle the state folder's published revocation list withdraws (its bundle, or the
    release key that signed it): no pod answers with it any more."""

    reason = "revoked"


def check_not_revoked(manifest: dict[str, Any], settings: Settings) -> None:
    """Refuse a verified bundle (``manifest`` as :func:`commons.bundle_signature.verify_bundle`
    returns it) that the state folder's published revocation list withdraws, as a pod would.

    Raises:
        BundleRevoked: the list withdraws its bundle or its release key, or the list does not
            verify (a pod obeys no such list, but nothing then says the bundle still stands).
    """
    try:
        published = read_published(default_list_path(settings.state_dir), jwks_path(settings.tokens_dir))
    except RevocationListError as err:
        raise BundleRevoked(f"the revocation list cannot be checked: {err}") from None
    withdrawn = published.withdrawal(manifest["bundle_sha256"], manifest.get("signed_by")) if published else None
    if withdrawn:
        raise BundleRevoked(f"{withdrawn} (revocation list serial {published.serial}); pods no longer answer "
                            "with it")
