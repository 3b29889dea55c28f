"""Failure prediction: will this service have an incident within the next H seconds? Pure.

Per service, an online River classifier (standardised features, logistic regression) learns
from incident history. Features are taken at regular times; a feature vector's label is only
known H seconds later (was an incident opened in between?), so vectors wait in a delay buffer
and are learnt once their window has passed. Raw classifier scores are calibrated online by
binning: each score bin keeps how often its vectors were followed by an incident.

Until a service's model has seen enough incidents and quiet windows to speak, the predictor
falls back on the resource-exhaustion probability, which needs no history.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from river import compose, linear_model, optim, preprocessing

FEATURES = (
    "anomaly_score",  # highest score among the service's firing anomalies (0: none)
    "firing",  # how many of its series are anomalous (log1p)
    "error_ratio",  # latest error ratio, when the service reports one
    "saturation",  # highest resource level as a fraction of its limit
    "exhaustion",  # highest probability of a resource reaching its limit within the horizon
    "urgency",  # horizon / time to the nearest limit, capped at 4 (0: no limit in sight)
)


@dataclass(frozen=True)
class FailurePolicy:
    """Label window, learning pace and when the model is trusted."""

    horizon_s: float = 3600.0  # label: an incident opened within this long after the features
    min_positive: int = 20  # learnt vectors followed by an incident before the model speaks
    min_negative: int = 200
    bins: int = 10
    learning_rate: float = 0.05
    max_pending: int = 10_000  # delay buffer bound per service (oldest dropped)


class BinningCalibrator:
    """Maps raw scores to observed frequencies, per score decile, shrunk toward the raw score.

    Examples
    --------
    >>> c = BinningCalibrator(bins=10)
    >>> for _ in range(100):
    ...     c.learn_one(0.95, False)
    >>> c.predict(0.95) < 0.1
    True
    """

    def __init__(self, bins: int = 10, prior: float = 2.0) -> None:
        self.bins = bins
        self.prior = prior  # pseudo-observations at the raw score
        self.positive = [0] * bins
        self.total = [0] * bins

    def _bin(self, score: float) -> int:
        return min(int(max(score, 0.0) * self.bins), self.bins - 1)

    def learn_one(self, score: float, label: bool) -> None:
        b = self._bin(score)
        self.total[b] += 1
        self.positive[b] += int(label)

    def predict(self, score: float) -> float:
        b = self._bin(score)
        return (self.positive[b] + self.prior * score) / (self.total[b] + self.prior)


@dataclass
class _Pending:
    at: float
    x: dict[str, float]
    raw: float


@dataclass
class ServiceFailureModel:
    """The classifier, calibrator and delay buffer of one service."""

    policy: FailurePolicy = field(default_factory=FailurePolicy)
    pending: deque[_Pending] = field(default_factory=deque)
    incidents: deque[float] = field(default_factory=deque)  # opening times not yet consumed
    positives: int = 0
    negatives: int = 0

    def __post_init__(self) -> None:
        self.model = compose.Pipeline(
            preprocessing.StandardScaler(),
            linear_model.LogisticRegression(optim.SGD(self.policy.learning_rate)),
        )
        self.calibrator = BinningCalibrator(self.policy.bins)

    @property
    def trained(self) -> bool:
        """Whether the model has seen enough of both outcomes to be trusted."""
        p = self.policy
        return self.positives >= p.min_positive and self.negatives >= p.min_negative

    def raw_score(self, x: dict[str, float]) -> float:
        return float(self.model.predict_proba_one(x).get(True, 0.0))

    def observe(self, at: float, x: dict[str, float]) -> float:
        """Queue a feature vector for labelling; the calibrated probability of an incident."""
        raw = self.raw_score(x)
        self.pending.append(_Pending(at, x, raw))
        while len(self.pending) > self.policy.max_pending:
            self.pending.popleft()
        return self.calibrator.predict(raw)

    def incident_opened(self, at: float) -> None:
        """Record an incident of this service (labels the vectors of the H before it)."""
        self.incidents.append(at)

    def settle(self, now: float) -> int:
        """Learn every pending vector whose window has closed by `now`; how many were learnt."""
        horizon = self.policy.horizon_s
        learnt = 0
        while self.pending and self.pending[0].at + horizon <= now:
            item = self.pending.popleft()
            while self.incidents and self.incidents[0] <= item.at:
                self.incidents.popleft()  # before every remaining vector: no longer needed
            label = any(item.at < t <= item.at + horizon for t in self.incidents)
            self.model.learn_one(item.x, label)
            self.calibrator.learn_one(item.raw, label)
            self.positives += int(label)
            self.negatives += int(not label)
            learnt += 1
        return learnt


def features(
    *,
    anomaly_score: float,
    firing: int,
    error_ratio: float,
    saturation: float,
    exhaustion: float,
    seconds_to_limit: float | None,
    horizon_s: float,
) -> dict[str, float]:
    """The classifier's feature vector (see FEATURES)."""
    urgency = 0.0 if seconds_to_limit is None else min(horizon_s / max(seconds_to_limit, 1.0), 4)
    return {
        "anomaly_score": anomaly_score,
        "firing": math.log1p(firing),
        "error_ratio": error_ratio,
        "saturation": min(saturation, 2.0),
        "exhaustion": exhaustion,
        "urgency": urgency,
    }
