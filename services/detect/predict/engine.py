"""The learning loop's streaming half: load forecasts, exhaustion and failure predictions. Pure.

`Intelligence` takes metric points, anomalies and incident changes, and returns the
`Prediction` events they cause:

- `load_forecast`: per service, each time a bucket of its load metric closes, the forecast of
  the next buckets (`services.detect.forecast.seasonal`);
- `exhaustion`: per resource series with a known limit, the time until it reaches the limit
  (published when the limit is within a few horizons);
- `failure`: per service, every `evaluate_every_s` of its metrics' time, the probability of
  an incident within the horizon, with `status` "firing" when it crosses the threshold and
  "resolved" when it falls back well below (the api opens and resolves "predicted" incidents
  on those transitions).

It also keeps the latest value of each, for the Prometheus gauges. Memory is bounded: at most
`max_services` services and `max_resources` resource series (least recently seen evicted).
"""

from __future__ import annotations

import math
import pickle
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from services.core.events import (
    Anomaly,
    IncidentEvent,
    MetricPoint,
    Prediction,
    stable_id,
)
from services.detect.forecast.seasonal import ForecastPolicy, SeasonalForecaster
from services.detect.predict.exhaustion import Exhaustion, ExhaustionForecaster, ExhaustionPolicy
from services.detect.predict.failure import FailurePolicy, ServiceFailureModel, features


@dataclass(frozen=True)
class IntelligencePolicy:
    """What is forecast and predicted, and when a prediction becomes an alert."""

    load_metric: str = "http_requests_per_second"
    forecast: ForecastPolicy = field(default_factory=ForecastPolicy)
    forecast_buckets: int = 3  # how many buckets ahead each load forecast covers
    # Resource metric -> its limit: the name of a metric with the same labels, or a constant.
    limits: dict[str, str | float] = field(
        default_factory=lambda: {
            "memory_bytes": "memory_limit_bytes",
            "disk_used_bytes": "disk_limit_bytes",
        }
    )
    error_metric: str = "http_error_ratio"
    exhaustion: ExhaustionPolicy = field(default_factory=ExhaustionPolicy)
    failure: FailurePolicy = field(default_factory=FailurePolicy)
    evaluate_every_s: float = 60.0
    threshold: float = 0.8  # failure probability that opens a predicted incident
    resolve_below: float = 0.5  # ... and under which it is resolved again (hysteresis)
    # ... once it stayed above for this long: a step (a batch job starting) looks like a
    # steep climb for a few minutes; a leak keeps climbing.
    sustain_s: float = 600.0
    publish_change: float = 0.05  # a failure prediction is published when it moved this much
    publish_every_s: float = 900.0  # ... or this long after the last one
    max_services: int = 1_000
    max_resources: int = 10_000


CHECKPOINT_VERSION = 1  # bump when a checkpointed class changes shape: old ones are refused
CHECKPOINT_EVERY = 20  # points of a resource series between checkpoints


@dataclass
class _Resource:
    tenant: str
    service: str
    metric: str
    forecaster: ExhaustionForecaster
    limit: float | None = None
    last: Exhaustion | None = None
    published_at: float = -math.inf
    points: int = 0


@dataclass
class ServiceView:
    """What is known of one service right now (also what the gauges show)."""

    tenant: str
    service: str
    model: ServiceFailureModel
    forecaster: SeasonalForecaster | None = None
    forecast: list[float] = field(default_factory=list)
    firing: dict[str, float] = field(default_factory=dict)  # series -> score
    resources: set[str] = field(default_factory=set)  # keys of its resource series
    error_ratio: float = 0.0
    probability: float = 0.0
    learnt: float | None = None  # the classifier's calibrated probability, once trained
    alerting: bool = False
    above_since: float | None = None  # since when the probability is at or above threshold
    published_probability: float = 0.0
    published_at: float = -math.inf
    evaluated_at: float = -math.inf


