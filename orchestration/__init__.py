"""Composition root: the Dagster asset graph that chains every room (docs/ARCHITECTURE.md, "The cold path")."""
