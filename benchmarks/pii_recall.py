"""PII scrubber benchmark: the product's Presidio engine against Presidio as shipped.

For each finder, on the same records in the same run:
- recall per labelled type and precision per reported kind on the Presidio samples, for the
  tuning part and the held-out part (split by sentence template, :mod:`data_quality.pii_scoring`);
- the fraction of real reviews altered (an upper bound on damage: film reviews name actors, which
  is PII to remove), and for the product's odd rows what the altered words name, by a hand audit;
- records/s over all reviews and samples (analysis; the product also scrubs whole records through
  its process pool).

The product is the engine the pipeline scrubs with, plus the review files' catalogue in its
allow-list: the rules, and the learned name tagger when the pipeline has built one in the state
folder (the ``pii_name_tagger`` asset; ``make demo`` builds it), else the rules alone (said in
the output).

Run: ``.venv/bin/python benchmarks/pii_recall.py [--no-baseline]`` from the repository root
(reads the shared data folder from ``EDGE_INSIGHTS_DATA_DIR``, default ``../shared/data``).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data_quality.pii import Span  # noqa: E402
from data_quality.pii_batch import scrub_records_parallel  # noqa: E402
from data_quality.pii_engine import PiiEngine  # noqa: E402
from data_quality.pii_eval import (  # noqa: E402
    load_catalogue, load_presidio_split, load_review_audit, load_review_texts, review_rows)
from data_quality.pii_scoring import TypeScore, score, structured, wilson_interval  # noqa: E402
from data_quality.pii_tagger import TOKENIZER_FILE, NameTagger, built_tagger  # noqa: E402
from data_quality.pii_vocabulary import catalogue_words  # noqa: E402
from commons.settings import Settings  # noqa: E402

# Interleaved speed check: sample size, rounds and seed (fixed, so runs compare).
SPEED_SAMPLE = 1000
SPEED_ROUNDS = 3
SPEED_SEED = 13
# What the words the product replaced in each altered odd review row name: a real ``person``, a
# fictional ``character``, a ``place_of_person`` (where someone lives) or ``none`` (a dish, a
# shop, a misspelling). Judged by hand by reading each row, after the rules were fixed; rows
# by (file, 0-based row of :func:`~data_quality.pii_eval.load_review_texts`), no review text.
# The even (tuning) rows' audit covers the rows the name tagger's cross-validation altered
# (``benchmarks/name_tagger_trial.py --cv``), the rows its choice was made on.
AUDITS = {half: Path(__file__).resolve().parent / "audits" / f"altered_reviews_{half}.tsv"
          for half in ("even", "odd")}


def _fmt(value: float | None) -> str:
    return "   -" if value is None else f"{value:.3f}"


def _timed(find: Callable[[Sequence[str]], list[list[Span]]], texts: Sequence[str]
           ) -> tuple[list[list[Span]], float]:
    start = time.perf_counter()
    found = find(texts)
    return found, time.perf_counter() - start


def _print_scores(title: str, by_finder: dict[str, dict[str, TypeScore]]) -> None:
    print(f"\n{title}: recall (caught/labelled) [its 95 % Wilson interval] and precision "
          "(correct/reported) per type")
    names = list(by_finder)
    print(f"{'type':<12}" + "".join(f"{name + ' R':>22}{'':15}{name + ' P':>22}" for name in names))
    kinds = sorted({k for scores in by_finder.values() for k in scores} - {"OTHER"})
    for kind in [*kinds, "structured"]:
        row = f"{kind:<12}"
        for scores in by_finder.values():
            s = structured(scores) if kind == "structured" else scores.get(kind, TypeScore())
            interval = s.recall_interval()
            row += (f"{_fmt(s.recall):>10} ({s.caught:>4}/{s.labelled:<4})"
                    + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else " " * 15)
                    + f"{_fmt(s.precision):>10} ({s.correct:>4}/{s.reported:<4})")
        print(row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip Presidio as shipped (about 3 minutes on 2 cores)")
    args = parser.parse_args()
    settings = Settings.from_env()
    data_dir = settings.data_dir
    tuning, held_out = load_presidio_split(data_dir)
    reviews = load_review_texts(data_dir)
    review_texts = [text for texts in reviews.values() for text in texts]
    sample_texts = [s["full_text"] for s in tuning + held_out]
    all_texts = review_texts + sample_texts
    print(f"{len(tuning)} tuning + {len(held_out)} held-out labelled samples (split by file and "
          f"template_id), {len(review_texts)} real reviews; {len(all_texts)} records in all")

    engine = PiiEngine(catalogue=catalogue_words(load_catalogue(data_dir)))
    model = built_tagger(settings.pii_tagger_dir)
    if model is not None:
        engine = engine.with_tagger(NameTagger(model, model.parent / TOKENIZER_FILE))
    print(f"product: rules + name tagger {model}" if model else
          "product: rules alone (no name tagger built in the state folder; `make demo` builds one)")
    finders: dict[str, Callable[[Sequence[str]], list[list[Span]]]] = {
        "product": engine.analyze_batch}
    if not args.no_baseline:
        from data_quality.pii_baseline import find_shipped, presidio_as_shipped

        shipped = presidio_as_shipped()
        finders["presidio"] = lambda texts: find_shipped(shipped, texts)

    found: dict[str, list[list[Span]]] = {}
    seconds: dict[str, float] = {}
    for name, find in finders.items():
        found[name], seconds[name] = _timed(find, all_texts)
    n_reviews, n_tuning = len(review_texts), len(tuning)
    for part, samples, offset in (("tuning", tuning, n_reviews),
                                  ("held-out", held_out, n_reviews + n_tuning)):
        _print_scores(f"{part} part ({len(samples)} samples)", {
            name: score(samples, [[s for s in spans if s.kind != "OTHER"]
                                  for spans in spans_all[offset:offset + len(samples)]])
            for name, spans_all in found.items()})

    print("\nReal reviews altered, comparable kinds (Presidio's other types in brackets); rules "
          "were tuned on the even rows only")
    for name, spans_all in found.items():
        for part, rows in (("even rows", range(0, n_reviews, 2)),
                           ("odd rows", range(1, n_reviews, 2))):
            kept = sum(1 for i in rows if any(s.kind != "OTHER" for s in spans_all[i]))
            every = sum(1 for i in rows if spans_all[i])
            print(f"{name:<10}{part:<10}{kept:>5}/{len(rows)} = {kept / len(rows):.4f}"
                  + (f"   (all types: {every / len(rows):.4f})" if every != kept else ""))
    print("per review file (both halves):")
    offset = 0
    for file_name, texts in reviews.items():
        rows = range(offset, offset + len(texts))
        offset += len(texts)
        rates = {name: sum(1 for i in rows if any(s.kind != "OTHER" for s in spans_all[i]))
                 / len(rows) for name, spans_all in found.items()}
        print(f"    {file_name:<28}" + "".join(f"{name} {rate:.4f}   "
                                              for name, rate in rates.items()))
    for half in AUDITS:
        _print_audit(found["product"], reviews, half)
    for spans, text in list(zip(found["product"][:n_reviews], review_texts))[::2]:
        if spans:
            print(f"    {[text[s.start:s.end] + ':' + s.kind for s in spans]} in {text[:90]!r}")

    ner_reviews = sum(map(engine.needs_ner, review_texts))
    ner_samples = sum(map(engine.needs_ner, sample_texts))
    print(f"\nNER pre-filter lets through {ner_reviews / n_reviews:.3f} of reviews and "
          f"{ner_samples / len(sample_texts):.3f} of labelled samples")

    records = [{"review_text": [text], "author": "someone"} for text in all_texts]
    workers = os.cpu_count() or 1
    start = time.perf_counter()
    scrub_records_parallel(records, workers=workers, engine=engine)
    pooled = time.perf_counter() - start
    print(f"\nThroughput over the same {len(all_texts)} records (one run, {workers} cores)")
    for name in found:
        print(f"{name:<10}{len(all_texts) / seconds[name]:>9,.0f} records/s analysis, one process")
    print(f"{'product':<10}{len(all_texts) / pooled:>9,.0f} records/s scrub_records_parallel, "
          f"{workers} workers")
    if "presidio" in seconds:
        print(f"speed-up, one process: {seconds['presidio'] / seconds['product']:.1f}x; "
              f"pooled scrub vs Presidio: {seconds['presidio'] / pooled:.1f}x")
        _interleaved_speed(finders, all_texts)


def _print_audit(found: list[list[Span]], reviews: dict[str, list[str]], half: str) -> None:
    """The ``half`` ("even" or "odd") review rows the product alters, by what the hand audit
    (:data:`AUDITS`) says the altered words name; a row the audit lacks is counted apart
    (re-audit after a rule change)."""
    rows = review_rows(reviews)
    audit = load_review_audit(AUDITS[half])
    part = [i for i, r in enumerate(rows) if r.reported == (half == "odd")]
    named = Counter(audit.get((rows[i].file, rows[i].row), "not audited") for i in part
                    if any(s.kind != "OTHER" for s in found[i]))
    print(f"{half} rows altered, by what the altered words name (hand audit, {AUDITS[half].name}; "
          "[95 % Wilson interval]):")
    for what, count in named.most_common():
        low, high = wilson_interval(count, len(part))
        print(f"    {what:<16}{count:>4}/{len(part)} = {count / len(part):.4f} "
              f"[{low:.4f}, {high:.4f}]")


def _interleaved_speed(finders: dict[str, Callable[[Sequence[str]], list[list[Span]]]],
                       texts: Sequence[str]) -> None:
    """records/s of each finder on one fixed random sample, rounds alternating between the
    finders, best round each: on shared cores a load spike then hits both, not one."""
    sample = random.Random(SPEED_SEED).sample(list(texts), SPEED_SAMPLE)
    best = {name: float("inf") for name in finders}
    for _ in range(SPEED_ROUNDS):
        for name, find in finders.items():
            best[name] = min(best[name], _timed(find, sample)[1])
    print(f"best of {SPEED_ROUNDS} alternating rounds on the same {SPEED_SAMPLE} random records: "
          + ", ".join(f"{name} {SPEED_SAMPLE / t:,.0f} records/s" for name, t in best.items())
          + f"; speed-up {best['presidio'] / best['product']:.1f}x")


if __name__ == "__main__":
    main()
