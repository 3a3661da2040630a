"""``python -m edge_insights`` is ``edge-insights`` (used to start child processes with this
interpreter: crawls, pods)."""

from edge_insights.cli import app

app(prog_name="edge-insights")
