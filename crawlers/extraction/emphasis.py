"""How a page styles its text: which elements it renders large, and which it strikes through.

Shops without price markup or price classes still make the price to pay the most visible figure
of the buy box (a large red number) and strike through the price it replaces. Both are read from
the HTML alone, no rendering:

* **large**: a computed ``font-size`` of at least :data:`LARGE_FONT_PX`, declared in the element's
  ``style`` attribute (``font-size`` or the ``font`` shorthand, CSS 2.1 §15.8), in a rule of the
  page's own ``<style>`` blocks whose selector matches the element (cssselect, as used by
  parsel), or by a presentational ``<font size>`` of 5 and up (HTML 4.01 §15.2.1: sizes 1–7, 3
  the default; browsers render 5 as ``x-large``). The cascade (specificity, inheritance,
  external stylesheets) is not computed: a rule that sets a large size is enough.
* **struck**: inside ``<del>``, ``<s>`` or ``<strike>`` (HTML: content that is no longer
  accurate), or styled ``text-decoration: line-through``.
"""

from __future__ import annotations

import re
from typing import Any

from cssselect import SelectorError
from parsel import Selector

# 20px: above body text (16px, CSS ``medium``) and the ``large`` keyword (18px), below the
# ``x-large`` keyword (24px) that headline prices use. A judgment call checked on the benchmark.
LARGE_FONT_PX = 20.0
# CSS absolute-size keywords (CSS Fonts 3 §3.5, the 1.2 scale from 16px ``medium``).
_KEYWORD_PX = {"x-large": 24.0, "xx-large": 32.0, "xxx-large": 48.0}
# px per unit; em/rem relative to the 16px default.
_UNIT_PX = {"px": 1.0, "pt": 4 / 3, "em": 16.0, "rem": 16.0}
_FONT_DECL = re.compile(r"font(?:-size)?\s*:([^;}]*)", re.I)
_SIZE = re.compile(r"(?<![\w.-])(\d+(?:\.\d+)?)(px|pt|r?em)\b|\b(xx?x?-large)\b", re.I)
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_LINE_THROUGH = re.compile(r"text-decoration[^;]*line-through", re.I)
_STRUCK_TAGS = ("del", "s", "strike")
# Selectors parsel cannot match on a static page (pseudo-classes such as :hover, ::before).
_DYNAMIC = re.compile(r":")


def font_px(declarations: str) -> float | None:
    """The largest font size a CSS declaration block sets, in px.

    Args:
        declarations: ``"font:bold 27px Verdana;color:red"``, ``"font-size: 1.5em"``.

    Returns:
        Size in px (pt, em and rem converted at 16px per em; keywords per CSS Fonts 3), or None
        when the block sets no font size (percentages and ``larger`` are relative: None).
    """
    sizes = []
    for value in _FONT_DECL.findall(declarations or ""):
        for number, unit, keyword in _SIZE.findall(value):
            sizes.append(_KEYWORD_PX[keyword.lower()] if keyword
                         else float(number) * _UNIT_PX[unit.lower()])
    return max(sizes) if sizes else None


def large_elements(sel: Selector) -> set[Any]:
    """The lxml elements (``Selector.root``) the page renders in a large font.

    Args:
        sel: the parsed page.

    Returns:
        Elements with a large inline ``style``, matched by a ``<style>`` rule setting a large
        size, or a ``<font size>`` of 5 and up. lxml keeps one proxy per node while it is
        referenced, so ``other_selector.root in result`` tests the same node.
    """
    found = {el.root for el in sel.xpath("//body//*[@style]")
             if (font_px(el.attrib["style"]) or 0) >= LARGE_FONT_PX}
    found.update(el.root for el in sel.xpath("//font[@size]") if _font_tag_large(el))
    for selector in _large_rules(" ".join(sel.xpath("//style/text()").getall())):
        try:
            found.update(el.root for el in sel.css(selector))
        except (SelectorError, ValueError):  # selectors cssselect does not support
            continue
    return found


def is_struck(el: Selector | Any) -> bool:
    """True when ``el`` (a Selector or an lxml element) shows a replaced price: inside
    ``<del>``/``<s>``/``<strike>`` or styled line-through (itself or an ancestor)."""
    root = el.root if isinstance(el, Selector) else el
    for node in [root, *root.iterancestors()]:
        if node.tag in _STRUCK_TAGS or _LINE_THROUGH.search(node.get("style") or ""):
            return True
    return False


def _large_rules(css: str) -> list[str]:
    """Selectors of the rules in ``css`` that set a large font, static ones only."""
    selectors = []
    for selector_text, declarations in _RULE.findall(_COMMENT.sub("", css)):
        if (font_px(declarations) or 0) < LARGE_FONT_PX:
            continue
        selectors += [s.strip() for s in selector_text.split(",")
                      if s.strip() and not s.strip().startswith("@") and not _DYNAMIC.search(s)]
    return selectors


def _font_tag_large(el: Selector) -> bool:
    size = (el.attrib.get("size") or "").strip()
    if size.startswith("+"):
        return size[1:].isdigit() and 3 + int(size[1:]) >= 5
    return size.isdigit() and int(size) >= 5
