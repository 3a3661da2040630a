"""Edge-bundle manifest: what a bundle holds and how a pod verifies it.

This module is imported by the serving pod, so it uses the standard library only.

A bundle is a folder::

    model.onnx       the decision model (int8 or fp32), inputs input_ids/attention_mask (int64,
                     [batch, seq]), output logits (float32, [batch, n_labels])
    tokenizer.json   Hugging Face ``tokenizers`` file
    manifest.json    this manifest; ``files`` maps every other file name to its sha256 hex
    model.sig        the release signature over all of them, once signed (:mod:`commons.bundle_signature`)

The bundle's identity (``bundle_sha256``) is the sha256 of the canonical JSON of the manifest
with every key except ``bundle_sha256`` itself, so it covers the file hashes and all metadata.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from commons.errors import BundleError

MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "model.sig"
REVOCATION_LIST = "deploy/revocations.json"
"""Where pods read the signed revocation list, relative to the state folder (manifest
``revocation.list``)."""
SCHEMA_VERSION = 1
TRAINED_RANGE = "trained_range"
"""Manifest key of an edge bundle: ``{field: {"min": float, "max": float}}``, the range of the
values of each numeric input its student was trained on (written by
:func:`edge_export.release.trained_range`); a pod sends a record outside it to central
(:mod:`serving.router`). Absent in bundles released before it."""
ORACLE_MODEL, ORACLE_RULE = "model", "rule"
"""Kinds of central oracle (manifest ``oracle.kind``): a neural ``model`` (an ONNX graph like the
edge's), or the decision's own label ``rule`` (:mod:`commons.label_rules`) on the contract window."""


__all__ = ["BundleError"]  # re-exported: pods and edge_export catch it from here


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """sha256 hex of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def manifest_digest(manifest: dict[str, Any]) -> str:
    """sha256 hex over the canonical JSON of the manifest without its ``bundle_sha256`` key."""
    body = {k: v for k, v in manifest.items() if k != "bundle_sha256"}
    return hashlib.sha256(_canonical(body)).hexdigest()


def write_manifest(bundle_dir: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Hash every file in ``bundle_dir``, seal the manifest and write ``manifest.json``.

    Args:
        bundle_dir: folder that already holds ``model.onnx`` and ``tokenizer.json``.
        manifest: metadata (decision, labels, feature_contract, thresholds, opset, metrics …).

    A signature already in the folder is removed: it signed the manifest being replaced.

    Returns:
        The sealed manifest (with ``files``, ``schema_version`` and ``bundle_sha256``).
    """
    (bundle_dir / SIGNATURE_NAME).unlink(missing_ok=True)
    files = {p.name: file_sha256(p) for p in sorted(bundle_dir.iterdir())
             if p.is_file() and p.name != MANIFEST_NAME}
    sealed = {**manifest, "schema_version": SCHEMA_VERSION, "files": files}
    sealed["bundle_sha256"] = manifest_digest(sealed)
    (bundle_dir / MANIFEST_NAME).write_text(json.dumps(sealed, indent=2, sort_keys=True) + "\n")
    return sealed


def load_manifest(bundle_dir: Path) -> dict[str, Any]:
    """Read and verify a bundle.

    Raises:
        BundleError: the manifest is missing or not a JSON object, a listed file is missing, a file's sha256 differs
            from the manifest, or the manifest's own digest does not match ``bundle_sha256``.
    """
    path = Path(bundle_dir) / MANIFEST_NAME
    if not path.is_file():
        raise BundleError(f"no {MANIFEST_NAME} in {bundle_dir}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BundleError(f"{MANIFEST_NAME} in {bundle_dir} is not valid JSON: {err}") from err
    if not isinstance(manifest, dict):
        raise BundleError(f"{MANIFEST_NAME} in {bundle_dir} is not a JSON object")
    if manifest_digest(manifest) != manifest.get("bundle_sha256"):
        raise BundleError(f"manifest digest mismatch in {bundle_dir}: manifest was altered")
    for name, expected in manifest.get("files", {}).items():
        file = Path(bundle_dir) / name
        if not file.is_file():
            raise BundleError(f"bundle file missing: {name}")
        actual = file_sha256(file)
        if actual != expected:
            raise BundleError(f"sha256 mismatch for {name}: manifest {expected[:12]}…, file {actual[:12]}…")
    return manifest


def oracle_kind(manifest: dict[str, Any]) -> str:
    """The decision's central oracle kind a manifest states (``oracle.kind``); bundles built
    before the key existed had a neural teacher, so :data:`ORACLE_MODEL` when absent."""
    oracle = manifest.get("oracle")
    return oracle.get("kind", ORACLE_MODEL) if isinstance(oracle, dict) else ORACLE_MODEL
