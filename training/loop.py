"""Batching, seeding and the optimisation loop shared by teacher fine-tuning and distillation."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn
from transformers import PreTrainedTokenizerFast


@dataclass(frozen=True)
class Inputs:
    """What a model sees for n examples: texts, and a raw numeric window per example or None.

    Attributes:
        texts: n strings (the text fields joined by newlines).
        numeric: float32 [n, width] raw windows (most recent value first), or None.
    """

    texts: list[str]
    numeric: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def take(self, idx: Sequence[int]) -> "Inputs":
        """The examples at ``idx``, in that order."""
        return Inputs([self.texts[i] for i in idx],
                      None if self.numeric is None else self.numeric[list(idx)])


def seed_everything(seed: int, threads: int) -> None:
    """Seed Python, NumPy and torch, and pin torch's intra-op threads (2 cores here)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)


def encode(tokenizer: PreTrainedTokenizerFast, texts: Sequence[str], max_length: int) -> dict[str, torch.Tensor]:
    """Tokenise, truncate to ``max_length`` and pad to the longest in the batch.

    Returns ``input_ids`` and ``attention_mask``, int64 tensors [batch, seq ≤ max_length].
    """
    enc = tokenizer(list(texts), truncation=True, max_length=max_length, padding=True,
                    return_tensors="pt", return_token_type_ids=False)
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}


def model_inputs(tokenizer: PreTrainedTokenizerFast, inputs: Inputs, max_length: int) -> dict[str, torch.Tensor]:
    """Encoded texts plus ``numeric`` (float32 [batch, width]) when the inputs have numbers."""
    feed = encode(tokenizer, inputs.texts, max_length)
    if inputs.numeric is not None:
        feed["numeric"] = torch.as_tensor(inputs.numeric, dtype=torch.float32)
    return feed


def batches(n: int, size: int, rng: random.Random | None = None) -> Iterator[list[int]]:
    """Index batches over ``range(n)``; shuffled when ``rng`` is given."""
    order = list(range(n))
    if rng is not None:
        rng.shuffle(order)
    for start in range(0, n, size):
        yield order[start:start + size]


LossFn = Callable[[torch.Tensor, list[int]], torch.Tensor]
# A head that starts from scratch barely moves at the LoRA rate within a 2-core training budget
# (measured on the demo's students); a probed head (training.probe) no longer starts from scratch.
FRESH_LR_FACTOR = 5.0


def train(model: nn.Module, tokenizer: PreTrainedTokenizerFast, inputs: Inputs, loss_fn: LossFn, *,
          epochs: int, batch_size: int, lr: float, max_length: int, seed: int,
          fresh_lr_factor: float = FRESH_LR_FACTOR,
          on_step: Callable[[int, float], None] | None = None) -> list[float]:
    """Minimise ``loss_fn(logits, batch_indices)`` with AdamW over the trainable parameters.

    LoRA adapters train at ``lr``; the head and numeric branch at ``fresh_lr_factor × lr``
    (default :data:`FRESH_LR_FACTOR` for a head that starts from scratch; 1 after probing).
    Returns the loss of every step.
    """
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    fresh = [p for n, p in named if "lora_" not in n]
    adapters = [p for n, p in named if "lora_" in n]
    optimiser = torch.optim.AdamW([{"params": adapters, "lr": lr},
                                   {"params": fresh, "lr": lr * fresh_lr_factor}], weight_decay=0.01)
    rng = random.Random(seed)
    losses: list[float] = []
    model.train()
    for _ in range(epochs):
        for idx in batches(len(inputs), batch_size, rng):
            loss = loss_fn(model(**model_inputs(tokenizer, inputs.take(idx), max_length)), idx)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
            if on_step:
                on_step(len(losses), losses[-1])
    model.eval()
    return losses


@torch.no_grad()
def predict_logits(model: nn.Module, tokenizer: PreTrainedTokenizerFast, inputs: Inputs, *,
                   max_length: int, batch_size: int = 64) -> np.ndarray:
    """Logits of an eval-mode model, float32 [len(inputs), num_labels]."""
    model.eval()
    out = [model(**model_inputs(tokenizer, inputs.take(idx), max_length)).float().numpy()
           for idx in batches(len(inputs), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, 2), dtype=np.float32)
