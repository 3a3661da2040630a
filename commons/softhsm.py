"""A SoftHSM2 token under the state folder holding the signing keys.

SoftHSM2 (Debian ``softhsm2``) is a software PKCS#11 token: the same interface as a hardware
security module or a TPM's PKCS#11 module, so the release step signs through a PKCS#11 URI (RFC
7512) whichever sits behind it; the token-issuing and audit keys (:mod:`commons.token_keys`)
live in the same token, beside the release key. Everything SoftHSM writes stays under ``<state>/signing``:
``softhsm2.conf`` (``SOFTHSM2_CONF`` points to it, never ``/etc/softhsm``), ``tokens/`` (never
``/var/lib/softhsm``) and ``pin`` (mode 0600, read by the URI's ``pin-source``).

The release key pair is generated inside the token (``C_GenerateKeyPair``, ECDSA P-256) with the
private half ``CKA_SENSITIVE`` and not ``CKA_EXTRACTABLE``: it never leaves the token, only
signatures and the public key do.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import PyKCS11
from asn1crypto.keys import ECDomainParameters

from .errors import EdgeInsightsError
from .pkcs11_module import PKCS11_LOCK
from .pkcs11_uri import open_session, parse_uri

SOFTHSM_MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
"""Where Debian's ``softhsm2`` installs its PKCS#11 module."""
TOKEN_LABEL = "edge-insights"
KEY_LABEL = "release-signing"
CURVE = "secp256r1"  # NIST P-256: model-signing's PKCS#11 signer takes P-256/384/521 EC keys


class TokenError(EdgeInsightsError):
    """The SoftHSM token could not be set up or its key could not be made."""


def softhsm_available() -> bool:
    """Whether the SoftHSM2 PKCS#11 module is installed."""
    return SOFTHSM_MODULE.is_file()


def token_uri(signing_dir: Path) -> str:
    """The PKCS#11 URI (RFC 7512) of the release key in the token under ``signing_dir``."""
    return f"pkcs11:token={TOKEN_LABEL};object={KEY_LABEL}?{_query(signing_dir)}"


def store_uri(signing_dir: Path) -> str:
    """The PKCS#11 URI of the token under ``signing_dir`` itself (no object): where new
    token-issuing and audit keys are generated (:mod:`commons.token_keys`)."""
    return f"pkcs11:token={TOKEN_LABEL}?{_query(signing_dir)}"


def _query(signing_dir: Path) -> str:
    pin = quote(str((signing_dir / "pin").resolve()), safe="/")
    return f"module-path={SOFTHSM_MODULE}&pin-source=file:{pin}"


def rehomed(uri: str, signing_dir: Path) -> str:
    """``uri`` naming a key of the SoftHSM token under ``signing_dir`` when it names that token's
    original: a state folder copied or moved with its ``signing/`` keeps key files whose
    ``pin-source`` is the old folder's absolute path, and would sign with that folder's token (or
    fail where SoftHSM already uses this one). The token beside is the original's copy when both
    token folders hold a token of the same id (SoftHSM names each after its serial UUID), or when
    the old folder is gone (a move). Any other URI is returned unchanged: a token of another
    module, or another folder's own token that a setting chose (``EDGE_INSIGHTS_SIGNING_KEYS``).

    Raises:
        commons.pkcs11_uri.Pkcs11Error: ``uri`` is no PKCS#11 URI.
    """
    parsed = parse_uri(uri)
    own_pin, own_tokens = signing_dir / "pin", signing_dir / "tokens"
    if (parsed.module_path != str(SOFTHSM_MODULE) or parsed.pin_source is None or parsed.object_id is None
            or parsed.pin_source.name != "pin" or not own_pin.is_file() or not own_tokens.is_dir()
            or parsed.pin_source.resolve() == own_pin.resolve()):
        return uri
    named_tokens = parsed.pin_source.parent / "tokens"
    if named_tokens.is_dir() and not {p.name for p in named_tokens.iterdir()} & {p.name for p in own_tokens.iterdir()}:
        return uri
    return replace(parsed, pin_source=own_pin.resolve()).with_object(parsed.object_id)


def use_config_beside(pin_file: Path) -> None:
    """Point SoftHSM at the token folder whose ``pin`` is ``pin_file`` when a ``softhsm2.conf``
    lies beside it (a token this module set up); a PIN file elsewhere belongs to another module.

    Raises:
        TokenError: as :func:`use_token_config`.
    """
    if (pin_file.parent / "softhsm2.conf").is_file():
        use_token_config(pin_file.parent)


_configured: list[Path] = []
"""The token folder this process configured SoftHSM with (SoftHSM reads it once per process)."""


