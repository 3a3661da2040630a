"""Training configuration: one dataclass, with named presets for the demo, tests and full runs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one teacher → student distillation.

    Attributes:
        max_length: tokens per text after truncation (the pod uses the same value).
        max_train_examples: cap on the (class-balanced) training set; keeps 2-core runs short.
        max_eval_examples: cap on evaluation rows (stratified), 0 = all held-out rows.
        eval_fraction: share of *products* held out for evaluation (split by product).
        teacher_epochs / student_epochs: passes over the training set.
        batch_size: examples per optimisation step.
        teacher_lr / student_lr: AdamW learning rates (LoRA adapters + head).
        lora_rank / lora_alpha / lora_dropout / lora_targets: PEFT LoRA settings (Hu et al. 2021).
        student_layers: encoder layers kept in the student (layer dropping as in DistilBERT).
        temperature: distillation temperature T (Hinton et al. 2015, "Distilling the Knowledge in
            a Neural Network"); the KL term is scaled by T² as in that paper.
        alpha: weight of the soft-label KL term; (1 - alpha) weights cross-entropy on hard labels.
        promotion_min_f1_ratio: champion gate, student F1 ≥ ratio × teacher F1 (issue 4: 0.95).
        gate_on_baseline: the gate also requires beating the non-neural baseline.
        edge_coverage: target share of traffic decided at the edge; sets the abstain threshold.
        int8_min_agreement: int8 ships only if it agrees with fp32 on at least this share of the
            evaluation set; else fp32 ships and the manifest says why.
        vocab_keep_top: edge bundles keep this many of the base vocabulary's most frequent word
            pieces besides those of the training texts (edge_export.vocabulary); 21,000 of 30,522
            brings the 3-layer int8 bundle under 15 MB.
        probe_steps / probe_lr: LP-FT stage 1 for models with a numeric branch — steps (0 = off)
            and peak AdamW rate of fitting head + numeric branch on frozen text features
            (training.probe).
        seed: seeds Python, NumPy and torch.
        threads: torch intra-op threads for training (the 2 cores of the reference machine).
    """

    max_length: int = 64
    max_train_examples: int = 1000
    max_eval_examples: int = 1200
    eval_fraction: float = 0.25
    teacher_epochs: int = 1
    # Chosen on the calibration split of a demo run (F1, 3 → 4 epochs): negative_review 0.824 →
    # 0.845, price_spike 0.804 → 0.843, urgent_inventory 0.978 → 0.979; at 3 the negative_review
    # student sat at 0.947 × its teacher on the eval split, under the 0.95 gate.
    student_epochs: int = 4
    batch_size: int = 16
    teacher_lr: float = 1e-3
    student_lr: float = 2e-3
    lora_rank: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] = ("query", "value")
    student_layers: int = 3
    temperature: float = 2.0
    alpha: float = 0.5
    promotion_min_f1_ratio: float = 0.95
    gate_on_baseline: bool = True
    edge_coverage: float = 0.9
    int8_min_agreement: float = 0.99
    vocab_keep_top: int = 21000
    probe_steps: int = 3000
    probe_lr: float = 1e-2
    seed: int = 13
    threads: int = 2

    def to_params(self) -> dict[str, Any]:
        """Flat dict for MLflow params (tuples joined by commas)."""
        params = asdict(self)
        params["lora_targets"] = ",".join(self.lora_targets)
        return params


PRESETS: dict[str, TrainConfig] = {
    "demo": TrainConfig(),
    # Tests: a few optimisation steps, enough to exercise every stage on real rows; the quality
    # gate is off so the tiny models still travel to a pod.
    "tiny": TrainConfig(max_length=48, max_train_examples=160, max_eval_examples=200,
                        teacher_epochs=1, student_epochs=1, batch_size=16, probe_steps=200,
                        promotion_min_f1_ratio=0.0, gate_on_baseline=False),
    "full": TrainConfig(max_length=128, max_train_examples=6000, max_eval_examples=0,
                        teacher_epochs=3, student_epochs=4, batch_size=32, teacher_lr=5e-4,
                        student_lr=1e-3, student_layers=3),
}


def preset(name: str, **overrides: Any) -> TrainConfig:
    """A named preset with optional field overrides.

    Raises:
        KeyError: unknown preset name.
    """
    if name not in PRESETS:
        raise KeyError(f"unknown training preset {name!r}; choose one of {sorted(PRESETS)}")
    return replace(PRESETS[name], **overrides)
