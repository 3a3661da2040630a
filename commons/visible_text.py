"""The visible characters of a text, with a map back to the original offsets.

Invisible format characters (zero-width space/joiners, word joiner, soft hyphen, BOM) inside an
identifier hide it from every detector ("jo\u200bhn@example.com" is no e-mail to a regex), while a
reader sees it whole. Detectors therefore read the visible view, and their spans are mapped back so
that the replacement in the original text covers the invisible characters too.
"""

from __future__ import annotations

import re

_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")


class VisibleText:
    """``text`` without invisible format characters.

    Attributes:
        text: the visible view (the original itself when it holds no invisible character).
    """

    def __init__(self, original: str) -> None:
        self._kept: list[int] | None = None
        self.text = original
        if _INVISIBLE.search(original):
            self._kept = [i for i, ch in enumerate(original) if not _INVISIBLE.match(ch)]
            self.text = "".join(original[i] for i in self._kept)

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Offsets in the original text of the visible span ``[start, end)`` (``end > start``);
        invisible characters inside the span fall inside the returned span."""
        if self._kept is None:
            return start, end
        return self._kept[start], self._kept[end - 1] + 1