def use_token_config(signing_dir: Path) -> Path:
    """Write ``softhsm2.conf`` (token folder ``signing_dir/tokens``) and point ``SOFTHSM2_CONF``
    at it for this process and its children; returns the config path. SoftHSM reads the
    variable when the module initialises, so this runs before any PKCS#11 call.

    Raises:
        TokenError: this process already configured SoftHSM with another folder (it would keep
            using that folder's token).
    """
    if _configured and _configured[0] != signing_dir.resolve():
        raise TokenError(f"this process already uses the SoftHSM token under {_configured[0]}; SoftHSM reads "
                         f"SOFTHSM2_CONF once per process, so {signing_dir} needs a process of its own")
    _configured[:1] = [signing_dir.resolve()]
    tokens = signing_dir / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    conf = signing_dir / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens.resolve()}\nobjectstore.backend = file\n"
                    "log.level = ERROR\nslots.removable = false\n")
    os.environ["SOFTHSM2_CONF"] = str(conf.resolve())
    return conf


def _session(pin: str) -> tuple[PyKCS11.PyKCS11Lib, PyKCS11.Session | None]:
    """A logged-in read/write session on the token labelled :data:`TOKEN_LABEL`, or None."""
    return open_session(str(SOFTHSM_MODULE), TOKEN_LABEL, pin)


def _has_key(session: PyKCS11.Session) -> bool:
    return bool(session.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY),
                                     (PyKCS11.CKA_LABEL, KEY_LABEL)]))


def _generate_key(session: PyKCS11.Session) -> None:
    """An ECDSA P-256 key pair made inside the token; the private half cannot be exported."""
    key_id = (KEY_LABEL.encode(),)
    common = [(PyKCS11.CKA_KEY_TYPE, PyKCS11.CKK_EC), (PyKCS11.CKA_TOKEN, PyKCS11.CK_TRUE),
              (PyKCS11.CKA_LABEL, KEY_LABEL), (PyKCS11.CKA_ID, key_id[0])]
    public = [(PyKCS11.CKA_CLASS, PyKCS11.CKO_PUBLIC_KEY), (PyKCS11.CKA_VERIFY, PyKCS11.CK_TRUE),
              (PyKCS11.CKA_EC_PARAMS, ECDomainParameters({"named": CURVE}).dump()), *common]
    private = [(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY), (PyKCS11.CKA_SIGN, PyKCS11.CK_TRUE),
               (PyKCS11.CKA_PRIVATE, PyKCS11.CK_TRUE), (PyKCS11.CKA_SENSITIVE, PyKCS11.CK_TRUE),
               (PyKCS11.CKA_EXTRACTABLE, PyKCS11.CK_FALSE), *common]
    session.generateKeyPair(public, private, mecha=PyKCS11.MechanismECGENERATEKEYPAIR)


def _init_token(lib: PyKCS11.PyKCS11Lib, pin: str) -> None:
    """Initialise SoftHSM's free slot as the token :data:`TOKEN_LABEL` with user PIN ``pin``
    (``C_InitToken``, then ``C_InitPIN`` as the security officer, whose random PIN is not kept).

    In this process, as ``softhsm2-util --init-token --free`` does in its own: a token made by
    another process shows here only once the module is initialised again, which
    :mod:`commons.pkcs11_module` never does.
    """
    free = [slot for slot in lib.getSlotList(tokenPresent=True)
            if not lib.getTokenInfo(slot).flags & PyKCS11.CKF_TOKEN_INITIALIZED]
    if not free:
        raise TokenError("SoftHSM offers no free slot to initialise the token in")
    so_pin = secrets.token_hex(16)
    # CK_TOKEN_INFO labels are 32 bytes padded with blanks (PyKCS11 would pad with NULs).
    lib.initToken(free[0], so_pin, TOKEN_LABEL.ljust(32))
    session = lib.openSession(free[0], PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
    session.login(so_pin, user_type=PyKCS11.CKU_SO)
    session.initPin(pin)
    session.logout()
    session.closeSession()


def ensure_token(signing_dir: Path) -> str:
    """Set up (once) the SoftHSM token under ``signing_dir`` with its release key; returns the
    key's PKCS#11 URI. A second call finds the token and key and changes nothing.

    Raises:
        TokenError: SoftHSM2 is not installed, PKCS#11 refuses, or this process already uses
            another token folder (:func:`use_token_config`).
    """
    if not softhsm_available():
        raise TokenError(f"SoftHSM2 is not installed ({SOFTHSM_MODULE}): apt-get install softhsm2")
    use_token_config(signing_dir)
    pin_file = signing_dir / "pin"
    if not pin_file.is_file():
        pin_file.touch(mode=0o600)
        pin_file.write_text(secrets.token_hex(16))
    pin = pin_file.read_text()
    try:
        with PKCS11_LOCK:
            lib, session = _session(pin)
            if session is None:
                _init_token(lib, pin)
                lib, session = _session(pin)
                if session is None:
                    raise TokenError(f"token {TOKEN_LABEL!r} not found after initialising it in {signing_dir}")
            if not _has_key(session):
                _generate_key(session)
            # No logout: the login is shared with any signer this process holds open.
            session.closeSession()
    except PyKCS11.PyKCS11Error as err:
        raise TokenError(f"PKCS#11 refused while setting up the release key: {err}") from None
    return token_uri(signing_dir)
