"""PII scrubber benchmark: recall per entity type, review false positives and throughput.

Run: ``.venv/bin/python benchmarks/pii_recall.py`` from the repository root (reads the shared data
folder from ``EDGE_INSIGHTS_DATA_DIR``, default ``../shared/data``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from commons.settings import Settings  # noqa: E402
from data_quality.pii import scrub_record  # noqa: E402
from data_quality.pii_eval import PRESIDIO_FILES, altered, load_presidio, load_review_texts, recall_by_type, spurious  # noqa: E402


def main() -> None:
    data_dir = Settings.from_env().data_dir
    samples = load_presidio(data_dir)
    print(f"Recall on {len(samples)} labelled samples ({', '.join(PRESIDIO_FILES)})")
    print(f"{'entity type':<16}{'caught':>8}{'total':>8}{'recall':>8}")
    for result in recall_by_type(samples).values():
        print(f"{result.entity_type:<16}{result.caught:>8}{result.total:>8}{result.recall:>8.3f}")
    extra = spurious(samples)
    print(f"placeholders over no target label: {dict(extra) or 'none'}")

    print("\nReviews altered by the scrubber (false positives: these texts carry no PII labels)")
    all_texts: list[str] = []
    for name, texts in load_review_texts(data_dir).items():
        hits = altered(texts)
        all_texts.extend(texts)
        print(f"{name:<28}{len(hits):>6}/{len(texts):<6}{len(hits) / len(texts):>8.4f}")
        for text in hits[:5]:
            print(f"    e.g. {text[:110]!r}")

    records = [{"review_text": [text], "author": "someone"} for text in all_texts]
    records += [{"review_text": [s["full_text"]], "author": "someone"} for s in samples]
    start = time.perf_counter()
    for record in records:
        scrub_record(record)
    elapsed = time.perf_counter() - start
    print(f"\nscrub_record: {len(records)} records in {elapsed:.2f} s = "
          f"{len(records) / elapsed:,.0f} records/s (one process)")


if __name__ == "__main__":
    main()