class Intelligence:
    """Forecasters and failure models for many services."""

    def __init__(self, policy: IntelligencePolicy | None = None) -> None:
        self.policy = policy or IntelligencePolicy()
        self.services: OrderedDict[tuple[str, str], ServiceView] = OrderedDict()
        self.resources: OrderedDict[str, _Resource] = OrderedDict()
        self.limit_metrics = {v: k for k, v in self.policy.limits.items() if isinstance(v, str)}
        self.published = 0
        # True when the last point changed state worth a checkpoint (a load bucket closed, or
        # CHECKPOINT_EVERY points of a resource series): see `snapshot`.
        self.checkpoint_due = False

    # -- inputs ------------------------------------------------------------------------------

    def observe_point(self, point: MetricPoint) -> list[Prediction]:
        """Learn one metric point; the predictions it causes."""
        t = point.timestamp.timestamp()
        view = self._view(point.tenant, point.service)
        out: list[Prediction] = []
        self.checkpoint_due = False
        if point.name == self.policy.load_metric:
            out += self._learn_load(view, point, t)
            self.checkpoint_due = bool(out)
        elif point.name == self.policy.error_metric:
            view.error_ratio = point.value
        elif point.name in self.policy.limits:
            out += self._learn_resource(view, point, t)
        elif point.name in self.limit_metrics:
            self._learn_limit(point)
        if t - view.evaluated_at >= self.policy.evaluate_every_s:
            out += self._evaluate(view, t)
        self.published += len(out)
        return out

    def observe_anomaly(self, anomaly: Anomaly) -> None:
        """Track which series of a service are anomalous, and how strongly."""
        view = self._view(anomaly.tenant, anomaly.service)
        if anomaly.status == "firing":
            view.firing[anomaly.series] = anomaly.score
            while len(view.firing) > 1_000:
                view.firing.pop(next(iter(view.firing)))
        else:
            view.firing.pop(anomaly.series, None)

    def observe_incident(self, event: IncidentEvent) -> None:
        """Learn from incident history: an incident opened labels the features before it."""
        if event.type not in ("opened", "reopened") or event.kind == "predicted":
            return  # a predicted incident is our own output, not ground truth
        for service in {event.service, *event.services}:
            self._view(event.tenant, service).model.incident_opened(event.opened_at.timestamp())

    # -- load --------------------------------------------------------------------------------

    def _learn_load(self, view: ServiceView, point: MetricPoint, t: float) -> list[Prediction]:
        if view.forecaster is None:
            view.forecaster = SeasonalForecaster(self.policy.forecast)
        if not view.forecaster.learn_one(t, point.value):
            return []
        view.forecast = view.forecaster.forecast(self.policy.forecast_buckets)
        step = self.policy.forecast.step_s
        bucket = view.forecaster.bucket or 0
        return [
            Prediction(
                id=stable_id("forecast", view.tenant, point.series, bucket),
                service=view.service,
                kind="load_forecast",
                probability=0.0,
                timestamp=point.timestamp,
                tenant=view.tenant,
                series=point.series,
                value=max(view.forecast),
                detail={
                    "metric": point.name,
                    "step_s": step,
                    "starts_at": bucket * step,
                    "forecast": [round(v, 6) for v in view.forecast],
                    "warm": view.forecaster.warm,
                },
            )
        ]

    # -- resources ---------------------------------------------------------------------------

    def _resource(self, view: ServiceView, point: MetricPoint) -> _Resource:
        key = f"{point.tenant}/{point.series}"
        resource = self.resources.get(key)
        if resource is None:
            forecaster = ExhaustionForecaster(self.policy.exhaustion)
            resource = self.resources[key] = _Resource(
                view.tenant, view.service, point.name, forecaster
            )
            while len(self.resources) > self.policy.max_resources:
                self.resources.popitem(last=False)
        else:
            self.resources.move_to_end(key)
        view.resources.add(key)
        return resource

    def _learn_resource(self, view: ServiceView, point: MetricPoint, t: float) -> list[Prediction]:
        resource = self._resource(view, point)
        limit = self.policy.limits[point.name]
        if not isinstance(limit, str):
            resource.limit = float(limit)
        resource.forecaster.learn_one(t, point.value)
        resource.points += 1
        self.checkpoint_due = resource.points % CHECKPOINT_EVERY == 0
        if resource.limit is None:
            return []
        resource.last = resource.forecaster.forecast(resource.limit)
        last = resource.last
        horizon = self.policy.exhaustion.horizon_s
        if last is None or last.seconds_to_limit is None:
            return []
        if last.seconds_to_limit > 4 * horizon or t - resource.published_at < horizon / 12:
            return []
        resource.published_at = t
        return [
            Prediction(
                id=stable_id("exhaustion", point.tenant, point.series, int(t)),
                service=view.service,
                kind="exhaustion",
                probability=round(last.probability, 6),
                lead_time_s=round(last.seconds_to_limit, 3),
                timestamp=point.timestamp,
                tenant=point.tenant,
                series=point.series,
                value=last.level,
                detail={
                    "resource": point.name,
                    "limit": last.limit,
                    "saturation": round(last.saturation, 6),
                    "slope_per_s": last.slope_per_s,
                    "horizon_s": horizon,
                },
            )
        ]

    def _learn_limit(self, point: MetricPoint) -> None:
        """A limit sample applies to the resource series with the same labels."""
        if point.value <= 0:
            return
        view = self._view(point.tenant, point.service)
        metric = self.limit_metrics[point.name]
        twin = point.model_copy(update={"name": metric})
        self._resource(view, twin).limit = point.value

    # -- failure -----------------------------------------------------------------------------

    def _evaluate(self, view: ServiceView, t: float) -> list[Prediction]:
        view.evaluated_at = t
        policy = self.policy
        view.model.settle(t)
        view.resources &= self.resources.keys()  # forget evicted ones
        mine = [r for k in view.resources if (r := self.resources[k]).last is not None]
        worst = max(mine, key=lambda r: r.last.probability if r.last else 0.0, default=None)
        nearest = min(
            (r.last.seconds_to_limit for r in mine if r.last and r.last.seconds_to_limit),
            default=None,
        )
        exhaustion = worst.last.probability if worst and worst.last else 0.0
        x = features(
            anomaly_score=max(view.firing.values(), default=0.0),
            firing=len(view.firing),
            error_ratio=view.error_ratio,
            saturation=max((r.last.saturation for r in mine if r.last), default=0.0),
            exhaustion=exhaustion,
            seconds_to_limit=nearest,
            horizon_s=policy.failure.horizon_s,
        )
        learnt = view.model.observe(t, x)
        trained = view.model.trained
        view.learnt = learnt if trained else None
        # Alerts follow the resource trend: letting the classifier raise them too cost
        # precision on the slow-burn benchmark (docs/learning.md); it is published beside.
        probability = exhaustion
        view.probability = probability
        status: Literal["firing", "resolved"] | None = None
        if probability < policy.threshold:
            view.above_since = None
        elif view.above_since is None:
            view.above_since = t
        sustained = view.above_since is not None and t - view.above_since >= policy.sustain_s
        if not view.alerting and sustained:
            view.alerting, status = True, "firing"
        elif view.alerting and probability < policy.resolve_below:
            view.alerting, status = False, "resolved"
        # Published on alert transitions, on a change of at least `publish_change`, and at
        # least every `publish_every_s` while there is something to say (the gauges always
        # show the latest value): every evaluation would fill the api's table for nothing.
        changed = abs(probability - view.published_probability) >= policy.publish_change
        due = t - view.published_at >= policy.publish_every_s and (mine or probability >= 0.01)
        if status is None and not changed and not due:
            return []
        view.published_probability, view.published_at = probability, t
        reason = (
            f"{worst.metric} reaches its limit in {nearest / 60:.0f} min"
            if worst and nearest is not None
            else "no resource heading for its limit"
        )
        return [
            Prediction(
                id=stable_id("failure", view.tenant, view.service, int(t)),
                service=view.service,
                kind="failure",
                probability=round(min(max(probability, 0.0), 1.0), 6),
                lead_time_s=None if nearest is None else round(nearest, 3),
                timestamp=datetime.fromtimestamp(t, UTC),
                tenant=view.tenant,
                status=status,
                detail={
                    "horizon_s": policy.failure.horizon_s,
                    "model": "exhaustion-trend",
                    # The River classifier's calibrated probability, once it learnt enough.
                    "learnt_probability": round(learnt, 6) if trained else None,
                    "labels": {"positive": view.model.positives, "negative": view.model.negatives},
                    "features": {k: round(v, 6) for k, v in x.items()},
                    "reason": reason,
                    "threshold": policy.threshold,
                },
            )
        ]

    # -- checkpoints -------------------------------------------------------------------------

    def knows(self, point: MetricPoint) -> bool:
        """Whether the point's series has state here (or needs none): no restore needed."""
        if point.name == self.policy.load_metric:
            view = self.services.get((point.tenant, point.service))
            return view is not None and view.forecaster is not None
        if point.name in self.policy.limits:
            return f"{point.tenant}/{point.series}" in self.resources
        return True

    def snapshot(self, point: MetricPoint) -> bytes | None:
        """Serialised state learnt from the point's series (load forecaster, resource trend)."""
        state: object | None = None
        if point.name == self.policy.load_metric:
            view = self.services.get((point.tenant, point.service))
            state = view.forecaster if view is not None else None
        elif point.name in self.policy.limits:
            state = self.resources.get(f"{point.tenant}/{point.series}")
        if state is None:
            return None
        return bytes([CHECKPOINT_VERSION]) + pickle.dumps(state, protocol=5)

    def restore(self, point: MetricPoint, blob: bytes) -> bool:
        """Load the point's series state from a snapshot; False if it is unusable."""
        if not blob or blob[0] != CHECKPOINT_VERSION:
            return False
        try:
            state = pickle.loads(blob[1:])  # noqa: S301 - written by our own workers only
        except Exception:  # noqa: BLE001 - a corrupt checkpoint means a cold start, not a crash
            return False
        view = self._view(point.tenant, point.service)
        if point.name == self.policy.load_metric and isinstance(state, SeasonalForecaster):
            view.forecaster = state
            view.forecast = state.forecast(self.policy.forecast_buckets)
            return True
        if point.name in self.policy.limits and isinstance(state, _Resource):
            key = f"{point.tenant}/{point.series}"
            self.resources[key] = state
            view.resources.add(key)
            return True
        return False

    def forget_series(self) -> None:
        """Drop per-series state (partitions moved: it reloads from checkpoints)."""
        for view in self.services.values():
            view.forecaster = None
            view.resources.clear()
        self.resources.clear()

    # -- state -------------------------------------------------------------------------------

    def _view(self, tenant: str, service: str) -> ServiceView:
        key = (tenant, service)
        view = self.services.get(key)
        if view is None:
            view = ServiceView(tenant, service, ServiceFailureModel(self.policy.failure))
            self.services[key] = view
            while len(self.services) > self.policy.max_services:
                self.services.popitem(last=False)
        else:
            self.services.move_to_end(key)
        return view

    def resource_gauges(self) -> list[tuple[str, str, str, float]]:
        """(tenant, service, resource metric, seconds to its limit), worst per service."""
        worst: dict[tuple[str, str, str], float] = {}
        for r in list(self.resources.values()):
            if r.last is not None and r.last.seconds_to_limit is not None:
                key = (r.tenant, r.service, r.metric)
                worst[key] = min(worst.get(key, math.inf), r.last.seconds_to_limit)
        return [(*key, seconds) for key, seconds in sorted(worst.items())]
