"""Feature contracts: the allow-listed fields each decision may see (data minimisation).

A contract is plain JSON so it can travel inside an edge bundle's manifest and be enforced by a
pod that imports nothing of ours but the manifest. Shape::

    {"decision": str,
     "fields": {name: {"type": "string"|"number"|"integer"|"number_list",
                       "role": "feature"|"key",      # keys are logged, never fed to the model
                       "required": bool,
                       "max_length": int,            # strings only, characters
                       "length": int,                # number_list only, exact element count
                       "whole": bool,                # number_list only: elements are counts
                       "min": float, "max": float}}} # numbers; per element for number_list

A ``number_list`` value is a JSON array of exactly ``length`` finite numbers (booleans are not
numbers), each within ``min``/``max``: e.g. a price window, newest first. A bundle's manifest
says how feature fields reach its graph (``text_fields``, ``numeric_inputs``; see
:mod:`serving.contract`).

A pod refuses any field not listed (data minimisation at the edge), and training reads only
the listed features (:mod:`training.decisions`).
"""

from __future__ import annotations

from typing import Any

NEGATIVE_REVIEW: dict[str, Any] = {
    "decision": "negative_review",
    "fields": {
        "product_id": {"type": "string", "role": "key", "required": False, "max_length": 256},
        "review_text": {"type": "string", "role": "feature", "required": True, "max_length": 5000},
    },
}

# Most recent value first. Lengths are the central model's long views (training.decisions), so a
# pod can forward the same record to the central model; the student reads only the newest values.
PRICE_WINDOW = 32
STOCK_WINDOW = 8


def _windowed(decision: str, window_field: str, length: int, low: float, high: float,
              whole: bool = False) -> dict[str, Any]:
    """A contract of a product title plus a window of ``length`` numbers in [low, high] (whole
    numbers when ``whole``)."""
    return {
        "decision": decision,
        "fields": {
            "product_id": {"type": "string", "role": "key", "required": False, "max_length": 256},
            "title": {"type": "string", "role": "feature", "required": True, "max_length": 500},
            window_field: {"type": "number_list", "role": "feature", "required": True, "length": length,
                           "min": low, "max": high, **({"whole": True} if whole else {})},
        },
    }


PRICE_SPIKE = _windowed("price_spike", "prices", PRICE_WINDOW, 1e-6, 1e12)
URGENT_INVENTORY = _windowed("urgent_inventory", "stock_counts", STOCK_WINDOW, 0, 1e9, whole=True)

CONTRACTS: dict[str, dict[str, Any]] = {"negative_review": NEGATIVE_REVIEW, "price_spike": PRICE_SPIKE,
                                        "urgent_inventory": URGENT_INVENTORY}


def review_text_of(record: dict[str, Any]) -> str | None:
    """The one text a review decision sees: a record's review texts joined by newlines."""
    texts = record.get("review_text")
    if isinstance(texts, str):
        return texts
    if not texts:
        return None
    return "\n".join(t for t in texts if t)
