"""Harvest room: Scrapy spiders, the signal record, normalisation pipelines and feed intake."""
