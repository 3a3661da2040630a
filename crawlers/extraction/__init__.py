"""Generic product-page extraction: any shop's page → a signal record, no per-shop rules.

Modules, one concept each: :mod:`.page` (``extract_product``, the entry point),
:mod:`.structured` (schema.org / OpenGraph via extruct), :mod:`.dom` (fallbacks for pages
without markup), :mod:`.price` (the project's price parser), :mod:`.currencies` (symbols →
ISO-4217), :mod:`.hints` (page locale), :mod:`.emphasis` (large and struck-through text),
:mod:`.availability` (stock wording → enum).
"""
