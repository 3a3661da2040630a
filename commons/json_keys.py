"""JSON objects with a key given twice are refused, not read as "the last one wins".

Python's ``json`` keeps the last value of a repeated key; which record a client meant is then
unknowable, and a proxy, log reader or another parser that keeps the first would see another record
than the one stored or decided. Pods and the intake both parse with :func:`refuse_duplicate_keys`.
"""

from __future__ import annotations

from typing import Any


class DuplicateKeyError(ValueError):
    """A JSON object gives one key twice."""


def refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` for :func:`json.loads`: the object as a dict.

    Raises:
        DuplicateKeyError: a key occurs twice in the object (the message names it).
    """
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise DuplicateKeyError(f"key {twice!r} given twice in one object")
    return obj
