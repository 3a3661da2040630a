"""PKCS#11 URIs (RFC 7512) and the logged-in session one names.

A URI names a token and, optionally, one object in it, plus how to reach it::

    pkcs11:token=edge-insights;id=%9a%01...?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/x/pin

Only what this project uses is read: the path attributes ``token``, ``object`` (a label) and
``id`` (bytes), and the query attributes ``module-path``, ``pin-source`` (``file:`` only) and
``pin-value``. A SoftHSM2 token (tests, demo), a network HSM's or a TPM's PKCS#11 module all sit
behind the same URI; only ``module-path`` and the token label change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote_to_bytes

import PyKCS11

from .errors import EdgeInsightsError
from .pkcs11_module import PKCS11_LOCK, loaded_module

SCHEME = "pkcs11:"


class Pkcs11Error(EdgeInsightsError):
    """A PKCS#11 URI that cannot be read, or a token that cannot be reached or logged into."""


@dataclass(frozen=True)
class Pkcs11Uri:
    """The parts of a PKCS#11 URI this project reads.

    Attributes:
        token: the token label (``token=``).
        module_path: the PKCS#11 module (``module-path=``), a shared library.
        pin_source: a file holding the user PIN (``pin-source=file:``), or None.
        pin_value: the PIN itself (``pin-value=``), or None; kept out of ``repr``.
        object_id: the object's ``CKA_ID`` (``id=``), or None.
        label: the object's ``CKA_LABEL`` (``object=``), or None.
    """

    token: str
    module_path: str
    pin_source: Path | None = None
    pin_value: str | None = field(default=None, repr=False)
    object_id: bytes | None = None
    label: str | None = None

    def pin(self) -> str:
        """The user PIN (``pin-value``, else the content of the ``pin-source`` file).

        Raises:
            Pkcs11Error: neither is given, or the PIN file cannot be read.
        """
        if self.pin_value is not None:
            return self.pin_value
        if self.pin_source is None:
            raise Pkcs11Error(f"PKCS#11 URI of token {self.token!r} has no pin-source or pin-value")
        try:
            return self.pin_source.read_text().strip()
        except OSError as err:
            raise Pkcs11Error(f"PIN file of token {self.token!r} cannot be read: {err}") from None

    def with_object(self, object_id: bytes) -> str:
        """This URI's token and module, naming the object ``object_id`` (its ``CKA_ID``)."""
        path = f"token={quote(self.token, safe='')};id={''.join(f'%{b:02x}' for b in object_id)}"
        query = [f"module-path={quote(self.module_path, safe='/')}"]
        if self.pin_source is not None:
            query.append(f"pin-source=file:{quote(str(self.pin_source), safe='/')}")
        if self.pin_value is not None:
            query.append(f"pin-value={quote(self.pin_value, safe='')}")
        return f"{SCHEME}{path}?{'&'.join(query)}"


def is_pkcs11_uri(text: str) -> bool:
    """Whether ``text`` is a PKCS#11 URI (not a file path or a keyword)."""
    return text.startswith(SCHEME)


def parse_uri(uri: str) -> Pkcs11Uri:
    """Read a PKCS#11 URI.

    Raises:
        Pkcs11Error: not a ``pkcs11:`` URI, or no ``token`` or ``module-path`` in it.
    """
    if not is_pkcs11_uri(uri):
        raise Pkcs11Error("not a PKCS#11 URI (it starts with pkcs11:)")
    path, _, query = uri[len(SCHEME):].partition("?")
    attrs = dict(part.split("=", 1) for part in path.split(";") if "=" in part)
    params = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
    if "token" not in attrs or "module-path" not in params:
        raise Pkcs11Error("a PKCS#11 URI here names its token (token=) and its module (module-path=)")
    source = unquote_to_bytes(params["pin-source"]).decode() if "pin-source" in params else None
    return Pkcs11Uri(token=unquote_to_bytes(attrs["token"]).decode(),
                     module_path=unquote_to_bytes(params["module-path"]).decode(),
                     pin_source=Path(source.removeprefix("file:")) if source else None,
                     pin_value=unquote_to_bytes(params["pin-value"]).decode() if "pin-value" in params else None,
                     object_id=unquote_to_bytes(attrs["id"]) if "id" in attrs else None,
                     label=unquote_to_bytes(attrs["object"]).decode() if "object" in attrs else None)


def open_session(module_path: str, token: str, pin: str) -> tuple[PyKCS11.PyKCS11Lib, PyKCS11.Session | None]:
    """A logged-in read/write session on the token labelled ``token``, or None when no slot holds it.

    The library object is the process's one for ``module_path`` (:mod:`commons.pkcs11_module`);
    callers make further calls on the session holding :data:`~commons.pkcs11_module.PKCS11_LOCK`.

    Raises:
        PyKCS11.PyKCS11Error: the module cannot be loaded or the PIN is refused.
    """
    lib = loaded_module(module_path)
    with PKCS11_LOCK:
        for slot in lib.getSlotList(tokenPresent=True):
            if lib.getTokenInfo(slot).label.strip() == token:
                session = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
                try:
                    session.login(pin)
                except PyKCS11.PyKCS11Error as err:
                    # A login holds for every session of this process (PKCS#11 v2.40 §5.6), e.g. a
                    # signer already opened here.
                    if err.value != PyKCS11.CKR_USER_ALREADY_LOGGED_IN:
                        raise
                return lib, session
    return lib, None
