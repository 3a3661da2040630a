"""Composition root: the Dagster asset graph that chains every room (DESIGN.md data flow)."""
