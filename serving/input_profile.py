"""Input profile: a few numbers per record that say what the model was shown, without the text.

The decision log never holds raw text, yet input drift is measured on it, so every logged decision
carries its record's profile and every edge bundle carries the profile distribution of its
evaluation split (``drift_baseline.reference`` in the manifest, written by
:mod:`edge_export.release` with this very function). Both sides use the bundle's own tokenizer, so
"out of vocabulary" means the same thing at release and in production.

Profile keys (all floats):

* ``text_words`` — words of the model's text after the tokenizer's normaliser and pre-tokeniser
  (BERT: lower-cased, split on whitespace and punctuation; punctuation marks count as words).
* ``oov_share`` — share (0–1) of those words the vocabulary does not hold as one piece, i.e. that
  WordPiece has to split; 0 for an empty text. New vocabulary (another product domain, another
  language) raises it.
* per numeric input field ``F`` (a window, newest value first): ``F_log_level`` = ln(1 + newest
  value) and ``F_log_change`` = ln(1 + newest) − ln(1 + median of the window): the level and the
  latest move of a price or stock series, on a log scale so currencies and pack sizes compare by
  ratio. Negative values are clipped to 0 first (prices and counts are non-negative by contract).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from .contract import ModelInputs

TEXT_KEYS = ("text_words", "oov_share")


def profile_keys(inputs: ModelInputs) -> tuple[str, ...]:
    """The profile's keys for a model reading ``inputs``: the text keys, then two per numeric field."""
    numeric = tuple(f"{spec.field}_{kind}" for spec in inputs.numeric_inputs for kind in ("log_level", "log_change"))
    return TEXT_KEYS + numeric


def input_profile(tokenizer: Tokenizer, inputs: ModelInputs, features: dict[str, Any]) -> dict[str, float]:
    """Profile of one contract-conforming record's model features.

    Args:
        tokenizer: the bundle's ``tokenizers`` tokenizer (its normaliser, pre-tokeniser, vocabulary).
        inputs: how the bundle reads records (text fields, numeric inputs).
        features: ``inputs.features(record)`` of the record.

    Returns:
        ``{key: float}`` for every key of :func:`profile_keys`, rounded to 4 decimals.
    """
    text = inputs.text(features)
    normalizer, pre_tokenizer = tokenizer.normalizer, tokenizer.pre_tokenizer
    normalized = normalizer.normalize_str(text) if normalizer is not None else text
    words = ([w for w, _ in pre_tokenizer.pre_tokenize_str(normalized)] if pre_tokenizer is not None
             else normalized.split())
    unknown = sum(1 for w in words if tokenizer.token_to_id(w) is None)
    profile = {"text_words": float(len(words)), "oov_share": unknown / len(words) if words else 0.0}
    for spec in inputs.numeric_inputs:
        value = features[spec.field]
        window = np.clip(np.asarray(value if isinstance(value, list) else [value], dtype=np.float64), 0.0, None)
        level = math.log1p(window[0])
        profile[f"{spec.field}_log_level"] = level
        profile[f"{spec.field}_log_change"] = level - math.log1p(float(np.median(window)))
    return {key: round(float(v), 4) for key, v in profile.items()}
