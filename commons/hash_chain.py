"""Hash chaining of JSON lines: what makes an append-only log tamper-evident.

Every line of a chained log is one JSON object that carries, beside its own fields:

    ``seq``   its position in the whole log, 1 for the first line (across every file of the log)
    ``prev``  the ``hash`` of the line before it; :data:`GENESIS` for the first line of a log
    ``hash``  sha256 (hex) of the line's canonical bytes without ``hash`` itself

Canonical bytes (:func:`canonical`): JSON with sorted keys, no spaces, UTF-8 (non-ASCII kept as
is), NaN and Infinity refused. Lines are written in that same form, so the bytes on disk are the
hashed bytes plus the ``hash`` member. Changing, dropping, adding or moving any line breaks the
link of the line after it; only a writer who can recompute every later hash can hide an edit, and
signed checkpoints (:mod:`commons.chain_checkpoint`) take that away from anyone without the key.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS = "0" * 64
"""``prev`` of the first line of a log: no line precedes it."""
CHAIN_FIELDS = ("seq", "prev", "hash")
"""Members the chain adds to each line; readers of a log's records drop them."""


def canonical(obj: Any) -> bytes:
    """``obj`` as canonical JSON bytes: sorted keys, ``,``/``:`` separators, UTF-8.

    Raises:
        ValueError: ``obj`` holds NaN or an infinity (not JSON).
        TypeError: ``obj`` holds something JSON cannot encode.
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def line_hash(line: dict[str, Any]) -> str:
    """sha256 hex of ``line``'s canonical bytes, its own ``hash`` member left out."""
    return hashlib.sha256(canonical({k: v for k, v in line.items() if k != "hash"})).hexdigest()


def seal(entry: dict[str, Any], prev: str, seq: int) -> dict[str, Any]:
    """``entry`` as the chain line following a line whose hash is ``prev``, at position ``seq``.

    Raises:
        ValueError: ``entry`` already holds a chain member (``seq``, ``prev`` or ``hash``): a
            record must not be able to forge its own link.
    """
    clash = [name for name in CHAIN_FIELDS if name in entry]
    if clash:
        raise ValueError(f"a chained entry may not carry {', '.join(clash)}")
    line = {**entry, "seq": seq, "prev": prev}
    line["hash"] = line_hash(line)
    return line


def record_of(line: dict[str, Any]) -> dict[str, Any]:
    """A chain line's own record: ``line`` without :data:`CHAIN_FIELDS`."""
    return {k: v for k, v in line.items() if k not in CHAIN_FIELDS}
