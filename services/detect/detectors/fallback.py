"""Keep a series scored when its model breaks: fall back to the robust z-score and count it."""

from __future__ import annotations

import math

from services.detect.detectors.base import Assessment, SeriesDetector
from services.detect.detectors.robust import RobustZScore


class FallbackDetector:
    """Runs `primary`; if it raises or returns a non-finite score, switches to `RobustZScore`.

    The switch is permanent for this series (a model that failed once is not trusted again
    until the series is recreated) and is counted in `failures`, with the last error kept in
    `last_error` for the worker's logs and metrics. The robust z-score learns alongside the
    primary model, so it is warm when it takes over.

    Examples
    --------
    >>> class Broken:
    ...     name = "broken"
    ...     def assess(self, timestamp, value):
    ...         raise ValueError("boom")
    >>> d = FallbackDetector(Broken())
    >>> d.assess(0.0, 1.0).component, d.failures, d.last_error
    ('robust_zscore', 1, "ValueError('boom')")
    """

    __slots__ = ("failures", "fallback", "last_error", "name", "primary")

    def __init__(self, primary: SeriesDetector) -> None:
        self.primary: SeriesDetector | None = primary
        self.fallback = RobustZScore()
        self.failures = 0
        self.last_error = ""
        self.name = primary.name

    @property
    def failed(self) -> bool:
        """True once this series runs on the fallback."""
        return self.primary is None

    def assess(self, timestamp: float, value: float) -> Assessment:
        """Score with the primary model, or with the fallback once the primary has failed."""
        primary = self.primary
        if primary is not None:
            try:
                verdict = primary.assess(timestamp, value)
                if not math.isfinite(verdict.score):
                    raise FloatingPointError(f"non-finite score {verdict.score!r}")
            except Exception as exc:  # noqa: BLE001 - any model fault must not stop the stream
                self.failures += 1
                self.last_error = repr(exc)
                self.primary = None  # free the broken model's memory
                self.name = self.fallback.name
            else:
                if math.isfinite(value):
                    self.fallback.assess(timestamp, value)  # keep the fallback warm
                return verdict
        if not math.isfinite(value):  # a missing value would poison the fallback's state
            return Assessment(
                0.0,
                self.fallback.mean,
                self.fallback.mean,
                self.fallback.mean,
                self.fallback.name,
                warm=False,
            )
        return self.fallback.assess(timestamp, value)
