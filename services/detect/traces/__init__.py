"""Trace anomaly detection: latency quantiles, error rates, traffic, dependency graph (pure)."""

from services.detect.traces.graph import DependencyGraph, Edge
from services.detect.traces.monitor import TracesMonitor
from services.detect.traces.sketch import QuantileSketch
from services.detect.traces.stats import TracePolicy

__all__ = ["DependencyGraph", "Edge", "QuantileSketch", "TracePolicy", "TracesMonitor"]
