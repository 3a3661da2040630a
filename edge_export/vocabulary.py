"""Vocabulary pruning: an edge bundle ships only the word pieces its decision's texts use.

The student's word-embedding table is 30,522 × 384: 11.7 MB even in int8, two thirds of a
3-layer bundle. A decision's texts (book titles, reviews) use a small part of BERT's WordPiece
vocabulary, so the bundle keeps (vocabulary pruning as in Abdaoui et al. 2020, "Load What You
Need: Smaller Versions of Multilingual BERT", and Yang et al. 2022, "TextPruner"):

- the special tokens ([PAD], [UNK], [CLS], [SEP], [MASK]);
- every single character and its ``##`` continuation, so any word the full vocabulary can spell
  still tokenises without [UNK] — into shorter pieces the model has also seen;
- the ``keep_top`` first pieces of the vocabulary, ``[unusedN]`` placeholders excepted: BERT's
  WordPiece vocabulary lists word pieces by frequency in its pre-training corpus (id 1996 is
  "the"), so these are the most common words of English, which unseen texts will use;
- every piece the full tokenizer produces on the given texts (the training and calibration
  examples), however rare.

Measured on the demo's negative_review student (held-out products, fp32): F1 0.799 unpruned;
0.772 keeping only the pieces of the training texts (6,855 pieces); 0.790 / 0.792 / 0.796 with
the top 10,000 / 15,000 / 20,000 added.

Kept pieces are renumbered in their original order and the embedding rows selected to match, so
on any text made of kept pieces the pruned model computes exactly what the full one does. Texts
with other words differ; the bundle's F1 on the evaluation products (never used for pruning)
measures that.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer
from torch import nn
from transformers import PreTrainedTokenizerFast

from training.encoder import EncoderClassifier, load_tokenizer

TOKENIZER_FILE = "tokenizer.json"


@dataclass(frozen=True)
class PrunedVocabulary:
    """A model and tokenizer restricted to ``kept`` of ``base`` word pieces.

    Attributes:
        model: copy of the input model whose word-embedding table has ``kept`` rows.
        tokenizer: fast tokenizer over the kept pieces (for training-side code).
        tokenizer_file: its ``tokenizer.json`` (what the pod loads).
        kept / base: vocabulary sizes after / before pruning.
    """

    model: EncoderClassifier
    tokenizer: PreTrainedTokenizerFast
    tokenizer_file: Path
    kept: int
    base: int

    def manifest_entry(self) -> dict[str, int | str]:
        """What the bundle manifest records about the vocabulary."""
        return {"tokens": self.kept, "base_tokens": self.base,
                "kept": "special and single-character pieces, the most frequent pieces of the base "
                        "vocabulary, and every piece of the training and calibration texts"}


def _is_character(token: str) -> bool:
    return len(token) == 1 or (token.startswith("##") and len(token) == 3)


_PLACEHOLDER = re.compile(r"\[unused\d+\]")


def kept_ids(tokenizer_file: Path, texts: Sequence[str], keep_top: int) -> list[int]:
    """Ids (ascending) of the pieces to keep: special, single-character, the ``keep_top`` first
    in vocabulary order (placeholders excepted), and every piece ``texts`` use.

    Raises:
        ValueError: the tokenizer is not a WordPiece model (nothing else is pruned here), or
            ``keep_top`` is negative.
    """
    spec = json.loads(Path(tokenizer_file).read_text("utf-8"))
    if spec["model"]["type"] != "WordPiece":
        raise ValueError(f"vocabulary pruning needs a WordPiece tokenizer, got {spec['model']['type']}")
    if keep_top < 0:
        raise ValueError(f"keep_top must be >= 0, got {keep_top}")
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    keep = {token["id"] for token in spec["added_tokens"]}
    keep |= {i for token, i in spec["model"]["vocab"].items() if _is_character(token)}
    ranked = sorted((i for token, i in spec["model"]["vocab"].items() if not _PLACEHOLDER.fullmatch(token)))
    keep.update(ranked[:keep_top])
    for encoding in tokenizer.encode_batch(list(texts), add_special_tokens=False):
        keep.update(encoding.ids)
    return sorted(keep)


def _pruned_spec(spec: dict, ids: list[int]) -> dict:
    """``tokenizer.json`` contents over the pieces ``ids``, renumbered 0..len(ids)-1."""
    new_id = {old: new for new, old in enumerate(ids)}
    spec = copy.deepcopy(spec)
    spec["model"]["vocab"] = {token: new_id[i] for token, i in
                              sorted(spec["model"]["vocab"].items(), key=lambda item: item[1])
                              if i in new_id}
    for token in spec["added_tokens"]:
        token["id"] = new_id[token["id"]]
    for special in (spec.get("post_processor") or {}).get("special_tokens", {}).values():
        special["ids"] = [new_id[i] for i in special["ids"]]
    if spec.get("padding"):
        spec["padding"]["pad_id"] = new_id[spec["padding"]["pad_id"]]
    return spec


def restrict_model(model: EncoderClassifier, full_tokenizer_file: Path,
                   pruned_tokenizer_file: Path) -> EncoderClassifier:
    """A copy of ``model`` whose embedding table holds the rows of ``pruned_tokenizer_file``'s pieces.

    Row ``i`` of the new table is the full table's row of the piece the pruned tokenizer numbers
    ``i``; e.g. rebuild an edge bundle's model from the unpruned student and the bundle's
    ``tokenizer.json``.

    Raises:
        ValueError: the full tokenizer's size differs from the embedding table, or the pruned
            tokenizer has a piece the full one lacks.
    """
    full = json.loads(Path(full_tokenizer_file).read_text("utf-8"))["model"]["vocab"]
    pruned = json.loads(Path(pruned_tokenizer_file).read_text("utf-8"))["model"]["vocab"]
    table = model.encoder.embeddings.word_embeddings
    if len(full) != table.num_embeddings:
        raise ValueError(f"tokenizer has {len(full)} pieces but the model's embedding table has "
                         f"{table.num_embeddings} rows")
    missing = sorted(set(pruned) - set(full))
    if missing:
        raise ValueError(f"{len(missing)} pieces of the pruned tokenizer are not in the full one, "
                         f"e.g. {missing[:3]}")
    ids = [full[token] for token, _ in sorted(pruned.items(), key=lambda item: item[1])]
    restricted = copy.deepcopy(model)
    pad = ids.index(table.padding_idx) if table.padding_idx in ids else None
    rows = nn.Embedding(len(ids), table.embedding_dim, padding_idx=pad)
    with torch.no_grad():
        rows.weight.copy_(table.weight[ids])
    restricted.encoder.embeddings.word_embeddings = rows
    restricted.encoder.config.vocab_size = len(ids)
    if pad is not None:
        restricted.encoder.config.pad_token_id = pad
    return restricted.eval()


def prune_vocabulary(model: EncoderClassifier, tokenizer_file: Path, texts: Sequence[str],
                     out_dir: Path, keep_top: int) -> PrunedVocabulary:
    """Restrict ``model`` and its tokenizer to the pieces :func:`kept_ids` keeps for ``texts``.

    Args:
        model: eval-mode classifier whose encoder uses ``tokenizer_file``'s ids; not modified.
        tokenizer_file: the full ``tokenizer.json`` (WordPiece).
        texts: the texts whose pieces must stay (training and calibration texts, never the
            evaluation texts, so evaluation measures what pruning costs on unseen words).
        out_dir: folder that receives the pruned ``tokenizer.json`` (created if missing).
        keep_top: pieces kept from the head of the vocabulary whatever the texts use.

    Raises:
        ValueError: the tokenizer is not WordPiece, its size differs from the embedding table, or
            ``keep_top`` is negative.
    """
    spec = json.loads(Path(tokenizer_file).read_text("utf-8"))
    base = len(spec["model"]["vocab"])
    if base != model.encoder.embeddings.word_embeddings.num_embeddings:
        raise ValueError(f"tokenizer has {base} pieces but the model's embedding table has "
                         f"{model.encoder.embeddings.word_embeddings.num_embeddings} rows")
    ids = kept_ids(tokenizer_file, texts, keep_top)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / TOKENIZER_FILE
    target.write_text(json.dumps(_pruned_spec(spec, ids), ensure_ascii=False), encoding="utf-8")
    return PrunedVocabulary(restrict_model(model, tokenizer_file, target), load_tokenizer(out_dir), target,
                            len(ids), base)
