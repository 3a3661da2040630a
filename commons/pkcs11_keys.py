"""Ed25519 signing keys that live in a PKCS#11 token and never leave it.

A key pair is generated inside the token (``C_GenerateKeyPair`` with
``CKM_EC_EDWARDS_KEY_PAIR_GEN``, curve Ed25519) with the private half ``CKA_SENSITIVE`` and not
``CKA_EXTRACTABLE``; signing is ``C_Sign`` with ``CKM_EDDSA`` (pure Ed25519, RFC 8032), so the
64-byte signatures are exactly what a software Ed25519 key makes and PyJWT, ``cryptography`` and
the pods verify them with the public key alone. Each key is named by a PKCS#11 URI (RFC 7512)
carrying its random ``CKA_ID``; :mod:`commons.token_keys` keeps that URI where a PEM file would be.
"""

from __future__ import annotations

import contextlib
import secrets

import PyKCS11
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .pkcs11_module import PKCS11_LOCK
from .pkcs11_uri import Pkcs11Error, Pkcs11Uri, open_session, parse_uri
from .softhsm import SOFTHSM_MODULE, TokenError, use_config_beside

ED25519_PARAMS = bytes.fromhex("06032b6570")
"""``CKA_EC_PARAMS`` of Ed25519: the DER object identifier 1.3.101.112 (RFC 8410)."""
ID_BYTES = 16
_LOST_LOGIN = (PyKCS11.CKR_USER_NOT_LOGGED_IN, PyKCS11.CKR_OBJECT_HANDLE_INVALID, PyKCS11.CKR_KEY_HANDLE_INVALID)
"""What signing answers after the process logged out of the token (SoftHSM2 drops private handles)."""


class Pkcs11Token:
    """A logged-in session on one token, shared by every key of it in this process.

    Every call on it holds the process's PKCS#11 lock (:mod:`commons.pkcs11_module`): a token
    endpoint serving several threads signs one signature at a time.

    Args:
        uri: the token's URI (an object in it may be named too; only token and module count).

    Raises:
        Pkcs11Error: the module cannot be loaded, no slot holds the token, the PIN is refused, or
            it is a SoftHSM token in another folder than the one this process already uses.
    """

    def __init__(self, uri: Pkcs11Uri) -> None:
        self.uri = uri
        self.lock = PKCS11_LOCK
        if uri.module_path == str(SOFTHSM_MODULE) and uri.pin_source is not None:
            try:
                use_config_beside(uri.pin_source)
            except TokenError as err:
                raise Pkcs11Error(str(err)) from None
        try:
            self._lib, session = open_session(uri.module_path, uri.token, uri.pin())
        except PyKCS11.PyKCS11Error as err:
            raise Pkcs11Error(f"PKCS#11 token {uri.token!r} cannot be opened: {err}") from None
        if session is None:
            raise Pkcs11Error(f"no slot of {uri.module_path} holds a token labelled {uri.token!r}")
        self.session = session

    def login(self) -> None:
        """Log in with the URI's PIN unless this process already is (by any library).

        Raises:
            PyKCS11.PyKCS11Error: the PIN is refused.
        """
        with self.lock:
            try:
                self.session.login(self.uri.pin())
            except PyKCS11.PyKCS11Error as err:
                if err.value != PyKCS11.CKR_USER_ALREADY_LOGGED_IN:
                    raise

    def find(self, object_id: bytes, object_class: int) -> int | None:
        """The handle of the object of ``object_class`` with ``CKA_ID`` ``object_id``, or None."""
        with self.lock:
            found = self.session.findObjects([(PyKCS11.CKA_CLASS, object_class), (PyKCS11.CKA_ID, object_id)])
        return found[0] if found else None


_open: dict[Pkcs11Uri, Pkcs11Token] = {}
"""The tokens this process holds open, by their URI without object."""


