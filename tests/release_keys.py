"""The test session's release key: bundles the serving tests build are signed as the release step
signs them (:func:`edge_export.signer.release_signer`: the SoftHSM token under the session's state
folder when SoftHSM2 is installed, else a PEM key there), and pods trust its public key."""

from __future__ import annotations

from pathlib import Path

from commons.settings import Settings
from edge_export.signer import release_signer


def signed(folder: Path) -> Path:
    """Sign the bundle in ``folder`` with the session's release key; returns ``folder``."""
    release_signer(Settings.from_env()).sign(folder)
    return folder


def trust_dir() -> Path:
    """The folder of release public keys pods of this session verify with."""
    return Settings.from_env().trust_dir
