"""Operator feedback for the metrics detectors: per-series sensitivity and benign patterns."""
