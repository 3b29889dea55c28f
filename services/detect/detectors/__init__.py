"""Pure, I/O-free anomaly detectors: one point in, a score and an explanation out."""

from services.detect.detectors.base import Assessment, SeriesDetector
from services.detect.detectors.robust import RobustZScore

__all__ = ["Assessment", "RobustZScore", "SeriesDetector"]
