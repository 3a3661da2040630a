"""Availability → the record's enum (``in_stock`` | ``out_of_stock`` | ``preorder`` | ``unknown``).

Two readers: :func:`from_schema` for structured values (schema.org ``ItemAvailability``
members, OpenGraph ``product:availability`` words) and :func:`from_text` for what a shop shows
next to its buy button, in the languages of the shops we meet.
"""

from __future__ import annotations

import re

# schema.org/ItemAvailability members (https://schema.org/ItemAvailability), lower-cased, and
# the OpenGraph product:availability words (https://developers.facebook.com/docs/marketing-api/
# catalog/reference: "in stock", "out of stock", "preorder", "available for order",
# "discontinued").
SCHEMA_AVAILABILITY: dict[str, str] = {
    "instock": "in_stock", "limitedavailability": "in_stock", "instoreonly": "in_stock",
    "onlineonly": "in_stock", "availablefororder": "in_stock", "madetoorder": "in_stock",
    "in_stock": "in_stock", "available": "in_stock",
    "outofstock": "out_of_stock", "soldout": "out_of_stock", "discontinued": "out_of_stock",
    "out_of_stock": "out_of_stock", "sold_out": "out_of_stock",
    "preorder": "preorder", "presale": "preorder", "backorder": "preorder", "pre_order": "preorder",
}

# Phrases a shop prints when an item cannot be bought now. Matched on lower-cased, whitespace-
# collapsed text, on word boundaries (CJK phrases as substrings).
OUT_OF_STOCK_PHRASES = (
    "out of stock", "sold out", "currently unavailable", "no longer available", "not available",
    "not in stock", "available soon", "coming soon", "back soon",
    "temporarily unavailable", "product unavailable", "item unavailable",
    "notify me when available", "email when available", "when back in stock", "back in stock soon",
    "sem estoque", "plus disponible", "no hay stock",
    "ausverkauft", "nicht verfügbar", "nicht lieferbar", "nicht vorrätig", "vergriffen",
    "derzeit nicht verfügbar", "rupture de stock", "épuisé", "indisponible", "momentanément",
    "agotado", "sin stock", "no disponible", "sin existencias", "esaurito", "non disponibile",
    "esgotado", "indisponível", "sem stock", "uitverkocht", "niet op voorraad", "niet leverbaar",
    "niedostępny", "brak w magazynie", "wyprzedany", "brak towaru", "нет в наличии",
    "распродано", "нет на складе", "немає в наявності", "vypredané", "nie je skladom",
    "není skladem", "vyprodáno", "ni na zalogi", "razprodano", "laost otsas", "otsas",
    "stoc epuizat", "indisponibil", "stokta yok", "tükendi", "slutsåld", "ej i lager",
    "udsolgt", "ikke på lager", "utsolgt", "loppu", "ei varastossa", "nincs készleten",
    "elfogyott", "εξαντλήθηκε", "在庫切れ", "在庫なし", "売り切れ", "品切れ", "缺貨", "缺货", "售完",
    "已售完", "已售罄", "품절", "일시품절", "재고 없음", "نفدت الكمية", "غير متوفر", "אזל מהמלאי",
)
IN_STOCK_PHRASES = (
    "in stock", "add to cart", "add to basket", "add to bag", "buy now", "available",
    "auf lager", "lieferbar", "vorrätig", "in den warenkorb", "sofort lieferbar", "en stock",
    "ajouter au panier", "disponible", "in magazzino", "aggiungi al carrello", "disponibile",
    "añadir al carrito", "comprar", "em stock", "em estoque", "disponível", "adicionar ao carrinho",
    "op voorraad", "verfügbar",
    "in winkelwagen", "na stanie", "dostępny", "do koszyka", "в наличии", "в корзину",
    "купить", "skladom", "skladem", "do košíka", "do košíku", "na zalogi", "v košarico",
    "laos", "ostukorvi", "în stoc", "adaugă în coş", "adauga in cos", "stokta", "sepete ekle",
    "i lager", "køb", "varastossa", "raktáron", "kosárba", "在庫あり", "カートに入れる",
    "有現貨", "加入購物車", "加入购物车", "立即購買", "立即购买", "장바구니", "구매하기", "재고 있음",
    "أضف إلى السلة", "متوفر", "הוסף לסל",
)
# Negations that turn an in-stock phrase around when they stand right before it, or one auxiliary
# word before it ("Nicht auf Lager", "Non disponible", "Не в наличии", "Zero in stock", "not
# currently available", "no está disponible"). The auxiliaries are a closed list: with any word
# between, "No reviews available" would read as out of stock.
NEGATIONS = ("not", "no", "zero", "none", "nicht", "kein", "keine", "non", "pas", "sin", "não", "nao",
             "niet", "geen", "nie", "не", "нет", "ni", "nu", "ikke", "ej", "inte", "ei", "nem", "δεν")
