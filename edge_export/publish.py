"""Publishing a decision's bundles: the edge bundle becomes a registered MLflow model version
(alias ``challenger``, model card, input example, tags), the central bundle travels with it, and
``champion`` moves to it only through the gate (:mod:`training.gates`)."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlflow import MlflowClient

from commons.control_audit import ControlAudit
from commons.manifest import ORACLE_RULE
from commons.warehouse import Warehouse
from edge_export.bundle import onnx_logits
from edge_export.mlflow_model import log_bundle_model
from edge_export.parity import ort_session
from edge_export.signer import ReleaseSigner
from training.config import TrainConfig
from training.decisions.base import DecisionSpec
from training.encoder import load_tokenizer
from training.features import examples_of
from training.gates import evaluate_gate
from training.metrics import prf
from training.model_card import model_card
from training.model_store import ModelStore
from training.registry import aliases, champion_version, promote, register_bundle
from training.tracking import log_stage

BUNDLE_METRICS = ("parity", "int8_agreement", "shipped_f1", "latency_p50_ms", "latency_p99_ms", "model_bytes",
                  "edge_coverage")


def champion_f1(client: MlflowClient, wh: Warehouse, name: str) -> tuple[Any, float | None]:
    """The current champion version of ``name`` and its F1 re-scored on this build's eval split
    through its own bundle (its graph, its tokenizer, its text fields: an older champion may read
    text a newer build ignores); (None, None) without a champion."""
    champion = champion_version(client, name)
    if champion is None:
        return None, None
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(client.download_artifacts(champion.run_id, "bundle", tmp))
        manifest = json.loads((local / "manifest.json").read_text())
        evaluation, y_eval = examples_of(wh, name, "eval", text=manifest.get("text_fields") != [])
        logits = onnx_logits(ort_session(local / "model.onnx"), load_tokenizer(local), evaluation,
                             manifest["max_length"])
    return champion, prf(y_eval, logits.argmax(1))["f1"]


def publish(client: MlflowClient, run_id: str, wh: Warehouse, spec: DecisionSpec, cfg: TrainConfig,
            store: ModelStore, edge_dir: Path, central_dir: Path, *, dagster_run_id: str, signer: ReleaseSigner,
            audit: ControlAudit | None = None, champion_erased: bool = False) -> dict[str, Any]:
    """Register the edge bundle of ``edge_dir`` (with ``central_dir`` as ``central_bundle/``) in
    MLflow run ``run_id``, gate it against teacher (a model oracle), baseline and champion, promote if
    it passes. With ``audit`` the verdict goes to the control audit log (:func:`training.registry.promote`).
    ``champion_erased``: this retrain replaces a champion that learned from erased data, so the
    champion is reported but not required (:func:`training.gates.evaluate_gate`).

    A bundle pair that passes the gate is signed with ``signer`` (``model.sig`` in each folder)
    before it is logged, so the signature travels with it to the pods; one the gate refuses is
    registered unsigned and no pod will load it (:func:`commons.bundle_signature.verify_bundle`).

    Returns:
        ``{"version", "promoted", "reason", "champion_f1_before", "aliases", "published_at",
        "signed_by", "sign_s"}`` (``signed_by`` the key id, None when unsigned; also
        the store's ``registry`` entry; the drift sensor reads it to see a refused retrain).
    """
    name = spec.name
    state, bundle, central = store.state(), store.require("bundle"), store.require("central")
    champion, before = champion_f1(client, wh, name)
    teacher_f1 = None if spec.oracle == ORACLE_RULE else state["teacher"]["f1"]
    gate = evaluate_gate(bundle["shipped_f1"], teacher_f1, state["baseline"]["f1"], before,
                         cfg.promotion_min_f1_ratio, cfg.gate_on_baseline, champion_erased)
    card = model_card(name, spec.label_rule, spec.contract, state, gate.reason)
    signed = {"signed_by": signer.key_id, "sign_s": signer.sign(edge_dir) + signer.sign(central_dir)} \
        if gate.passed else {"signed_by": None, "sign_s": 0.0}
    client.log_artifacts(run_id, str(central_dir), artifact_path="central_bundle")
    client.log_text(run_id, card, "model_card.md")
    client.log_dict(run_id, bundle["input_example"], "input_example.json")
    log_stage(client, run_id, metrics={f"bundle_{key}": bundle[key] for key in BUNDLE_METRICS})
    logged = log_bundle_model(client.tracking_uri, run_id, edge_dir, spec.contract, bundle["input_example"])
    version = register_bundle(client, name, run_id, edge_dir, model_uri=logged.model_uri, model_id=logged.model_id,
                              description=card, tags={
        "bundle_sha256": bundle["edge_sha256"], "teacher_bundle_sha256": central["central_sha256"],
        "quantization": bundle["quantization"], "dagster_run_id": dagster_run_id,
        "signature": json.dumps(spec.contract["fields"], sort_keys=True)[:5000],
        "f1": f"{bundle['shipped_f1']:.4f}", "champion_compared": str(champion.version) if champion else "none",
        "release_signed_by": signed["signed_by"] or "unsigned"})
    decision = promote(client, name, version, gate, audit=audit, bundle_sha256=bundle["edge_sha256"])
    entry = {"version": version, "promoted": decision.promoted, "reason": decision.reason,
             "champion_f1_before": before, "aliases": aliases(client, name),
             "published_at": datetime.now(timezone.utc).isoformat(), **signed}
    store.update(registry=entry)
    return entry
