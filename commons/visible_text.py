"""The visible characters of a text, with a map back to the original offsets.

Invisible format characters (zero-width space/joiners, word joiner, soft hyphen, BOM) inside an
identifier hide it from every detector ("jo\u200bhn@example.com" is no e-mail to a regex), while a
reader sees it whole. Detectors therefore read the visible view, and their spans are mapped back so
that the replacement in the original text covers the invisible characters too.

Look-alikes of ASCII hide an identifier the same way: a card grouped by no-break spaces (HTML's
``&nbsp;``) or tabs, a phone joined by non-breaking hyphens, an address typed in fullwidth forms
(``ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ``), a card in Arabic-Indic or mathematical bold digits. The
view folds them to their ASCII forms, one character for one, as Unicode's NFKC compatibility
mapping does for these characters (and tab to space). Full NFKC is not applied: it changes
lengths ("ﬁ" → "fi", "½" → "1⁄2") where no identifier gains.

An address written to dodge harvesters or escaped on its way ("jane.doe [at] example [dot] com",
``jane.doe&#64;example.com``, ``jane.doe%40example.com``) shows a reader its ``@`` all the same:
the view reads each such spelling as the one character, and a span over it maps back over the
whole spelling.
"""

from __future__ import annotations

import re
import sys
import unicodedata

# Soft hyphen, zero-width space and joiners, left-to-right and right-to-left marks, Mongolian vowel
# separator, word joiner and invisible operators, byte-order mark.
_INVISIBLE = "[\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]"
# "@" as harvest-dodging words in brackets, an HTML character reference (with or without its ";", as
# browsers read it, or escaped once more as "&amp;#64;") or a percent-encoding (also encoded twice,
# "%2540"); "." as a bracketed word; a no-break space written as its HTML entity. Bare " at " / " dot "
# stay words: they are English.
_HIDDEN = re.compile(rf"(?P<invisible>{_INVISIBLE})"
                     r"|(?P<at> ?[\[({](?i:at)[\])}] ?"
                     r"|(?i:&(?:amp;)?#0*64(?:;|(?!\d))|&(?:amp;)?#x0*40(?:;|(?![\da-f]))|&commat;|%(?:25)?40))"
                     r"|(?P<dot> ?[\[({](?i:dot)[\])}] ?)"
                     r"|(?P<space>(?i:&nbsp;|&#0*160;|&#x0*a0;))")
_READ_AS = {"at": "@", "dot": ".", "space": " "}
# Spaces (no-break, en/em and other fixed widths, narrow no-break, ideographic; tab), hyphens
# (hyphen, non-breaking hyphen, figure dash, minus sign; not en or em dashes, which separate words
# and ranges and would read as a minus in "dongle – 99 ₪"), fullwidth ASCII
# (U+FF01–U+FF5E), the ideographic full stop and small commercial at, and the decimal digits of
# every script ("٤١١١", mathematical bold "𝟒𝟏𝟏𝟏": Unicode category Nd) to ASCII digits.
_FOLD = {**dict.fromkeys(map(ord, "\t\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
                                  "\u2009\u200a\u202f\u205f\u3000"), " "),
         **dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2212"), "-"),
         **{code: chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)},
         ord("\u3002"): ".", ord("\ufe6b"): "@",
         **{code: str(unicodedata.decimal(chr(code))) for code in range(0x80, sys.maxunicode + 1)
            if chr(code).isdecimal()}}


class VisibleText:
    """``text`` without invisible format characters, its look-alike spaces, hyphens and fullwidth
    forms and digits folded to ASCII and spelled-out ``@`` and ``.`` read as the characters (module docstring).

    Attributes:
        text: the visible view (the original itself when it holds no such character).
    """

    def __init__(self, original: str) -> None:
        self._bounds: tuple[list[int], list[int]] | None = None
        folded = original.translate(_FOLD)
        self.text = folded
        if not _HIDDEN.search(folded):
            return
        chars: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        done = 0
        for match in _HIDDEN.finditer(folded):
            chars += folded[done:match.start()]
            starts += range(done, match.start())
            ends += range(done + 1, match.start() + 1)
            if match.lastgroup != "invisible":
                chars.append(_READ_AS[match.lastgroup])
                starts.append(match.start())
                ends.append(match.end())
            done = match.end()
        chars += folded[done:]
        starts += range(done, len(folded))
        ends += range(done + 1, len(folded) + 1)
        self.text = "".join(chars)
        self._bounds = (starts, ends)

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Offsets in the original text of the view's span ``[start, end)`` (``end > start``);
        invisible characters inside the span, and the whole spelling of a read ``@`` or ``.`` at
        its ends, fall inside the returned span."""
        if self._bounds is None:
            return start, end
        return self._bounds[0][start], self._bounds[1][end - 1]
