"""A decision's two bundles: the student as the edge bundle (pruned vocabulary, int8 when it
agrees with fp32, calibrated abstain threshold) and its central oracle as the central bundle (never
abstains): the teacher (fp32, full vocabulary) or, for a rule oracle, the rule itself (no graph).
Both are sealed folders a pod can load (:mod:`commons.manifest`, :mod:`serving.bundle_model`).
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from commons import __version__
from commons.manifest import ORACLE_RULE, REVOCATION_LIST, TRAINED_RANGE, write_manifest
from commons.privacy_policy import load_policy
from commons.warehouse import Warehouse
from edge_export.bundle import ExportReport, build_bundle, onnx_logits
from edge_export.parity import ort_session
from edge_export.vocabulary import prune_vocabulary
from serving.contract import model_inputs
from serving.oracle import RuleOracle
from serving.input_profile import input_profile, profile_keys
from training.config import TrainConfig
from training.decisions.base import DecisionSpec
from training.drift import disagreement_baseline, reference_bins
from training.encoder import base_model_path, load_classifier, load_tokenizer
from training.features import examples_of
from training.loop import Inputs, predict_logits
from training.metrics import abstain_threshold, prf, softmax
from training.model_store import ModelStore
from training.numeric import SCALE_FREE
from training.oracle import rule_logits


RELEASE_VALIDITY = timedelta(days=90)
"""How long a released bundle may be served (manifest ``not_after``): a pod refuses it after, so
a bundle copied off the release path cannot be served forever; a retrain or re-release renews it."""


def privacy_entry(fields: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """The manifest's ``privacy``: the input fields a pod reads, the PII policy their training
    texts went through, and how long the decision log (what a pod writes about each call) is kept
    (the repository's privacy policy, :mod:`commons.privacy_policy`)."""
    return {"input_fields": list(fields),
            "pii_policy": "texts PII-scrubbed before storage and training (Presidio + rules, data_quality.pii)",
            "logged": "signal digest, labels, scores and input profile; no input text",
            "decision_log_retention_days": load_policy().store("decision_log").retention_days}


def release_window(created: datetime) -> dict[str, Any]:
    """``created_at``, ``not_after`` (:data:`RELEASE_VALIDITY` later) and the ``revocation``
    entry (where pods read the revocation list; the serial a pod checked is its own to record)."""
    return {"created_at": created.isoformat(), "not_after": (created + RELEASE_VALIDITY).isoformat(),
            "revocation": {"list": REVOCATION_LIST, "serial_checked": None}}


def _manifest_common(spec: DecisionSpec, store: ModelStore, run_id: str, preset: str,
                     eval_examples: int, models: tuple[str, ...]) -> dict[str, Any]:
    return {
        "decision": spec.name, "model_name": spec.name, "labels": store.require("labels"),
        "feature_contract": spec.contract, **spec.manifest_inputs(),
        "oracle": {"kind": spec.oracle, "label_rule": spec.label_rule},
        "privacy": privacy_entry(tuple(spec.contract["fields"])),
        **release_window(datetime.now(timezone.utc)),
        "training": {"dagster_run_id": run_id, "preset": preset, "label_rule": spec.label_rule,
                     "eval_examples": eval_examples, "code_version": __version__},
        "metrics": {model: store.require(model) for model in models},
    }


# MLflow keeps the input example as an artifact: a real record's text there would copy harvested
# text out of the warehouse (data minimisation, issue 13), so the text is a fixed sample.
SAMPLE_TEXT = "Sample text: no harvested record is kept as the input example."


def _input_example(spec: DecisionSpec, inputs: Inputs) -> dict[str, Any]:
    """One request body a pod accepts (MLflow's input example): a fixed sample text and the first
    held-out example's numeric window, if the decision reads one."""
    record = {spec.text_field: SAMPLE_TEXT}
    if spec.window_field is not None:
        record[spec.window_field] = [float(v) for v in inputs.numeric[0]]
    return {"records": [record]}


def _shipped(report: ExportReport, out_dir: Path, tokenizer, evaluation: Inputs, y_eval, cfg: TrainConfig,
             temperature: float, abstain: float) -> dict[str, Any]:
    """F1 and edge coverage of the bundle as shipped (its ONNX graph, not the PyTorch model)."""
    logits = onnx_logits(ort_session(out_dir / "model.onnx"), tokenizer, evaluation, cfg.max_length)
    return {"metrics": prf(y_eval, logits.argmax(1)), "logits": logits,
            "coverage": float((softmax(logits, temperature).max(1) >= abstain).mean()), "report": report}


def _records(spec: DecisionSpec, inputs: Inputs) -> list[dict[str, Any]]:
    """The examples as the records a pod would be sent (text field, and the raw window if any)."""
    return [{spec.text_field: text, **({spec.window_field: [float(v) for v in inputs.numeric[i]]}
                                       if spec.window_field is not None else {})}
            for i, text in enumerate(inputs.texts)]


def drift_baseline(spec: DecisionSpec, out_dir: Path, manifest: dict[str, Any], edge_logits: np.ndarray,
                   central_logits: np.ndarray, splits: list[Inputs]) -> dict[str, Any]:
    """What production drift is measured against (:mod:`training.drift`).

    Args:
        out_dir: the exported edge bundle (its tokenizer defines out-of-vocabulary words).
        manifest: its manifest (temperature, abstain threshold, how records feed the model).
        edge_logits: float [n, k] of the shipped edge graph on the eval split; central_logits:
            float [n, k] of the central (teacher) model on the same examples.
        splits: every example the bundle was built from (train, calibration, eval): the input
            reference. The eval split alone is split by product, so a few products can make it
            unlike the traffic mix the model was trained for.

    Returns:
        :func:`training.drift.disagreement_baseline` on the eval split, ``population``, and
        ``reference``: per input-profile feature (:mod:`serving.input_profile`) the quantile bins
        of ``splits`` with ``reference_n`` examples, save the window's level where the model reads
        the window through a scale-free transform (:data:`training.numeric.SCALE_FREE`): it cannot
        see the level, and a price level names a product more than a regime (measured on the price
        drill's 2024 split: its held-out products alone scored PSI 0.51 on the level against the
        bins of its train, calibration and eval examples).
    """
    confidence = softmax(edge_logits, manifest["temperature"]).max(1)
    baseline = disagreement_baseline(edge_logits.argmax(1), central_logits.argmax(1), confidence,
                                     manifest["thresholds"]["abstain"])
    inputs = model_inputs(manifest, spec.name)
    tokenizer = Tokenizer.from_file(str(out_dir / "tokenizer.json"))
    profiles = [input_profile(tokenizer, inputs, inputs.features(r)) for split in splits for r in _records(spec, split)]
    unseen = {f"{spec.window_field}_log_level"} if spec.transform in SCALE_FREE else set()
    return {**baseline, "population": "eval examples with edge confidence ≥ the abstain threshold",
            "reference_n": len(profiles),
            "reference": {key: reference_bins(p[key] for p in profiles) for key in profile_keys(inputs)
                          if key not in unseen}}


def trained_range(spec: DecisionSpec, train: Inputs) -> dict[str, dict[str, float]]:
    """The manifest's ``trained_range``: the smallest and largest value of the decision's numeric
    window over the student's training examples, which a pod guards (:mod:`serving.router`).

    Args:
        train: the train split as the student read it (train-only views included: it learned
            from them), ``numeric`` float32 [n, window] or None.

    Returns:
        ``{window_field: {"min": float, "max": float}}`` (float32 values, as the graph reads them);
        ``{}`` for a text-only decision and for a window read through a scale-free transform
        (:data:`training.numeric.SCALE_FREE`): such a student never sees the level, so a price in
        another currency or magnitude is no input unlike its training data (the demo's price_spike
        student learned on yen from 590, while the live watcher sends book prices in pounds).
    """
    if spec.window_field is None or spec.transform in SCALE_FREE or train.numeric is None:
        return {}
    return {spec.window_field: {"min": float(train.numeric.min()), "max": float(train.numeric.max())}}


def build_edge_bundle(wh: Warehouse, spec: DecisionSpec, cfg: TrainConfig, store: ModelStore, out_dir: Path,
                      *, run_id: str, preset: str) -> dict[str, Any]:
    """Export the student into ``out_dir`` over a pruned vocabulary; record the bundle in the store.

    The edge bundle keeps only the word pieces its decision's texts use plus the most frequent
    rest (the embedding table is most of its size; :mod:`edge_export.vocabulary`). The abstain
    threshold keeps ``cfg.edge_coverage`` of calibration cases at the edge.

    Returns:
        The ``bundle`` entry of the model store (sha256, shipped metrics, parity, int8 agreement,
        quantisation, latency p50/p99 ms, model bytes, abstain threshold, coverage, vocabulary size,
        input example, the manifest's ``drift_baseline`` without its reference bins, its
        ``trained_range``) plus ``quantization_reason`` and ``fp32_model_bytes``.
    """
    name = spec.name
    text = spec.student_reads_text
    evaluation, y_eval = examples_of(wh, name, "eval", text=text)
    calibration, _ = examples_of(wh, name, "calibration", text=text)
    train = examples_of(wh, name, "train", text=text)[0]
    student = store.require("student")
    common = _manifest_common(spec, store, run_id, preset, len(evaluation), ("teacher", "student", "baseline"))
    with tempfile.TemporaryDirectory() as vocab_dir:
        pruned = prune_vocabulary(load_classifier(store.student_dir), base_model_path() / "tokenizer.json",
                                  train.texts + calibration.texts, Path(vocab_dir),
                                  keep_top=cfg.vocab_keep_top)
        temperature = student["temperature"]
        probs = softmax(predict_logits(pruned.model, pruned.tokenizer, calibration, max_length=cfg.max_length),
                        temperature)
        abstain = abstain_threshold(probs, cfg.edge_coverage)
        report = build_bundle(pruned.model, pruned.tokenizer, pruned.tokenizer_file, evaluation, out_dir,
                              max_length=cfg.max_length, min_agreement=cfg.int8_min_agreement, allow_int8=True,
                              metadata={**common, "vocabulary": pruned.manifest_entry(), "role": "edge",
                                        "layers": pruned.model.num_layers, "temperature": temperature,
                                        "thresholds": {"abstain": abstain,
                                                       "edge_coverage_target": cfg.edge_coverage}})
        shipped = _shipped(report, out_dir, pruned.tokenizer, evaluation, y_eval, cfg, temperature, abstain)
    central_logits = (rule_logits(spec, evaluation) if spec.oracle == ORACLE_RULE else
                      predict_logits(load_classifier(store.teacher_dir), load_tokenizer(), evaluation,
                                     max_length=cfg.max_length))
    # The baseline needs the shipped graph's own answers, so the manifest is sealed again with it.
    sealed = report.manifest
    # Train-only views (spec.train_only_sources) are not traffic: they stay out of the input reference.
    reference = examples_of(wh, name, "train", text=text, exclude_sources=spec.train_only_sources)[0]
    baseline = drift_baseline(spec, out_dir, sealed, shipped["logits"], central_logits,
                              [reference, calibration, evaluation])
    unsealed = {k: v for k, v in sealed.items() if k not in ("files", "bundle_sha256", "schema_version")}
    ranges = trained_range(spec, train)
    manifest = write_manifest(out_dir, {**unsealed, "drift_baseline": baseline, TRAINED_RANGE: ranges})
    entry = {
        "edge_sha256": manifest["bundle_sha256"],
        "drift_baseline": {k: v for k, v in baseline.items() if k != "reference"}, "trained_range": ranges,
        "shipped": shipped["metrics"],
        "shipped_f1": shipped["metrics"]["f1"], "parity": report.parity_max_abs_delta,
        "int8_agreement": report.int8_agreement, "quantization": report.quantization,
        "latency_p50_ms": report.latency_p50_ms, "latency_p99_ms": report.latency_p99_ms,
        "model_bytes": report.size_shipped, "abstain": abstain, "edge_coverage": shipped["coverage"],
        "vocabulary_tokens": pruned.kept, "input_example": _input_example(spec, evaluation)}
    store.update(bundle=entry)
    return {**entry, "quantization_reason": report.quantization_reason, "fp32_model_bytes": report.size_fp32}


def build_central_bundle(wh: Warehouse, spec: DecisionSpec, cfg: TrainConfig, store: ModelStore, out_dir: Path,
                         *, run_id: str, preset: str) -> dict[str, Any]:
    """Build the central bundle into ``out_dir`` (abstain threshold 0: the central oracle decides
    everything it is asked) and record it in the store: the teacher exported to ONNX (fp32, full
    vocabulary), or for a rule oracle a manifest naming the rule beside the base tokenizer (the
    pod's input profile needs one), scored through the pod's own :class:`serving.oracle.RuleOracle`.

    Returns:
        ``{"central_sha256", "central_f1", "central_parity", "oracle"}`` (also the store's
        ``central`` entry); ``central_parity`` is None for a rule (nothing is exported).
    """
    evaluation, y_eval = examples_of(wh, spec.name, "eval")
    common = _manifest_common(spec, store, run_id, preset, len(evaluation), ("teacher",))
    metadata = {**common, "role": "central", "temperature": 1.0,
                "thresholds": {"abstain": 0.0, "edge_coverage_target": cfg.edge_coverage}}
    if spec.oracle == ORACLE_RULE:
        entry = _rule_bundle(spec, out_dir, {**metadata, "layers": 0, "max_length": cfg.max_length},
                             evaluation, y_eval)
    else:
        tokenizer = load_tokenizer()
        teacher = load_classifier(store.teacher_dir)
        report = build_bundle(teacher, tokenizer, base_model_path() / "tokenizer.json", evaluation, out_dir,
                              max_length=cfg.max_length, min_agreement=cfg.int8_min_agreement, allow_int8=False,
                              metadata={**metadata, "layers": teacher.num_layers})
        shipped = _shipped(report, out_dir, tokenizer, evaluation, y_eval, cfg, 1.0, 0.0)
        entry = {"central_sha256": report.manifest["bundle_sha256"], "central_f1": shipped["metrics"]["f1"],
                 "central_parity": report.parity_max_abs_delta}
    entry["oracle"] = spec.oracle
    store.update(central=entry)
    return entry


def write_rule_bundle(out_dir: Path, metadata: dict[str, Any]) -> dict[str, Any]:
    """Seal a rule oracle's central bundle in ``out_dir`` (replaced if it exists): the base
    tokenizer (the pod's input profile reads it) and a manifest of ``metadata``, which must name
    ``decision``, ``labels``, ``feature_contract``, ``numeric_inputs``, ``role: central`` and
    ``oracle: {"kind": "rule"}`` (see :class:`serving.oracle.RuleOracle`); its ``compute`` entry
    is added here (no graph: the rule runs in the pod's Python). Returns the manifest."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    shutil.copyfile(base_model_path() / "tokenizer.json", out_dir / "tokenizer.json")
    compute = {"runtime": "python label rule", "opset": None, "quantization": "none", "threads": 1,
               "bundle_mb": round((out_dir / "tokenizer.json").stat().st_size / 2**20, 3)}
    return write_manifest(out_dir, {**metadata, "compute": compute})


def _rule_bundle(spec: DecisionSpec, out_dir: Path, metadata: dict[str, Any], evaluation: Inputs,
                 y_eval: np.ndarray) -> dict[str, Any]:
    """Seal a rule oracle's bundle and score it on the eval split as a pod would."""
    manifest = write_rule_bundle(out_dir, metadata)
    oracle = RuleOracle(out_dir)
    labels, _ = oracle.predict(evaluation.texts, evaluation.numeric)
    predicted = np.array([oracle.labels.index(label) for label in labels])
    return {"central_sha256": manifest["bundle_sha256"], "central_f1": prf(y_eval, predicted)["f1"],
            "central_parity": None}
