"""Generic product-page extraction: any shop's page → a signal record, no per-shop rules.

Modules, one concept each: :mod:`.page` (``extract_product``, the entry point),
:mod:`.structured` (schema.org / OpenGraph), :mod:`.jsonld` (JSON-LD blocks, parsed one by one
and repaired leniently), :mod:`.candidates` (every price a page shows, with transferable
evidence), :mod:`.ranker` (the logistic model that picks the product's price; weights in
``price_ranker.json``), :mod:`.vocabulary` (class/id words in many languages), :mod:`.dom`
(title, availability and identifier fallbacks), :mod:`.price` (the project's price parser),
:mod:`.amounts` (which number of a price string is the price, and its sign),
:mod:`.currencies` (symbols → ISO-4217), :mod:`.hints` (page locale), :mod:`.emphasis` (large
and struck-through text), :mod:`.availability` (stock wording → enum).
"""
