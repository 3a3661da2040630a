"""Knowledge distillation loss and the teacher → student training steps."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from transformers import PreTrainedTokenizerFast

from training.config import TrainConfig
from training.encoder import EncoderClassifier, pretrained_classifier, student_from_teacher
from training.loop import FRESH_LR_FACTOR, Inputs, LossFn, train
from training.lora import merged, with_lora
from training.probe import probe


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
            temperature: float, alpha: float) -> torch.Tensor:
    """α·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1-α)·CE(s, y).

    Hinton, Vinyals & Dean 2015 ("Distilling the Knowledge in a Neural Network"): the T² factor
    keeps the soft-target gradients on the same scale as the hard-label term when T changes.
    Shapes: logits float [batch, k]; labels int64 [batch].
    """
    soft = F.kl_div(F.log_softmax(student_logits / temperature, dim=-1),
                    F.softmax(teacher_logits / temperature, dim=-1), reduction="batchmean")
    hard = F.cross_entropy(student_logits, labels)
    return alpha * temperature ** 2 * soft + (1.0 - alpha) * hard


def fine_tune_teacher(tokenizer: PreTrainedTokenizerFast, inputs: Inputs, labels: Sequence[int],
                      cfg: TrainConfig, numeric: dict | None = None,
                      on_step: Callable[[int, float], None] | None = None
                      ) -> tuple[EncoderClassifier, list[float]]:
    """Fine-tune the 6-layer base with LoRA + head (+ numeric branch, trained fully, probed first)
    on hard labels; returns the merged teacher."""
    model = pretrained_classifier(num_labels=2, seed=cfg.seed, numeric=numeric)
    y = torch.tensor(list(labels), dtype=torch.long)

    def loss_fn(logits: torch.Tensor, idx: list[int]) -> torch.Tensor:
        return F.cross_entropy(logits, y[idx])

    return _fit(model, tokenizer, inputs, loss_fn, cfg, cfg.teacher_epochs, cfg.teacher_lr, on_step)


def distil_student(teacher: EncoderClassifier, tokenizer: PreTrainedTokenizerFast, inputs: Inputs,
                   labels: Sequence[int], teacher_logits: np.ndarray, cfg: TrainConfig,
                   numeric: dict | None = None,
                   on_step: Callable[[int, float], None] | None = None
                   ) -> tuple[EncoderClassifier, list[float]]:
    """Student of ``cfg.student_layers`` layers initialised from the teacher, LoRA + head (+ its
    own numeric branch over the short window in ``inputs``, probed first) trained with
    :func:`kd_loss` on the teacher's logits for the same examples; returns it merged."""
    torch.manual_seed(cfg.seed)
    model = student_from_teacher(teacher, cfg.student_layers, numeric)
    y = torch.tensor(list(labels), dtype=torch.long)
    t = torch.tensor(teacher_logits, dtype=torch.float32)

    def loss_fn(logits: torch.Tensor, idx: list[int]) -> torch.Tensor:
        return kd_loss(logits, t[idx], y[idx], cfg.temperature, cfg.alpha)

    return _fit(model, tokenizer, inputs, loss_fn, cfg, cfg.student_epochs, cfg.student_lr, on_step)


def _fit(model: EncoderClassifier, tokenizer: PreTrainedTokenizerFast, inputs: Inputs, loss_fn: LossFn,
         cfg: TrainConfig, epochs: int, lr: float, on_step: Callable[[int, float], None] | None
         ) -> tuple[EncoderClassifier, list[float]]:
    """Probe the numeric branch (if any), then train LoRA + head with ``loss_fn``; returns the
    merged model and its per-step losses."""
    factor = _probe_numeric(model, tokenizer, inputs, loss_fn, cfg)
    model = with_lora(model, cfg)
    losses = train(model, tokenizer, inputs, loss_fn, epochs=epochs, batch_size=cfg.batch_size, lr=lr,
                   max_length=cfg.max_length, seed=cfg.seed, fresh_lr_factor=factor, on_step=on_step)
    return merged(model), losses


def _probe_numeric(model: EncoderClassifier, tokenizer: PreTrainedTokenizerFast, inputs: Inputs,
                   loss_fn: LossFn, cfg: TrainConfig) -> float:
    """LP-FT stage 1 (:mod:`training.probe`) for a model with a numeric branch.

    Returns the learning-rate factor of head and branch in the fine-tuning stage: 1 once probed
    (LP-FT fine-tunes at one small rate), else :data:`training.loop.FRESH_LR_FACTOR`. Measured on
    the demo (held-out F1, teacher / student with the same views): urgent_inventory 0.952 / 0.966
    → 0.990 / 0.988; price_spike 0.206 / 0.289 → 0.391 / 0.354.
    """
    if model.numeric is None or cfg.probe_steps == 0:
        return FRESH_LR_FACTOR
    probe(model, tokenizer, inputs, loss_fn, steps=cfg.probe_steps, lr=cfg.probe_lr,
          batch_size=cfg.batch_size, max_length=cfg.max_length, seed=cfg.seed)
    return 1.0
