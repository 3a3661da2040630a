"""Which legacy charset a page that declares none and is not UTF-8 is in, or why that cannot be told.

Browsers in Western locales read such a page as windows-1252 (WHATWG HTML, "determining the
character encoding"), and so did every harvest path: a Shift-JIS or windows-1251 page then became
mojibake without a word ("Ìàñòåð è Ìàðãàðèòà", a title no rule could catch). windows-1252 stays
the reading where its text is clean, as charset-normalizer's mess detector measures it (the
accented letters and symbols of Western text; a mostly-ASCII page with a few "£" bytes reads so).
Otherwise charset-normalizer chooses among the legacy charsets browsers know
(:data:`LEGACY_CHARSETS`), and its choice is taken only where no other charset reads the bytes, as
differently, almost as cleanly: a short page's few multi-byte characters often fit Shift-JIS,
GB18030 and windows-1251 alike, and a guess there would be mojibake again. That page raises
:class:`CharsetUndecided`, whose message is its quarantine reason.

Before all that, a page that is UTF-8 but for a few broken sequences (cut in the middle of a character,
one stray byte) stays UTF-8: legacy CJK bytes form a valid multi-byte UTF-8 character now and then, but
about one for every two to six invalid ones (measured on Shift-JIS, EUC-JP, GB18030 and EUC-KR text),
never :data:`UTF8_MAJORITY` of them; windows-1251 or -1252 text forms none. Read as a legacy charset such a
page was mojibake, or refused as no legacy charset at all.
"""

from __future__ import annotations

from charset_normalizer import from_bytes
from charset_normalizer.md import mess_ratio

from commons.errors import HarvestError

#: The WHATWG Encoding Standard's legacy encodings, as Python codecs (windows-1252 first: the default).
LEGACY_CHARSETS = ("cp1252", "cp932", "euc_jp", "iso2022_jp", "gb18030", "big5", "euc_kr", "cp1251", "koi8_r",
                   "koi8_u", "cp1250", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258", "cp874",
                   "iso8859_2")

#: Mess ratio below which a windows-1252 reading is Western text (charset-normalizer's default limit is 0.2;
#: a windows-1251 page of three words read as windows-1252 measured 0.18, Western pages 0.0).
CLEAN_MESS = 0.1

#: A second charset whose reading differs and whose mess lies within this of the best one's makes the choice
#: a guess (a short Shift-JIS page: windows-1251 0.0, cp932 0.013; pages of a few sentences: 0.07 or more).
RIVAL_MARGIN = 0.05

#: Valid multi-byte UTF-8 characters per invalid sequence from which an undeclared page is UTF-8 with a few
#: broken bytes rather than a legacy charset (legacy CJK text: 0.15 to 0.35 per invalid one).
UTF8_MAJORITY = 10


class CharsetUndecided(HarvestError, ValueError):
    """A page declares no charset, is not UTF-8, and its bytes read as more than one legacy charset (or none);
    ``str(err)`` is its quarantine reason (``encoding_error: …``)."""


def undeclared_charset(body: bytes) -> str:
    """The charset (a Python codec name) to read ``body``, a page declaring none that is not UTF-8, in.

    Returns:
        ``"utf-8"`` for bytes that are UTF-8 but for a few broken sequences (:data:`UTF8_MAJORITY`), read
        then with U+FFFD in their place; else the legacy charset.

    Raises:
        CharsetUndecided: no legacy charset reads the bytes cleanly, or two read them differently about
            as cleanly.
    """
    if _mostly_utf8(body):
        return "utf-8"
    try:
        if mess_ratio(body.decode("cp1252"), CLEAN_MESS) < CLEAN_MESS:
            return "cp1252"
    except UnicodeDecodeError:
        pass  # bytes windows-1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D): Shift-JIS lead bytes among them
    matches = from_bytes(body, cp_isolation=list(LEGACY_CHARSETS))
    best = matches.best()
    if best is None:
        raise CharsetUndecided("encoding_error: no charset declared, and the bytes read as no legacy charset")
    reading = str(best)
    rival = next((m for m in matches if m.chaos - best.chaos < RIVAL_MARGIN and str(m) != reading), None)
    if rival is not None:
        raise CharsetUndecided(f"encoding_error: no charset declared, and the bytes read as {best.encoding} "
                               f"or {rival.encoding}")
    return best.encoding


def _mostly_utf8(body: bytes) -> bool:
    """Whether ``body`` holds at least :data:`UTF8_MAJORITY` valid multi-byte UTF-8 characters per invalid
    sequence (each invalid sequence reads as one U+FFFD)."""
    text = body.decode("utf-8", errors="replace")
    broken = text.count("\ufffd") - body.count("\ufffd".encode("utf-8"))
    valid = len(text) - len(text.encode("ascii", errors="ignore")) - text.count("\ufffd")
    return valid >= UTF8_MAJORITY * max(broken, 1)
