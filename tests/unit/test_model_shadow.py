"""Detector versions in the detect worker: shadow scoring, promotion, reports (pure + fakes)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from services.core.bus import Bus
from services.core.bus.base import Handler, StateStore
from services.core.events import (
    DetectorParams,
    DetectorVersion,
    Event,
    MetricPoint,
    ModelControl,
    ModelReport,
    ShadowReport,
)
from services.core.topics import MODELS, MODELS_SHADOW, Topic
from services.detect.learning import LearningLoop
from services.detect.monitor import MetricsMonitor

START = datetime(2026, 1, 1, tzinfo=UTC)
KEY = 'default/cpu{service="a"}'
SENSITIVE = DetectorParams(
    fire_threshold=0.5, band_fire_threshold=0.5, sustain_threshold=0.5, fire_after=1
)


class FakeBus(Bus):
    """Records what is published; consuming is not needed here."""

    def __init__(self) -> None:
        self.published: list[tuple[str, Event]] = []

    async def publish(self, topic: Topic, events: Sequence[Event]) -> None:
        self.published += [(topic.name, e) for e in events]

    async def publish_records(self, records: Sequence[tuple[str, bytes | None, bytes]]) -> None:
        raise NotImplementedError

    def subscribe(self, topic: Topic, handler: Handler, *, group: str) -> None:
        raise NotImplementedError

    def state_store(self, name: str, *, partitioned_like: Topic) -> StateStore:
        raise NotImplementedError

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def of(self, topic: Topic) -> list[Event]:
        return [e for name, e in self.published if name == topic.name]


def _point(i: int, spike: float = 0.0, seed: int = 3) -> MetricPoint:
    rng = random.Random(seed * 100_000 + i)
    return MetricPoint(
        name="cpu",
        labels={"service": "a"},
        value=100 + rng.gauss(0, 1) + spike,
        timestamp=START + timedelta(seconds=10 * i),
    )


def test_a_shadow_is_scored_on_the_same_points_but_never_emits() -> None:
    monitor = MetricsMonitor()
    monitor.set_shadow("run-1", 1, SENSITIVE)
    emitted = [a for i in range(400) for a in monitor.observe(_point(i, 8.0 if i == 300 else 0))]
    assert emitted == []  # one spike: the live configuration (fire_after=2) stays quiet
    shadow = monitor.shadow
    assert shadow is not None and shadow.points == 400
    assert shadow.shadow_firings == 1 and shadow.live_firings == 0
    assert shadow.shadow_only_points >= 1 and shadow.both_firing_points == 0
    firings = shadow.drain()
    assert firings[0].status == "firing" and firings[0].detector.startswith("shadow:")
    assert shadow.drain() == []


def test_promoting_changes_the_live_thresholds_from_the_next_point() -> None:
    monitor = MetricsMonitor()
    for i in range(300):
        monitor.observe(_point(i))
    monitor.set_live(1, SENSITIVE)
    found = monitor.observe(_point(300, 8.0))
    assert [a.status for a in found] == ["firing"]
    assert monitor.series[KEY].version == 1
    assert monitor.policy.params() == SENSITIVE


def test_the_learning_loop_follows_control_messages_and_reports_models() -> None:
    async def scenario() -> FakeBus:
        bus = FakeBus()
        monitor = MetricsMonitor()
        loop = LearningLoop(monitor, bus, shadow_report_every=100, source="w1")
        candidate = DetectorVersion(version=1, params=SENSITIVE)
        live = DetectorVersion(version=0)
        await loop.on_control(ModelControl(live=live, shadow=candidate, shadow_run="run-1"))
        assert monitor.shadow is not None and monitor.shadow.run == "run-1"
        for i in range(320):
            monitor.observe(_point(i, 8.0 if i == 300 else 0))
            await loop.after_point()
            if i % 50 == 49:
                monitor.snapshot(KEY)
                await loop.after_checkpoint(KEY)
        await loop.on_control(ModelControl(live=candidate))  # promoted
        assert monitor.shadow is None and monitor.version == 1
        monitor.observe(_point(320))
        monitor.snapshot(KEY)
        await loop.after_checkpoint(KEY)
        return bus

    bus = asyncio.run(scenario())
    shadow = [e for e in bus.of(MODELS_SHADOW) if isinstance(e, ShadowReport)]
    assert shadow and all(r.shadow_run == "run-1" and r.source == "w1" for r in shadow)
    assert shadow[-1].points == 320 and shadow[-1].shadow_firings == 1
    assert sum(len(r.firings) for r in shadow) >= 1
    reports = [e for e in bus.of(MODELS) if isinstance(e, ModelReport)]
    assert reports[0].series == 'cpu{service="a"}' and reports[0].version == 0
    assert reports[-1].version == 1 and reports[-1].params["fire_after"] == 1
    assert reports[-1].checkpoint_at is not None and "feedback" in reports[-1].params
    # Unchanged series are not re-reported at every checkpoint (600 s of point time apart).
    assert len(reports) < 7