def _token_of(uri: Pkcs11Uri) -> Pkcs11Token:
    """The process's one open :class:`Pkcs11Token` for the token ``uri`` names, whatever object
    it names: one session per token, so one login."""
    bare = Pkcs11Uri(uri.token, uri.module_path, uri.pin_source, uri.pin_value)
    with PKCS11_LOCK:  # threads of a token endpoint reading keys at once share one session
        if bare not in _open:
            _open[bare] = Pkcs11Token(bare)
        token = _open[bare]
    try:
        token.login()  # a login yielded to another library (yield_login) and not taken hides private keys
    except PyKCS11.PyKCS11Error as err:
        raise Pkcs11Error(f"PKCS#11 token {uri.token!r} refused the login: {err}") from None
    return token


def yield_login(uri: str) -> None:
    """Log out of the token ``uri`` names when this process holds it open, so that another library
    of the process (model-signing's PKCS#11 signer, which refuses an existing login) can log in.

    A login belongs to the process, not to a session (PKCS#11 v2.40 §5.6): once the other library
    logs in, the keys here sign again (finding their handles anew); should it not,
    :meth:`Pkcs11PrivateKey.sign` logs back in.
    """
    parsed = parse_uri(uri)
    for bare, token in _open.items():
        if (bare.token, bare.module_path) == (parsed.token, parsed.module_path):
            with token.lock, contextlib.suppress(PyKCS11.PyKCS11Error):  # not logged in: nothing to yield
                token.session.logout()


