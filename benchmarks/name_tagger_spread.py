"""How much one training of the PII name tagger moves its figures: the product's recipe (the
``pii_name_tagger`` asset's examples and :class:`~data_quality.pii_tagger_training.TaggerConfig`)
trained once per seed, each tagger scored the way ``benchmarks/pii_recall.py`` scores the product
(the review catalogue in the allow-list, P ≥ the scrubber's threshold, cropped windows).

Per seed it prints PERSON recall / precision on the tuning and held-out halves, and per review
half the rows altered and those naming no person by the hand audits (``benchmarks/audits/``;
rows an audit lacks are counted apart). A measurement of spread, not a way to choose a seed: the
product trains with the default seed.

Run: ``.venv/bin/python benchmarks/name_tagger_spread.py [--seeds 13 14 15] [--soup K]`` from
the repository root: about 2 minutes a seed on the 2 shared cores (K times that for a soup).
Taggers are written to ``<state>/pii_tagger_spread/seed<S>/``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from commons.settings import Settings  # noqa: E402
from data_quality.pii_engine import PiiEngine, rules_engine  # noqa: E402
from data_quality.pii_eval import (  # noqa: E402
    load_catalogue, load_presidio_split, load_review_audit, load_review_texts, review_rows)
from data_quality.pii_scoring import score  # noqa: E402
from data_quality.pii_tagger import TOKENIZER_FILE, NameTagger, load_word_tokenizer  # noqa: E402
from data_quality.pii_tagger_training import (  # noqa: E402
    TaggerConfig, base_model_path, train_tagger, training_examples)
from data_quality.pii_vocabulary import catalogue_words  # noqa: E402
from edge_export.name_tagger import export_name_tagger  # noqa: E402

AUDITS = Path(__file__).resolve().parent / "audits"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[13, 14, 15])
    parser.add_argument("--soup", type=int, default=TaggerConfig.soup)
    args = parser.parse_args()
    settings = Settings.from_env()
    tuning, held_out = load_presidio_split(settings.data_dir)
    reviews = load_review_texts(settings.data_dir)
    rows = review_rows(reviews)
    audits = {half: load_review_audit(AUDITS / f"altered_reviews_{half}.tsv") for half in ("even", "odd")}
    examples = training_examples(tuning, reviews, rules_engine())
    tokenizer_file = base_model_path() / TOKENIZER_FILE
    engine = PiiEngine(catalogue=catalogue_words(load_catalogue(settings.data_dir)))
    texts = [s["full_text"] for s in tuning + held_out] + [r.text for r in rows]
    print(f"{'seed':<6}{'soup':>5}{'train s':>9}{'tuning PERSON R / P':>22}"
          f"{'held-out PERSON R / P':>24}{'even altered / none':>21}{'odd altered / none':>20}"
          f"{'not audited':>13}")
    for seed in args.seeds:
        config = replace(TaggerConfig(), seed=seed, soup=args.soup)
        started = time.perf_counter()
        model = train_tagger(examples, load_word_tokenizer(tokenizer_file), config)
        seconds = time.perf_counter() - started
        path = export_name_tagger(model, tokenizer_file,
                                  settings.state_dir / "pii_tagger_spread" / f"seed{seed}")
        found = engine.with_tagger(NameTagger(path, path.parent / TOKENIZER_FILE)).analyze_batch(texts)
        tuned = score(tuning, found[:len(tuning)])["PERSON"]
        held = score(held_out, found[len(tuning):len(tuning) + len(held_out)])["PERSON"]
        cells, unaudited = [], 0
        for half in ("even", "odd"):
            altered = [(r.file, r.row) for r, spans in zip(rows, found[len(tuning) + len(held_out):])
                       if r.reported == (half == "odd") and any(s.kind != "OTHER" for s in spans)]
            none = sum(audits[half].get(key) == "none" for key in altered)
            unaudited += sum(key not in audits[half] for key in altered)
            cells.append(f"{len(altered)} / {none}")
        print(f"{seed:<6}{args.soup:>5}{seconds:>9.0f}{tuned.recall:>14.3f} / {tuned.precision:.3f}"
              f"{held.recall:>16.3f} / {held.precision:.3f}{cells[0]:>21}{cells[1]:>20}"
              f"{unaudited:>13}", flush=True)
    print(f"rows naming no person are out of {sum(not r.reported for r in rows)} even and "
          f"{sum(r.reported for r in rows)} odd rows")


if __name__ == "__main__":
    main()
