"""One way to open any bundle a pod may serve: the manifest's oracle kind picks the class.

An edge bundle and a neural central bundle hold an ONNX graph (:class:`serving.inference.EdgeModel`);
a central bundle (``role: central``) whose ``oracle.kind`` is ``rule`` holds its decision's label rule
(:class:`serving.oracle.RuleOracle`). Both answer ``predict(texts, numeric)`` the same way, so the
router, the decision log and the metrics never ask which kind they serve.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Union

from commons.bundle_signature import verify_bundle
from commons.manifest import ORACLE_RULE, oracle_kind

from .inference import EdgeModel
from .oracle import RuleOracle

BundleModel = Union[EdgeModel, RuleOracle]


def open_bundle(bundle_dir: Path, *, trust_dir: Path, threads: int = 1) -> BundleModel:
    """The verified model of ``bundle_dir``: a :class:`RuleOracle` for a central bundle whose
    manifest's ``oracle.kind`` is ``rule``, else an :class:`EdgeModel` with ``threads`` ONNX
    Runtime threads (every manifest names its decision's oracle kind; only the central bundle
    *is* the oracle). Nothing is loaded before the bundle's release signature verifies against
    the keys in ``trust_dir`` with every file hash, and its ``not_after`` is still ahead
    (:func:`commons.bundle_signature.verify_bundle`). The model's ``signed_by`` names the release
    key id it verified under (a revocation list may withdraw that key).

    Raises:
        BundleRefused: unsigned, unknown key, bad signature, tampered or expired (its ``reason``).
        BundleError: as the class opened.
    """
    verified = verify_bundle(Path(bundle_dir), trust_dir)
    model = model_of(bundle_dir, verified, threads=threads)
    model.signed_by = verified["signed_by"]
    return model


def model_of(bundle_dir: Path, manifest: dict[str, Any], *, threads: int = 1) -> BundleModel:
    """The model class ``manifest`` calls for, opened on ``bundle_dir`` (whose file hashes it
    checks again) without the release signature: for tools reading a build that may not have
    passed the gate (a report), never for a pod (:func:`open_bundle`).

    Raises:
        BundleError: as the class opened.
    """
    if manifest.get("role") == "central" and oracle_kind(manifest) == ORACLE_RULE:
        return RuleOracle(bundle_dir)
    return EdgeModel(bundle_dir, threads=threads)
