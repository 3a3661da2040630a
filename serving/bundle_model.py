"""One way to open any bundle a pod may serve: the manifest's oracle kind picks the class.

An edge bundle and a neural central bundle hold an ONNX graph (:class:`serving.inference.EdgeModel`);
a central bundle (``role: central``) whose ``oracle.kind`` is ``rule`` holds its decision's label rule
(:class:`serving.oracle.RuleOracle`). Both answer ``predict(texts, numeric)`` the same way, so the
router, the decision log and the metrics never ask which kind they serve.
"""

from __future__ import annotations

from pathlib import Path
from typing import Union

from commons.manifest import ORACLE_RULE, load_manifest, oracle_kind

from .inference import EdgeModel
from .oracle import RuleOracle

BundleModel = Union[EdgeModel, RuleOracle]


def open_bundle(bundle_dir: Path, *, threads: int = 1) -> BundleModel:
    """The verified model of ``bundle_dir``: a :class:`RuleOracle` for a central bundle whose
    manifest's ``oracle.kind`` is ``rule``, else an :class:`EdgeModel` with ``threads`` ONNX
    Runtime threads (every manifest names its decision's oracle kind; only the central bundle
    *is* the oracle).

    Raises:
        BundleError: as the class opened.
    """
    manifest = load_manifest(Path(bundle_dir))
    if manifest.get("role") == "central" and oracle_kind(manifest) == ORACLE_RULE:
        return RuleOracle(bundle_dir)
    return EdgeModel(bundle_dir, threads=threads)