class Pkcs11PrivateKey:
    """An Ed25519 private key held by a token, used like ``cryptography``'s ``Ed25519PrivateKey``
    (:meth:`sign`, :meth:`public_key`) by code that only signs.

    Args:
        token: the open token holding it.
        object_id: its ``CKA_ID``.
        handle: the private key object's handle in the token's session.
        public: its public half (read from the token's public key object).
    """

    def __init__(self, token: Pkcs11Token, object_id: bytes, handle: int, public: Ed25519PublicKey) -> None:
        self._token = token
        self._object_id = object_id
        self._handle = handle
        self._public = public

    def sign(self, data: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``data``, made inside the token.

        Raises:
            Pkcs11Error: the token refused (removed, logged out, key destroyed).
        """
        try:
            with self._token.lock:
                try:
                    return bytes(self._token.session.sign(self._handle, data, PyKCS11.EDDSA_Mechanism()))
                except PyKCS11.PyKCS11Error as err:
                    if err.value not in _LOST_LOGIN:
                        raise
                    # A logout (yield_login) drops the handles of private objects: log in again
                    # unless another library of the process already has, and find the key again.
                    self._token.login()
                    handle = self._token.find(self._object_id, PyKCS11.CKO_PRIVATE_KEY)
                    if handle is None:
                        raise
                    self._handle = handle
                    return bytes(self._token.session.sign(self._handle, data, PyKCS11.EDDSA_Mechanism()))
        except PyKCS11.PyKCS11Error as err:
            raise Pkcs11Error(f"token {self._token.uri.token!r} refused to sign: {err}") from None

    def public_key(self) -> Ed25519PublicKey:
        """The public half."""
        return self._public


def _public_of(token: Pkcs11Token, object_id: bytes) -> Ed25519PublicKey:
    handle = token.find(object_id, PyKCS11.CKO_PUBLIC_KEY)
    if handle is None:
        raise Pkcs11Error(f"token {token.uri.token!r} holds no public key with id {object_id.hex()}")
    with token.lock:
        [point] = token.session.getAttributeValue(handle, [PyKCS11.CKA_EC_POINT])
    point = bytes(point)
    # CKA_EC_POINT is the DER OCTET STRING of the 32-byte key (SoftHSM2), or the raw key (some HSMs).
    raw = point[2:] if len(point) == 34 and point[:2] == b"\x04\x20" else point
    return Ed25519PublicKey.from_public_bytes(raw)


def load_key(uri: str) -> Pkcs11PrivateKey:
    """The private key a PKCS#11 URI with an ``id`` names.

    Raises:
        Pkcs11Error: the URI names no object id, the token cannot be opened, or it holds no such key.
    """
    parsed = parse_uri(uri)
    if parsed.object_id is None:
        raise Pkcs11Error(f"PKCS#11 URI of token {parsed.token!r} names no key (id=)")
    token = _token_of(parsed)
    handle = token.find(parsed.object_id, PyKCS11.CKO_PRIVATE_KEY)
    if handle is None:
        raise Pkcs11Error(f"token {parsed.token!r} holds no private key with id {parsed.object_id.hex()}")
    return Pkcs11PrivateKey(token, parsed.object_id, handle, _public_of(token, parsed.object_id))


def generate_key(store: str, label: str) -> tuple[str, Pkcs11PrivateKey]:
    """Generate an Ed25519 key pair inside the token ``store`` (a PKCS#11 URI of a token).

    The private half is ``CKA_SENSITIVE``, not ``CKA_EXTRACTABLE``, ``CKA_PRIVATE`` (login needed)
    and a token object (it outlives the session); both halves share a random 16-byte ``CKA_ID``.

    Returns:
        The URI naming the new key (``id=``) and the key.

    Raises:
        Pkcs11Error: the token cannot be opened or refuses to generate the pair.
    """
    parsed = parse_uri(store)
    token = _token_of(parsed)
    object_id = secrets.token_bytes(ID_BYTES)
    common = [(PyKCS11.CKA_TOKEN, PyKCS11.CK_TRUE), (PyKCS11.CKA_LABEL, label), (PyKCS11.CKA_ID, object_id),
              (PyKCS11.CKA_KEY_TYPE, PyKCS11.CKK_EC_EDWARDS)]
    public = [(PyKCS11.CKA_CLASS, PyKCS11.CKO_PUBLIC_KEY), (PyKCS11.CKA_VERIFY, PyKCS11.CK_TRUE),
              (PyKCS11.CKA_EC_PARAMS, ED25519_PARAMS), *common]
    private = [(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY), (PyKCS11.CKA_SIGN, PyKCS11.CK_TRUE),
               (PyKCS11.CKA_PRIVATE, PyKCS11.CK_TRUE), (PyKCS11.CKA_SENSITIVE, PyKCS11.CK_TRUE),
               (PyKCS11.CKA_EXTRACTABLE, PyKCS11.CK_FALSE), *common]
    try:
        with token.lock:
            _, handle = token.session.generateKeyPair(
                public, private, mecha=PyKCS11.Mechanism(PyKCS11.CKM_EC_EDWARDS_KEY_PAIR_GEN, None))
    except PyKCS11.PyKCS11Error as err:
        raise Pkcs11Error(f"token {parsed.token!r} could not generate an Ed25519 key: {err}") from None
    return parsed.with_object(object_id), Pkcs11PrivateKey(token, object_id, handle, _public_of(token, object_id))


def destroy_key(uri: str) -> None:
    """Destroy both halves of the key a PKCS#11 URI names (absent halves are skipped).

    Raises:
        Pkcs11Error: the URI names no id, the token cannot be opened or refuses.
    """
    parsed = parse_uri(uri)
    if parsed.object_id is None:
        raise Pkcs11Error(f"PKCS#11 URI of token {parsed.token!r} names no key (id=)")
    token = _token_of(parsed)
    for object_class in (PyKCS11.CKO_PRIVATE_KEY, PyKCS11.CKO_PUBLIC_KEY):
        handle = token.find(parsed.object_id, object_class)
        if handle is not None:
            try:
                with token.lock:
                    token.session.destroyObject(handle)
            except PyKCS11.PyKCS11Error as err:
                raise Pkcs11Error(f"token {parsed.token!r} refused to destroy a key: {err}") from None
