"""Measuring the PII scrubber on real labelled and real unlabelled text.

Recall uses the Presidio research samples (``pii_presidio/`` in the shared data folder): a
labelled span counts as caught when any placeholder of any kind overlaps it, because for privacy
it matters that the value is gone, not which type it was called. The false-positive side uses
real review texts (``reviews/``), which carry almost no PII: the fraction of reviews the
scrubber alters bounds how much training text it damages.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from data_quality.pii import find_pii
from data_quality.pii_scoring import is_held_out

PRESIDIO_FILES = ("presidio_synth_dataset_v2.json", "presidio_generated_large.json")
# The entity types the scrubber targets; other Presidio labels (addresses, dates...) are out of
# scope for scrubbing free-text reviews.
TARGET_TYPES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS",
                "US_SSN", "PERSON")


@dataclass(frozen=True)
class Recall:
    """Caught / labelled spans of one entity type."""

    entity_type: str
    caught: int
    total: int

    @property
    def recall(self) -> float:
        """``caught / total``; 1.0 for a type with no labelled spans."""
        return self.caught / self.total if self.total else 1.0


def load_presidio(data_dir: Path) -> list[dict]:
    """All samples of both Presidio files (``full_text``, ``spans`` with offsets).

    Raises:
        FileNotFoundError: a file is missing under ``data_dir / "pii_presidio"``.
    """
    samples: list[dict] = []
    for name in PRESIDIO_FILES:
        samples.extend(json.loads((data_dir / "pii_presidio" / name).read_text("utf-8")))
    return samples


def load_presidio_split(data_dir: Path) -> tuple[list[dict], list[dict]]:
    """``(tuning, held_out)`` samples of both Presidio files, split by template
    (:func:`data_quality.pii_scoring.is_held_out`).

    Raises:
        FileNotFoundError: a file is missing under ``data_dir / "pii_presidio"``.
    """
    tuning: list[dict] = []
    held_out: list[dict] = []
    for name in PRESIDIO_FILES:
        for sample in json.loads((data_dir / "pii_presidio" / name).read_text("utf-8")):
            (held_out if is_held_out(sample, name) else tuning).append(sample)
    return tuning, held_out


def load_catalogue(data_dir: Path) -> list[str]:
    """Catalogue strings of the harvested products: titles, brands and categories of the
    Datafiniti file, variations of the Alexa file (the product allow-list's source).

    Raises:
        FileNotFoundError: a review file is missing.
    """
    folder = data_dir / "reviews"
    strings: set[str] = set()
    with (folder / "datafiniti_amazon_reviews.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            strings.update((row["name"], row["brand"], row["categories"]))
    with (folder / "amazon_alexa_reviews.tsv").open(encoding="utf-8", newline="") as fh:
        strings.update(row["variation"] for row in csv.DictReader(fh, delimiter="\t"))
    return sorted(strings)


def recall_by_type(samples: list[dict]) -> dict[str, Recall]:
    """Per :data:`TARGET_TYPES` recall of :func:`~data_quality.pii.find_pii` on ``samples``."""
    caught: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for sample in samples:
        found = find_pii(sample["full_text"])
        for label in sample["spans"]:
            kind = label["entity_type"]
            if kind not in TARGET_TYPES:
                continue
            total[kind] += 1
            start, end = label["start_position"], label["end_position"]
            if any(span.start < end and start < span.end for span in found):
                caught[kind] += 1
    return {kind: Recall(kind, caught[kind], total[kind]) for kind in TARGET_TYPES}


def spurious(samples: list[dict]) -> Counter[str]:
    """Per kind, placeholders that overlap no :data:`TARGET_TYPES` label (a precision proxy:
    such a hit may still cover an address or a date, which is harmless for privacy)."""
    counts: Counter[str] = Counter()
    for sample in samples:
        labels = [(label["start_position"], label["end_position"]) for label in sample["spans"]
                  if label["entity_type"] in TARGET_TYPES]
        for span in find_pii(sample["full_text"]):
            if not any(span.start < end and start < span.end for start, end in labels):
                counts[span.kind] += 1
    return counts


def load_review_texts(data_dir: Path) -> dict[str, list[str]]:
    """Real review texts per file of ``data_dir / "reviews"`` (see its SOURCES.md).

    Raises:
        FileNotFoundError: a review file is missing.
    """
    folder = data_dir / "reviews"
    texts: dict[str, list[str]] = {}
    with (folder / "datafiniti_amazon_reviews.csv").open(encoding="utf-8", newline="") as fh:
        texts["datafiniti_amazon_reviews"] = [row["reviews.text"] for row in csv.DictReader(fh)]
    with (folder / "amazon_alexa_reviews.tsv").open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        texts["amazon_alexa_reviews"] = [row["verified_reviews"] for row in reader]
    for path in sorted((folder / "uci_sentiment_sentences").glob("*_labelled.txt")):
        # A few lines carry Latin-1 bytes (SOURCES.md); they must not abort the measurement.
        lines = path.read_text("utf-8", errors="replace").splitlines()
        texts[path.stem] = [line.rsplit("\t", 1)[0] for line in lines if line.strip()]
    return texts


@dataclass(frozen=True)
class ReviewRow:
    """One review: ``file`` stem, 0-based ``row`` in that file, ``text``, and whether it is in
    the ``reported`` half (else the tuning half)."""

    file: str
    row: int
    text: str
    reported: bool


def review_rows(reviews: Mapping[str, Sequence[str]]) -> list[ReviewRow]:
    """Every review of ``reviews`` (file stem -> texts, as :func:`load_review_texts` gives
    them), in that order, each with its half: the reported half holds the odd positions of the
    files read one after another (``benchmarks/pii_recall.py``'s odd rows, which its hand audit
    judges), the tuning half the even ones. Parity is by that position, not by the row within
    a file: after a file of odd length the two differ."""
    rows = [(name, row, text) for name, texts in reviews.items() for row, text in enumerate(texts)]
    return [ReviewRow(name, row, text, position % 2 == 1)
            for position, (name, row, text) in enumerate(rows)]


def load_review_audit(path: Path) -> dict[tuple[str, int], str]:
    """A hand audit of altered reviews (tab-separated ``file``, ``row``, ``named``, ``why``, as in
    ``benchmarks/audits/``): (file stem, row) -> what the replaced words name (``person``,
    ``character``, ``place_of_person`` or ``none``); empty when ``path`` does not exist."""
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as fh:
        return {(r["file"], int(r["row"])): r["named"] for r in csv.DictReader(fh, delimiter="\t")}


def altered(texts: list[str]) -> list[str]:
    """The texts in which :func:`~data_quality.pii.find_pii` finds anything."""
    return [text for text in texts if find_pii(text)]
