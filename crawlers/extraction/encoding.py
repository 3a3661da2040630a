"""Which charset a page's bytes are read in, where what the page declares cannot be trusted.

One rule for every harvest path: the books and watch spiders (Scrapy responses, through
:func:`crawlers.spiders.books.with_fallback_encoding`) and saved or fetched pages handed to the
generic extractor as bytes (:func:`decode_page`).
"""

from __future__ import annotations

import codecs

from w3lib.encoding import html_body_declared_encoding, html_to_unicode, http_content_type_encoding, read_bom

from crawlers.extraction.charset_guess import undeclared_charset



def fallback_encoding(body: bytes, content_type: str = "") -> str | None:
    """The charset to read ``body`` in instead of what it declares, or None to read it as declared
    (or, declaring nothing, as UTF-8 that it is).

    "Declares" means a charset in the HTTP ``content_type`` header, a ``<meta>`` declaration or a
    byte-order mark. Two fallbacks, each only where the page's own bytes settle it:

    - A page declaring a legacy (non-UTF) charset whose body is valid UTF-8 holding non-ASCII bytes
      is UTF-8: text in a legacy charset is almost never valid UTF-8 by chance (M. Dürst, "The
      Properties and Promises of UTF-8", 11th International Unicode Conference, 1997), while a
      server's default ``charset=ISO-8859-1`` on UTF-8 pages is common. Read as declared, "café"
      became "cafÃ©" and a windows-1251 "£" lost the currency. A byte-order mark is never overruled.
    - A page declaring nothing that is not UTF-8 is windows-1252 where that reads as clean text, as
      browsers read it (WHATWG HTML, "determining the character encoding": the implementation-defined
      default for Western locales); charset-normalizer left to itself, Scrapy's guess, read a
      mostly-ASCII page with a few latin-1 "£" bytes as cp850 ("ú50.10": the currency lost), and a
      plain UTF-8 decode replaced them ("Caf�"). UTF-8 with a few broken bytes (a character cut short)
      stays UTF-8. Otherwise it is the one legacy charset that reads it
      (:func:`crawlers.extraction.charset_guess.undeclared_charset`: a Shift-JIS or windows-1251 page
      was mojibake as windows-1252).

    Raises:
        CharsetUndecided: the page declares nothing, is not UTF-8, and no single legacy charset reads it.
    """
    if read_bom(body)[0]:
        return None
    declared = http_content_type_encoding(content_type) or html_body_declared_encoding(body)
    if declared and _is_utf(declared):  # most pages: nothing to settle, no second decode
        return None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return None if declared else undeclared_charset(body)
    return "utf-8" if declared and not body.isascii() else None


def decode_page(body: bytes, content_type: str = "") -> str:
    """``body`` as text: in its :func:`fallback_encoding` where one applies, else as its BOM,
    ``content_type`` or ``<meta>`` declares (w3lib's ``html_to_unicode``), else as UTF-8; bytes the
    charset cannot read become U+FFFD.

    Raises:
        CharsetUndecided: as :func:`fallback_encoding`.
    """
    encoding = fallback_encoding(body, content_type)
    if encoding:
        return body.decode(encoding, errors="replace")
    return html_to_unicode(content_type or None, body)[1]


def _is_utf(encoding: str) -> bool:
    """Whether ``encoding`` (a label w3lib resolved) is a UTF encoding; an unknown one counts as UTF,
    so it is left to the caller's own check."""
    try:
        return codecs.lookup(encoding).name.startswith("utf")
    except LookupError:
        return True
