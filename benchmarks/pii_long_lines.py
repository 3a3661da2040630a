"""What one long line of digits costs the PII detectors: pathological input, not a quality figure.

For each shape of digit line, ``find_pii`` (every detector, no NLP model) at two lengths, best of
two runs each, and the ratio: about 2 when the cost is linear in the line's length. Tests assert
what such lines yield (``tests/data_quality/test_pii_faults.py``); times are read here only.

Run: ``.venv/bin/python benchmarks/pii_long_lines.py [--chars 100000]`` from the repository root
(about a minute on 2 cores at the default length).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data_quality.pii import find_pii  # noqa: E402

# Each shape repeated to the wanted length: one unbroken run, groups joined by each separator the
# card and phone detectors read, and a line of valid card numbers.
SHAPES = {
    "unbroken digits": "7",
    "digits 0-9": "0123456789",
    "groups '1234 '": "1234 ",
    "groups '12.'": "12.",
    "groups '123-'": "123-",
    "cards": "4111 1111 1111 1111 ",
}


def _seconds(text: str) -> float:
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        find_pii(text)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=100_000, help="the longer line's length")
    chars = parser.parse_args().chars
    print(f"{'shape':<18}{chars // 2:>10,} chars{chars:>10,} chars   ratio   µs/char")
    for name, unit in SHAPES.items():
        short, long = (_seconds((unit * (n // len(unit) + 1))[:n]) for n in (chars // 2, chars))
        print(f"{name:<18}{short:>12.3f} s{long:>12.3f} s{long / short:>8.2f}{long / chars * 1e6:>10.1f}")


if __name__ == "__main__":
    main()
