"""A learned per-word PERSON tagger, run with onnxruntime on the NER step's sentence windows.

The tagger is all-MiniLM-L6-v2 (uncased WordPiece) fine-tuned as a token classifier
(:mod:`data_quality.pii_tagger_training`): each word of a window gets P(word is part of a person
name) from the logits of its first sub-token. Words are :data:`~data_quality.pii_name_evidence.
WORD_RE` matches, the same words the rule recognizer weighs, so both speak of the same units.
Only onnxruntime and ``tokenizers`` run here: no torch at scrub time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from commons.onnxruntime_quiet import onnxruntime as ort
from tokenizers import Tokenizer

from commons.errors import DataQualityError
from data_quality.pii_name_evidence import WORD_RE

#: The tagger's file names: the fp32 export, its int8 quantisation (which the scrubber runs),
#: and the base model's tokenizer.
FP32_FILE = "tagger.onnx"
INT8_FILE = "tagger.int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
# Longest window the tagger reads, in sub-tokens; longer windows are cut (their tail words get
# probability 0). The labelled samples' sentences run to about 60 sub-tokens.
MAX_TOKENS = 128
# Windows per onnxruntime call: one. Dynamic int8 quantises activations per call, so a batched
# window's P(PERSON) moved by up to 0.12 with the windows beside it, and a scrub's result
# depended on what else was scrubbed; the cropped windows are short enough that batching saved
# nothing (1.2 s over all 10,302 labelled samples and reviews, either way).
BATCH_SIZE = 1


class TaggerMissingError(DataQualityError):
    """The tagger's ONNX file or tokenizer is not where it was asked for."""


class TaggerUnreadableError(DataQualityError):
    """The tagger's ONNX file or tokenizer is there but cannot be loaded (truncated, not ONNX)."""


@dataclass(frozen=True)
class TaggedWord:
    """One word of a window: ``text[start:end]`` (offsets into the window) and P(PERSON)."""

    start: int
    end: int
    probability: float


def load_word_tokenizer(tokenizer_file: Path, max_tokens: int = MAX_TOKENS) -> Tokenizer:
    """The base model's ``tokenizer.json`` set to pad each batch to its longest window and to
    cut at ``max_tokens`` (with [CLS] and [SEP]).

    Raises:
        TaggerMissingError: ``tokenizer_file`` does not exist.
    """
    if not tokenizer_file.is_file():
        raise TaggerMissingError(f"tokenizer {tokenizer_file} not found")
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]"), pad_token="[PAD]")
    tokenizer.enable_truncation(max_length=max_tokens)
    return tokenizer


def encode_words(tokenizer: Tokenizer, word_lists: Sequence[Sequence[str]]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sub-token ids of pre-split windows and where each word starts.

    Returns:
        ``(input_ids, attention_mask, first)``: int64 [batch, seq] each, and int64
        [batch, max_words] holding the position of each word's first sub-token (-1 for a word cut
        by truncation or past the window's last word).
    """
    encodings = tokenizer.encode_batch([list(words) for words in word_lists],
                                       is_pretokenized=True)
    first = np.full((len(word_lists), max((len(w) for w in word_lists), default=0)), -1, np.int64)
    for row, encoding in enumerate(encodings):
        for position, word_id in enumerate(encoding.word_ids):
            if word_id is not None and first[row, word_id] < 0:
                first[row, word_id] = position
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    return ids, mask, first


def built_tagger(folder: Path) -> Path | None:
    """The int8 tagger in ``folder`` (``tagger.int8.onnx`` with ``tokenizer.json`` beside it),
    or None when neither has been built there.

    Raises:
        TaggerMissingError: one of the two is there without the other: a damaged tagger, which
            must stop the scrubber rather than let it find names by the rules alone unnoticed.
    """
    model, tokenizer = Path(folder) / INT8_FILE, Path(folder) / TOKENIZER_FILE
    if model.is_file() != tokenizer.is_file():
        present, missing = (model, tokenizer) if model.is_file() else (tokenizer, model)
        raise TaggerMissingError(f"name tagger in {folder} is incomplete: {present.name} without {missing.name}; "
                                 "rebuild it by materialising the pii_name_tagger asset (make demo does)")
    return model if model.is_file() else None


class NameTagger:
    """P(PERSON) per word, from the tagger's ONNX export.

    Args:
        model_path: ONNX token classifier: ``input_ids``, ``attention_mask`` int64 [batch, seq]
            → ``logits`` float32 [batch, seq, 2] (class 1 = PERSON).
        tokenizer_file: the base model's ``tokenizer.json``.

    Raises:
        TaggerMissingError: either file is missing.
        TaggerUnreadableError: either file cannot be loaded.
    """

    def __init__(self, model_path: Path, tokenizer_file: Path) -> None:
        if not model_path.is_file():
            raise TaggerMissingError(f"name tagger {model_path} not found")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one process per core, as the scrubber's pool runs
        try:
            self.tokenizer = load_word_tokenizer(tokenizer_file)
            self.session = ort.InferenceSession(str(model_path), options,
                                                providers=["CPUExecutionProvider"])
        except TaggerMissingError:
            raise
        except Exception as error:  # tokenizers and onnxruntime raise bare Exception subclasses
            raise TaggerUnreadableError(
                f"name tagger {model_path.parent} cannot be loaded ({error}); rebuild it by "
                "materialising the pii_name_tagger asset (make demo does)") from error

    def tag(self, windows: Sequence[str]) -> list[list[TaggedWord]]:
        """Every word of every window with its P(PERSON), same order as ``windows``."""
        words = [list(WORD_RE.finditer(window)) for window in windows]
        out: list[list[TaggedWord]] = [[] for _ in windows]
        order = sorted((i for i, w in enumerate(words) if w), key=lambda i: len(windows[i]))
        for begin in range(0, len(order), BATCH_SIZE):
            rows = order[begin:begin + BATCH_SIZE]
            ids, mask, first = encode_words(self.tokenizer,
                                            [[m.group(0) for m in words[i]] for i in rows])
            logits = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            # Softmax over two classes is the logistic of their difference.
            person = 1.0 / (1.0 + np.exp(logits[..., 0] - logits[..., 1]))
            for row, i in enumerate(rows):
                out[i] = [TaggedWord(m.start(), m.end(),
                                     float(person[row, first[row, k]]) if first[row, k] >= 0
                                     else 0.0)
                          for k, m in enumerate(words[i])]
        return out
