"""Where new token-issuing and audit keys are made: a PKCS#11 token or PEM files.

Chosen as the release signer is (:mod:`edge_export.signer`): ``Settings.signing_keys``
(``EDGE_INSIGHTS_SIGNING_KEYS``) when set — the PKCS#11 URI of a token (a real HSM, a TPM's
PKCS#11 module, a SoftHSM2 token) or ``pem``; unset, the SoftHSM2 token under
``<state>/signing`` (the release key's token, made on first use) when SoftHSM2 is installed, else
PEM files, the laptop fallback. Keys already made stay where they are: each key file says where
its key lives (:mod:`commons.token_keys`).
"""

from __future__ import annotations

from .settings import Settings
from .softhsm import ensure_token, softhsm_available, store_uri
from .token_keys import PEM_STORE


def key_store(settings: Settings) -> str:
    """The store :func:`commons.token_keys.rotate_keys` makes new keys in for ``settings``:
    a token's PKCS#11 URI or :data:`commons.token_keys.PEM_STORE`.

    Raises:
        commons.softhsm.TokenError: the SoftHSM token under the state folder cannot be set up.
    """
    if settings.signing_keys:
        return settings.signing_keys
    if softhsm_available():
        ensure_token(settings.signing_dir)
        return store_uri(settings.signing_dir)
    return PEM_STORE
