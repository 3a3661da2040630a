"""Words product pages use in class/id names and beside prices, in the shop languages we meet.

Shared by the DOM readers (:mod:`.dom`, :mod:`.candidates`). Every entry is a word of a language
or of web design practice ("carousel", "sr-only"), never a shop's own name or markup.
"""

from __future__ import annotations

import re

# Class/id words that mark a price element.
PRICE_ATTR = re.compile(r"price|preis|prix|prezzo|precio|preco|preço|cena|цена|cost|amount|"
                        r"betrag|kaina|hinta|pret|fiyat|價|价|מחיר|سعر|harga", re.I)
# ... and words that mark a price that is not the one to pay now.
NOT_PRICE_ATTR = re.compile(r"old|was|strike|regular|full-?price|list-?price|list_price|before|"
                            r"compare|orig|crossed|save|saving|discount|unit|per-|shipping|"
                            r"delivery|range|slider|filter|"
                            r"label|alert|tax|vat|instal|month|rrp|uvp|msrp|saved|econom", re.I)
# ... and words that mark the price to pay now.
# ("now" only beside "price": "text-nowrap" is a layout class.)
CURRENT_ATTR = re.compile(r"sale|special|current|final|actual|promo|offer|deal|selling|"
                          r"our-?price|reduced|price-?now|now-?price|new-?price|aktuell|akcij|"
                          r"akce|sconto|oferta", re.I)
# Sections that show other products (carousels, recommendations) or page chrome, and elements
# hidden until a script shows them: their prices and stock labels are not the product's.
# A token negated by "no-" ("no-slider") says the opposite.
ELSEWHERE_ATTR = re.compile(r"(?<!no[-_])(?:related|recommend|similar|carousel|swiper|slider|"
                            r"last-?viewed|recently|upsell|cross-?sell|also-?bought|teaser|"
                            r"navbar|menu|modal|"
                            r"popup|tooltip|cookie|newsletter|"
                            # the page's own header and footer, not a component's
                            # ("accordion-header", "detail-header" hold the product's price)
                            r"(?:^|\s)(?:(?:site|page|global|main|top)[-_]?)?(?:header|footer))",
                            re.I)
# Sections that sell something beside the product: add-ons, accessories, bundles, warranties.
ACCESSORY_ATTR = re.compile(r"add-?on|accessor|bundle|warrant|insurance|protection|upgrade|"
                            r"extra|option|gift|service|zubeh|accessoire|accesorio|garanti",
                            re.I)
HIDDEN_ATTR = re.compile(r"(?:^|[\s_-])(?:hidden|hide|d-none|invisible|sr-only)(?:$|[\s_-])",
                         re.I)
STOCK_ATTR = re.compile(r"avail|stock|inventory|lager|dispon|sklad|nalich|наличи|vorrat", re.I)
CART = re.compile(r"cart|basket|bag|warenkorb|panier|carrello|carrito|carrinho|koszyk|корзин|"
                  r"košík|kosár|sepet|ostukorv|coş|coș|購物車|购物车|カート|장바구니|buy|kaufen|"
                  r"acheter|comprar|купить|לסל|סל קניות|السلة", re.I)
# Words around a price paid in parts ("$29/mo", "4 x $12.25", "12x de R$ 10", "3 cuotas",
# "per month", "每期 $98"). A count is an instalment only with an amount right after its "x"
# ("2 x 150 ml" is a pack).
INSTALMENT = re.compile(r"/\s*(?:mo|mes|mois|monat|mese|m[eě]s)\b|per\s+month|a\s+month|monthly|"
                        r"\b\d{1,2}\s*x\s*(?:de\s+)?(?:[A-Z]{0,3}[^\w\s]{1,2}\s?\d|\d+[.,]\d\d\b)|"
                        r"cuotas|parcelas|"
                        r"installments?|instalments?|ratenzahlung|\bmensual|mensile|par\s+mois|"
                        r"al\s+mes|в\s+месяц|分期|每期|月付", re.I)
