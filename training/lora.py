"""PEFT LoRA adapters on the encoder's attention projections, and merging them back for export."""

from __future__ import annotations

from peft import LoraConfig, PeftModel, get_peft_model

from training.config import TrainConfig
from training.encoder import EncoderClassifier


def with_lora(model: EncoderClassifier, cfg: TrainConfig) -> PeftModel:
    """Wrap ``model`` so only LoRA matrices (rank ``cfg.lora_rank``), the head and the numeric
    branch (if any) train.

    LoRA (Hu et al. 2021, arXiv:2106.09685) adds ΔW = B·A with A ∈ R^{r×d}, B ∈ R^{d×r}, scaled by
    alpha/r, to the targeted linear layers; head and numeric branch are small and fully trained
    (``modules_to_save``).
    """
    keep = ["head"] + (["numeric"] if model.numeric is not None else [])
    config = LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                        target_modules=list(cfg.lora_targets), modules_to_save=keep)
    return get_peft_model(model, config)


def merged(model: PeftModel) -> EncoderClassifier:
    """Fold the adapters into the base weights (PEFT maintainers: merge before ONNX export, peft#901)."""
    return model.merge_and_unload().eval()