AUXILIARIES = ("currently", "yet", "now", "is", "are", "mehr", "derzeit", "momentan", "está", "esta",
               "è", "est", "jest", "je", "er", "är", "momentaneamente", "actualmente", "actuellement")
PREORDER_PHRASES = ("pre-order", "preorder", "pre order", "vorbestellen", "vorbestellung",
                    "précommande", "pré-commande", "preventa", "reserva ya", "prenota",
                    "pré-venda", "voorbestellen", "przedsprzedaż", "предзаказ", "予約",
                    "预售", "預購", "예약")


def from_schema(value: object) -> str:
    """Map a structured availability value to the enum.

    Args:
        value: ``"http://schema.org/InStock"``, ``"https://schema.org/OutOfStock"``,
            ``"schema:InStock"``, ``"InStock"``, ``"instock"``, ``"in stock"``, ``"oos"`` …;
            any case, with or without the vocabulary prefix; lists use their first item.

    Returns:
        ``in_stock`` | ``out_of_stock`` | ``preorder``, or ``unknown`` for anything unrecognised.
    """
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("@id") or value.get("name")
    if not isinstance(value, str):
        return "unknown"
    # The member's name without its vocabulary ("http://schema.org/", "schema:"), any case.
    key = value.strip().rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].lower()
    if key == "oos":
        return "out_of_stock"
    return SCHEMA_AVAILABILITY.get(key.replace(" ", ""),
                                   SCHEMA_AVAILABILITY.get(key.replace(" ", "_"), "unknown"))


def from_text(text: str | None) -> str:
    """Map a shop's availability wording to the enum, out-of-stock cues first.

    Args:
        text: text near the buy control (any language listed above); case and spacing ignored.

    Returns:
        ``out_of_stock`` if an out-of-stock phrase occurs, else ``preorder`` for a pre-order
        phrase, else ``in_stock`` for an in-stock or buy phrase, else ``unknown``.
        A negated phrase ("not available", or an in-stock phrase after one of :data:`NEGATIONS`:
        "Nicht auf Lager") is checked before its positive part ("available").
    """
    phrase = " ".join((text or "").lower().split())
    if not phrase:
        return "unknown"
    if _OUT_OF_STOCK.search(phrase) or _NEGATED_IN_STOCK.search(phrase):
        return "out_of_stock"
    if _PREORDER.search(phrase):
        return "preorder"
    if _IN_STOCK.search(phrase):
        return "in_stock"
    return "unknown"


def _is_cjk(text: str) -> bool:
    return any("\u3040" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" for ch in text)


def _compile(phrases: tuple[str, ...]) -> re.Pattern[str]:
    # Word boundaries keep "laos" out of "Nicolaos"; CJK text has no spaces, so those phrases
    # match as plain substrings.
    return re.compile("|".join(re.escape(p) if _is_cjk(p) else rf"(?<!\w){re.escape(p)}(?!\w)"
                               for p in phrases))


_OUT_OF_STOCK = _compile(OUT_OF_STOCK_PHRASES)
_IN_STOCK = _compile(IN_STOCK_PHRASES)
_PREORDER = _compile(PREORDER_PHRASES)
_NEGATED_IN_STOCK = re.compile(
    rf"(?<!\w)(?:{'|'.join(map(re.escape, NEGATIONS))})\s+(?:(?:{'|'.join(map(re.escape, AUXILIARIES))})\s+)?"
    rf"(?:{'|'.join(re.escape(p) for p in IN_STOCK_PHRASES if not _is_cjk(p))})(?!\w)")
