"""What the text of a subject key (``product_id``, ``source``) and of a title may hold: one rule for
every door a signal comes in by (push intake, a pod's contract) and for ``erase``, which must be able
to name every key they let in.

``erase --product/--source`` takes a key as typed, so a key must hold a letter or digit (log lines are
matched on the value as a token; punctuation alone is no key) and must not start or end with white
space (shells and forms trim it). A key let in must also hold no control or format character
(Unicode Cc, Cf): a NUL cannot be given on a command line at all, and a bidi override (U+202E) or a
zero-width space shows one id as another. ``erase`` itself takes keys that hold one, so those stored
before the rule was enforced can still go.
"""

from __future__ import annotations

import unicodedata

LINE_CONTROLS = "\t\n\r"
"""The control characters free text (a title) may hold: tab and line breaks."""
_ENDS = "white space or a control character at its ends"


def hidden_character(text: str, allowed: str = "", controls_only: bool = False) -> str | None:
    """Why ``text`` holds a control or format character (Unicode Cc, Cf) not in ``allowed``
    (``holds a control character U+0000``), or None; with ``controls_only``, Cc alone."""
    refused = ("Cc",) if controls_only else ("Cc", "Cf")
    for ch in text:
        category = unicodedata.category(ch)
        if category in refused and ch not in allowed:
            kind = "control" if category == "Cc" else "format"
            return f"holds a {kind} character U+{ord(ch):04X}"
    return None


def unerasable(value: str) -> str | None:
    """Why ``erase`` could not name ``value`` as a key, or None when it can."""
    if not any(ch.isalnum() for ch in value):
        return "no letter or digit in it: erasure could not name it"
    if value != value.strip():
        return _ENDS
    return None


def key_problem(value: str) -> str | None:
    """Why ``value`` may not be stored as a subject key (:func:`unerasable`, or a control or format
    character in it), or None when it may."""
    problem = unerasable(value)
    # Private-use and unassigned characters are neither white space nor Cc/Cf, yet show as nothing.
    if not problem and not (value[0].isprintable() and value[-1].isprintable()):
        problem = _ENDS
    return problem or hidden_character(value)
