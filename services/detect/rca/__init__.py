"""Root-cause ranking: which anomalous service explains the others (pure domain)."""

from services.detect.rca.ranker import Cause, Symptom, rank

__all__ = ["Cause", "Symptom", "rank"]
