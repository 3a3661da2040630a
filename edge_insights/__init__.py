"""Edge Insights: harvested market signals → distilled micro-models → decisions at the edge."""

__version__ = "0.1.0"
