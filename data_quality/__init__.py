"""Data-quality room: PII scrubbing, feature contracts, GX suites and quarantine."""
