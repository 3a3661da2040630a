"""The visible characters of a text, with a map back to the original offsets.

Invisible format characters (zero-width space/joiners, word joiner, soft hyphen, BOM) inside an
identifier hide it from every detector ("jo\u200bhn@example.com" is no e-mail to a regex), while a
reader sees it whole. Detectors therefore read the visible view, and their spans are mapped back so
that the replacement in the original text covers the invisible characters too.

Look-alikes of ASCII hide an identifier the same way: a card grouped by no-break spaces (HTML's
``&nbsp;``) or tabs, a phone joined by non-breaking hyphens, an address typed in fullwidth forms
(``ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ``). The view folds them to their ASCII forms, one character for
one, as Unicode's NFKC compatibility mapping does for these characters (and tab to space). Full
NFKC is not applied: it changes lengths ("ﬁ" → "fi", "½" → "1⁄2"), and the view must map back
character by character.
"""

from __future__ import annotations

import re

_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
# Spaces (no-break, en/em and other fixed widths, narrow no-break, ideographic; tab), hyphens
# (hyphen, non-breaking hyphen, figure dash, minus sign) and fullwidth ASCII (U+FF01–U+FF5E).
_FOLD = {**dict.fromkeys(map(ord, "\t\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
                                  "\u2009\u200a\u202f\u205f\u3000"), " "),
         **dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2212"), "-"),
         **{code: chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)}}


class VisibleText:
    """``text`` without invisible format characters, its look-alike spaces, hyphens and fullwidth
    forms folded to ASCII (module docstring).

    Attributes:
        text: the visible view (the original itself when it holds no such character).
    """

    def __init__(self, original: str) -> None:
        self._kept: list[int] | None = None
        self.text = original.translate(_FOLD)
        if _INVISIBLE.search(original):
            self._kept = [i for i, ch in enumerate(original) if not _INVISIBLE.match(ch)]
            self.text = "".join(self.text[i] for i in self._kept)

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Offsets in the original text of the visible span ``[start, end)`` (``end > start``);
        invisible characters inside the span fall inside the returned span."""
        if self._kept is None:
            return start, end
        return self._kept[start], self._kept[end - 1] + 1
