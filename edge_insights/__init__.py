"""Edge Insights' top layer: the ``edge-insights`` command line and the demo driver."""
