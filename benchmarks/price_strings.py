"""Price-string benchmark: our parser on price-parser's own test cases and currency set.

Data: ``price_strings`` (price-parser's test examples and its currency-detection set). A case
passes when the amount equals the expected one as a Decimal (both None for "no price") and the
currency as written equals the expected one; the parser is
:func:`crawlers.extraction.price.parse_price` given the case's currency and decimal-separator
hints. Counts are split by ``expected_to_pass_in_price_parser`` (cases the library passes vs the
ones its own tests mark xfail). The currency set scores the currency as written.

Run: ``.venv/bin/python benchmarks/price_strings.py`` from the repository root.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawlers.extraction.price import parse_price  # noqa: E402

FOLDER = "price_strings"


def load_cases(data_dir: Path) -> list[dict[str, Any]]:
    """The JSON lines of ``price_parser_cases.jsonl``."""
    lines = (data_dir / FOLDER / "price_parser_cases.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in lines.splitlines() if line.strip()]


def case_passes(case: dict[str, Any]) -> bool:
    """Whether our parser reads one case's amount and currency as expected."""
    parsed = parse_price(case["price_raw"], case["currency_hint"],
                         case["decimal_separator_hint"])
    expected = case["expected_amount"]
    amount_ok = (parsed.amount is None if expected is None
                 else parsed.amount is not None and parsed.amount == Decimal(expected))
    return amount_ok and parsed.currency_raw == case["expected_currency"]


def case_counts(data_dir: Path) -> dict[str, tuple[int, int]]:
    """``{"library_passing": (passed, total), "xfail": (passed, total)}``."""
    counts = {"library_passing": [0, 0], "xfail": [0, 0]}
    for case in load_cases(data_dir):
        key = "library_passing" if case["expected_to_pass_in_price_parser"] else "xfail"
        counts[key][0] += case_passes(case)
        counts[key][1] += 1
    return {key: (passed, total) for key, (passed, total) in counts.items()}


def currency_accuracy(data_dir: Path) -> tuple[int, int]:
    """(correct, total) currencies as written on ``currency_eval.json``."""
    rows = json.loads((data_dir / FOLDER / "currency_eval.json").read_text(encoding="utf-8"))
    correct = sum(parse_price(row["string"]).currency_raw == row["currency"] for row in rows)
    return correct, len(rows)


def main() -> None:
    from commons.settings import Settings

    data_dir = Settings.from_env().data_dir
    for key, (passed, total) in case_counts(data_dir).items():
        print(f"{key:<16}{passed:>5}/{total:<5} passed")
    correct, total = currency_accuracy(data_dir)
    print(f"{'currency_eval':<16}{correct:>5}/{total:<5} accuracy {correct / total:.3f}")


if __name__ == "__main__":
    main()
