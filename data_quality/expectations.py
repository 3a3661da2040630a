"""Great Expectations 1.x suites per rule set, run on a pandas frame of signal records.

The suites state the rules of :mod:`data_quality.rules` as expectations so that a stage can
report them (run as blocking asset checks). One ephemeral GX context is built per process on
first use and reused: GX takes seconds to import and set up, a validation then milliseconds.

The residual-PII expectation reads a column the suite derives: the PII kinds the scrubber's own
detectors (:func:`~data_quality.pii.find_pii`) still find in a row's review text, null when none.
A regex list, GX's own way, disagreed with the scrubber in both directions: it cannot check a
card's Luhn digit or a phone's numbering plan, and it flagged text the scrubber rightly keeps
("banner@2x.png", "firmware 5.3.1.1"), failing a blocking check on clean rows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# GX otherwise sends usage statistics on context creation, which fails (slowly) offline.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import great_expectations as gx  # noqa: E402
import pandas as pd  # noqa: E402
from great_expectations import expectations as gxe  # noqa: E402
from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: E402

from commons.contracts import review_text_of  # noqa: E402
from commons.record import AVAILABILITY  # noqa: E402
from commons.currencies import ISO_4217  # noqa: E402
from data_quality.pii import find_pii  # noqa: E402


def _offer_suite() -> list[gxe.Expectation]:
    return [
        *(gxe.ExpectColumnValuesToNotBeNull(column=c)
          for c in ("url", "product_id", "price", "currency", "availability")),
        gxe.ExpectColumnValuesToBeBetween(column="price", min_value=0, strict_min=True),
        gxe.ExpectColumnValuesToBeInSet(column="currency", value_set=sorted(ISO_4217)),
        gxe.ExpectColumnValuesToBeInSet(column="availability", value_set=list(AVAILABILITY)),
        # Nulls are skipped by GX: stock and rating are optional in the record contract.
        gxe.ExpectColumnValuesToBeBetween(column="stock_count", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="rating", min_value=0, max_value=5),
    ]


def _review_suite() -> list[gxe.Expectation]:
    return [
        *(gxe.ExpectColumnValuesToNotBeNull(column=c)
          for c in ("url", "product_id", "review_text")),
        gxe.ExpectColumnValuesToMatchRegex(column="review_text", regex=r"\S"),
        gxe.ExpectColumnValuesToBeBetween(column="rating", min_value=1, max_value=5),
        gxe.ExpectColumnValuesToBeNull(column="residual_pii"),
    ]


SUITES = {"offer": _offer_suite, "review": _review_suite}
"""Intake → expectation factory; the rule sets of :data:`data_quality.rules.RULES`."""


@dataclass(frozen=True)
class ExpectationOutcome:
    """Result of one expectation: ``name`` is ``type(column)``, e.g.
    ``expect_column_values_to_be_between(price)``."""

    name: str
    success: bool
    unexpected_count: int
    element_count: int


@dataclass(frozen=True)
class ValidationSummary:
    """Result of one suite on one frame."""

    rule_set: str
    success: bool
    results: tuple[ExpectationOutcome, ...]

    def outcome(self, name: str) -> ExpectationOutcome:
        """The outcome named ``name``.

        Raises:
            KeyError: no expectation of that name ran.
        """
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(name)

    def to_metadata(self) -> dict[str, Any]:
        """JSON-safe dict for asset-check metadata: overall success, failed names, and per
        expectation ``{success, unexpected_count, element_count}``."""
        return {
            "rule_set": self.rule_set,
            "success": self.success,
            "failed": [r.name for r in self.results if not r.success],
            "expectations": {r.name: {"success": r.success,
                                      "unexpected_count": r.unexpected_count,
                                      "element_count": r.element_count}
                             for r in self.results},
        }


@lru_cache(maxsize=1)
def _context() -> Any:
    context = gx.get_context(mode="ephemeral")
    # Progress bars go to stderr on every validation and drown the run logs.
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    context.data_sources.add_pandas("signals")
    return context


@lru_cache(maxsize=None)
def _validation_definition(rule_set: str) -> Any:
    context = _context()
    asset = context.data_sources.get("signals").add_dataframe_asset(rule_set)
    batch = asset.add_batch_definition_whole_dataframe(f"{rule_set}_frame")
    suite = context.suites.add(gx.ExpectationSuite(name=f"{rule_set}_suite"))
    for expectation in SUITES[rule_set]():
        suite.add_expectation(expectation)
    return context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{rule_set}_validation", data=batch, suite=suite))


def _prepared(df: pd.DataFrame, rule_set: str) -> pd.DataFrame:
    """Columns as the suite expects them: price as a number (strings at rest), review texts as
    one string (a list at rest) and ``residual_pii``, the kinds of PII left in it ("EMAIL,PHONE";
    null when none); an unparseable price becomes null and fails not-null."""
    frame = df.copy()
    if rule_set == "offer":
        frame["price"] = pd.to_numeric(
            frame["price"].map(lambda v: None if v is None else str(v)), errors="coerce")
    else:
        frame["review_text"] = frame["review_text"].map(
            lambda texts: review_text_of({"review_text": texts}))
        frame["residual_pii"] = frame["review_text"].map(_residual_kinds)
    return frame


def _residual_kinds(text: Any) -> str | None:
    kinds = sorted({span.kind for span in find_pii(text)}) if isinstance(text, str) else []
    return ",".join(kinds) or None


_REQUIRED_COLUMNS = {
    "offer": ("url", "product_id", "price", "currency", "availability", "stock_count", "rating"),
    "review": ("url", "product_id", "review_text", "rating"),
}


def validate_frame(df: pd.DataFrame, rule_set: str) -> ValidationSummary:
    """Run the ``rule_set`` suite on ``df`` (one row per signal record, plain-dict form).

    Raises:
        ValueError: unknown ``rule_set`` or a column the suite needs is missing.
    """
    if rule_set not in SUITES:
        raise ValueError(f"unknown rule set {rule_set!r}; known: {sorted(SUITES)}")
    missing = [c for c in _REQUIRED_COLUMNS[rule_set] if c not in df.columns]
    if missing:
        raise ValueError(f"frame lacks columns {missing} needed by the {rule_set} suite")
    result = _validation_definition(rule_set).run(
        batch_parameters={"dataframe": _prepared(df, rule_set)})
    outcomes = tuple(
        ExpectationOutcome(
            name=f"{r.expectation_config.type}({r.expectation_config.kwargs['column']})",
            success=bool(r.success),
            unexpected_count=int(r.result.get("unexpected_count") or 0),
            element_count=int(r.result.get("element_count") or 0),
        )
        for r in result.results)
    return ValidationSummary(rule_set=rule_set, success=bool(result.success), results=outcomes)
