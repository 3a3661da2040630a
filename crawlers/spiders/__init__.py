"""Spiders: one per crawl strategy."""
