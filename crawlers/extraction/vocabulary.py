"""Words product pages use in class/id names and beside prices, in the shop languages we meet.

The words are data (``vocabulary.toml`` beside this module, like the price ranker's weights): a
new shop language is an edit there, not here. Each entry is a list of regular-expression parts,
joined and compiled case-insensitively. Every entry is a word of a language or of web design
practice ("carousel", "sr-only"), never a shop's own name or markup.

Shared by the DOM readers (:mod:`.dom`, :mod:`.candidates`).
"""

from __future__ import annotations

import re
import tomllib
from importlib.resources import files


def _compiled(table: dict[str, list[str]]) -> dict[str, re.Pattern[str]]:
    return {name: re.compile("".join(parts), re.I) for name, parts in table.items()}


CUES: dict[str, re.Pattern[str]] = _compiled(
    tomllib.loads(files(__package__).joinpath("vocabulary.toml").read_text("utf-8")))
"""Cue name (``price_attr``, ``not_price_attr``, ``current_attr``, ``elsewhere_attr``,
``accessory_attr``, ``hidden_attr``, ``stock_attr``, ``cart``, ``instalment``,
``current_bid``, ``bid_count``, ``opening_bid``) → compiled pattern."""
