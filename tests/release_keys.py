"""The test session's release key: bundles the tests build are signed as the release step signs
them (:func:`edge_export.signer.local_signer`: a SoftHSM token when SoftHSM2 is installed, else a
PEM key), kept beside the trust folder the session pins (``EDGE_INSIGHTS_RELEASE_TRUST``, set by
``conftest.py``), so a test that moves the state folder still signs with, and trusts, the same key
(SoftHSM serves one token folder per process)."""

from __future__ import annotations

from pathlib import Path

from commons.settings import Settings
from edge_export.signer import ReleaseSigner, local_signer


def trust_dir() -> Path:
    """The folder of release public keys every pod of this session verifies with."""
    return Settings.from_env().trust_dir


def session_signer() -> ReleaseSigner:
    """The session's release signer."""
    return local_signer(trust_dir().parent, trust_dir())


def signed(folder: Path) -> Path:
    """Sign the bundle in ``folder`` with the session's release key; returns ``folder``."""
    session_signer().sign(folder)
    return folder
