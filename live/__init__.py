"""The hot path's harvest loop: watch product pages, capture changes, decide, publish insights.

Beside the Dagster cold path (training, promotion, backfills): a long-running watcher revisits
product URLs under a request budget (:mod:`live.revisit`), turns each observed change into
decision requests to the deployed pods, and publishes every answer as an insight
(:mod:`live.store`, :mod:`live.feed`). See ``docs/ARCHITECTURE.md`` ("The live loop").
"""
