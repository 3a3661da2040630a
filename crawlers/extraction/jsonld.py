"""JSON-LD blocks of a page, each parsed on its own and repaired leniently.

extruct parses a page's JSON-LD as one unit: with ``errors="ignore"`` one broken block drops the
valid ones beside it. Here every ``<script type="application/ld+json">`` is read separately,
and a block that is not strict JSON gets the repairs browsers' and search engines' lenient
readers make, in order, until one parses:

1. control characters inside strings are accepted (``json.loads(strict=False)``);
2. HTML comment markers around the block and ``/* … */`` or whole-line ``//`` comments are
   removed;
3. HTML entities are decoded (``{&quot;@type&quot;: …}`` from a CMS that escaped the block);
4. a comma before a closing ``}``/``]`` is dropped (JavaScript allows it, JSON does not);
5. only the first complete JSON value is kept (``json.JSONDecoder.raw_decode``): a trailing
   ``;``, an extra ``}`` or a second concatenated value no longer sinks the block (every
   complete value is kept).

A block that still does not parse is skipped and logged; the others stand.
"""

from __future__ import annotations

import html
import json
import logging
import re
from typing import Any

from parsel import Selector

log = logging.getLogger(__name__)

_BLOCKS = ("//script[translate(normalize-space(@type), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', "
           "'abcdefghijklmnopqrstuvwxyz')='application/ld+json']/text()")
_HTML_COMMENT = re.compile(r"^\s*<!--|-->\s*$")
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_LINE_COMMENT = re.compile(r"^\s*//.*$", re.M)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


def json_ld(sel: Selector) -> list[Any]:
    """Every JSON-LD value on the page, in document order.

    Args:
        sel: the parsed page.

    Returns:
        One item per parsed value (a dict, or a list for a block holding an array); blocks
        that cannot be repaired are left out. Never raises.
    """
    values: list[Any] = []
    for text in sel.xpath(_BLOCKS).getall():
        parsed = parse_block(text)
        if parsed is None:
            log.info("unreadable JSON-LD block skipped: %.80r", text.strip())
        else:
            values.extend(parsed)
    return values


def parse_block(text: str) -> list[Any] | None:
    """The JSON values in one block's text, after the repairs of the module docstring.

    Returns:
        The values (usually one), or None when no repair makes the text parse.
    """
    stripped = _HTML_COMMENT.sub("", text).strip()
    if not stripped:
        return None
    uncommented = _LINE_COMMENT.sub("", _BLOCK_COMMENT.sub("", stripped))
    unescaped = html.unescape(uncommented)
    for candidate in (stripped, uncommented, unescaped, _TRAILING_COMMA.sub(r"\1", unescaped)):
        try:
            return [json.loads(candidate, strict=False)]
        except (ValueError, RecursionError):  # RecursionError: nested past the decoder's depth
            pass
        values = _leading_values(candidate)
        if values:
            return values
    return None


def _leading_values(text: str) -> list[Any]:
    """Complete JSON values from the first ``{`` or ``[`` on, skipping the junk between them
    (``;``, a stray ``}``); stops at the first stretch that is not JSON."""
    decoder = json.JSONDecoder(strict=False)
    values = []
    pos = _next_start(text, 0)
    while pos is not None:
        try:
            value, end = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError):
            break
        values.append(value)
        pos = _next_start(text, end)
    return values


def _next_start(text: str, pos: int) -> int | None:
    starts = [i for i in (text.find("{", pos), text.find("[", pos)) if i >= 0]
    return min(starts) if starts else None
