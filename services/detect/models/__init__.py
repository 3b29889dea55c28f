"""Model management for the metrics detectors: versions, the live/shadow config, comparison."""
