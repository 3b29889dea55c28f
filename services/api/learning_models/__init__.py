"""Model management: per-series model records, detector versions, shadow runs (docs/learning.md)."""
