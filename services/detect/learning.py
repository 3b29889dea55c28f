"""The learning loop of the metrics worker: feedback in, model reports and shadow results out.

Thin adapter around the pure parts (`feedback/`, `models/`, `MetricsMonitor`):

- `feedback` events go to the `FeedbackLedger`; a series learns its labels on its next point
  (`before_point`), and the checkpoint written after that point holds what it learned;
- `models.control` sets the live detector configuration and the shadow candidate;
- after a checkpoint, `after_checkpoint` reports the series' model to the compacted `models`
  topic (on its first checkpoint, when its version or adaptation changed, and every
  `report_every_s` of point time otherwise); shadow totals and firings go to `models.shadow`.

Both input topics reach every worker (`broadcast.py`), whichever partitions it owns.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import cast

from services.core.bus import Bus
from services.core.bus.kafka import KafkaBus
from services.core.events import Event, Feedback, ModelControl, ModelReport, ShadowReport, new_id
from services.core.topics import FEEDBACK, MODELS, MODELS_CONTROL, MODELS_SHADOW
from services.detect.broadcast import Broadcast, BusBroadcast, KafkaTail
from services.detect.feedback.ledger import FeedbackLedger
from services.detect.models.registry import ModelState
from services.detect.monitor import MetricsMonitor, SeriesState
from services.detect.settings import DetectSettings

log = logging.getLogger(__name__)


class LearningLoop:
    """Feedback, model versions and shadow runs for one metrics worker."""

    def __init__(
        self,
        monitor: MetricsMonitor,
        bus: Bus,
        *,
        report_every_s: float = 600.0,
        shadow_report_every: int = 500,
        source: str | None = None,
    ) -> None:
        self.monitor = monitor
        self.bus = bus
        self.ledger = FeedbackLedger(max_series=monitor.policy.max_series)
        self.models = ModelState()
        self.report_every_s = report_every_s
        self.shadow_report_every = shadow_report_every
        self.source = source or new_id()[:12]  # this worker, in shadow reports
        self.broadcast: Broadcast | None = None
        self.reported: dict[str, tuple[object, ...]] = {}
        self.reports = 0
        self._since_shadow_report = 0
        self._caught_up = False

    @classmethod
    def attach(cls, monitor: MetricsMonitor, bus: Bus, settings: DetectSettings) -> LearningLoop:
        """Create the loop and have `feedback` and `models.control` broadcast to it."""
        loop = cls(monitor, bus)
        topics = [(FEEDBACK, loop.on_feedback), (MODELS_CONTROL, loop.on_control)]
        if isinstance(bus, KafkaBus):
            loop.broadcast = KafkaTail(
                settings.kafka_servers, topics, prefix=settings.topic_prefix, bus_ready=bus.ready
            )
        else:
            loop.broadcast = BusBroadcast(bus, topics, group=f"{settings.detect_group}.learning")
        return loop

    # -- inputs (broadcast) --------------------------------------------------------------------

    async def on_feedback(self, event: Event) -> None:
        """Remember a label for the series it names (applied on their next point)."""
        feedback = cast(Feedback, event)
        if self.ledger.add(feedback):
            log.info("feedback %s (%s) received", feedback.id, feedback.label.value)

    async def on_control(self, event: Event) -> None:
        """Switch the live configuration and/or the shadow, as the api asked."""
        control = cast(ModelControl, event)
        if control.detector != "metrics":
            return
        live_changed, shadow_changed = self.models.apply(control)
        if shadow_changed and self.monitor.shadow is not None:
            await self.report_shadow(force=True)  # the old run's last totals
        if live_changed:
            self.monitor.set_live(control.live.version, control.live.params)
            log.info("detector version %d is live", control.live.version)
        shadow = self.models.shadow
        if shadow_changed or live_changed:
            self.monitor.set_shadow(None)
            if shadow is not None:
                self.monitor.set_shadow(self.models.shadow_run, shadow.version, shadow.params)
                log.info("detector version %d runs in shadow", shadow.version)

    # -- around each point ---------------------------------------------------------------------

    async def before_point(self, key: str) -> None:
        """Catch up with the broadcast topics once, then teach the series its new labels."""
        if self.broadcast is not None and not self._caught_up:
            self._caught_up = True  # waited for once: a slow broker must not stall every point
            await self.broadcast.ready()
        labels = self.ledger.for_series(key)
        if labels:
            pending = self.monitor.pending_labels(key, labels)
            if pending:
                self.monitor.learn(key, pending)

    async def after_point(self) -> None:
        """Publish the shadow's totals when it fired, or every `shadow_report_every` points."""
        shadow = self.monitor.shadow
        if shadow is None:
            return
        self._since_shadow_report += 1
        if shadow.pending or self._since_shadow_report >= self.shadow_report_every:
            await self.report_shadow()

    async def after_checkpoint(self, key: str) -> None:
        """Report the series' model if it changed or its last report is old."""
        state = self.monitor.series.get(key)
        if state is None:
            return
        signature = (state.version, tuple(sorted(state.adaptation.describe().items())))
        last = self.reported.get(key)
        due = state.last_timestamp - state.reported_at >= self.report_every_s
        if last == signature and not due:
            return
        self.reported[key] = signature
        state.reported_at = state.last_timestamp
        await self.bus.publish(MODELS, [self.report(key, state)])
        self.reports += 1

    # -- outputs -------------------------------------------------------------------------------

    def report(self, key: str, state: SeriesState) -> ModelReport:
        """The model record of one series."""
        tenant, _, series = key.partition("/")
        params: dict[str, object] = {
            **self.monitor.policy.params().model_dump(),
            "detector": getattr(state.detector, "name", type(state.detector).__name__),
            "feedback": state.adaptation.describe(),
        }
        return ModelReport(
            tenant=tenant,
            series=series,
            model_type=type(state.detector).__name__,
            version=state.version,
            params=params,
            points=state.points,
            checkpoint_at=_at(state.checkpoint_at),
            reported_at=_at(state.last_timestamp) or datetime.now(UTC),
        )

    async def report_shadow(self, *, force: bool = False) -> None:
        """Publish this worker's totals (and new firings) of the running shadow."""
        shadow = self.monitor.shadow
        if shadow is None or not (force or shadow.changed or shadow.pending or shadow.points):
            return
        self._since_shadow_report = 0
        firings = shadow.drain()
        report = ShadowReport(
            shadow_run=shadow.run,
            source=self.source,
            live_version=shadow.live_version,
            shadow_version=shadow.shadow_version,
            points=shadow.points,
            live_firings=shadow.live_firings,
            shadow_firings=shadow.shadow_firings,
            both_firing_points=shadow.both_firing_points,
            live_only_points=shadow.live_only_points,
            shadow_only_points=shadow.shadow_only_points,
            firings=firings,
            at=datetime.now(UTC),
        )
        await self.bus.publish(MODELS_SHADOW, [report])


def _at(timestamp: float | None) -> datetime | None:
    if timestamp is None or timestamp == float("-inf"):
        return None
    return datetime.fromtimestamp(timestamp, UTC)
