"""The detector versions a worker runs, and how a shadow compares with the live one. Pure.

A detector configuration (`DetectorParams`) decides when a series starts and stops firing;
every series' model (the online ensemble) is shared by the live configuration and a shadow
candidate, so the shadow is scored on exactly the same verdicts, at the cost of a second
small state machine per series, and never publishes an anomaly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.core.events import Anomaly, DetectorVersion, ModelControl

MAX_PENDING_FIRINGS = 500  # shadow firings kept until the next report (the rest are counted)


@dataclass
class ShadowStats:
    """Running totals of one shadow run on this worker."""

    run: str
    live_version: int
    shadow_version: int
    points: int = 0
    live_firings: int = 0
    shadow_firings: int = 0
    both_firing_points: int = 0
    live_only_points: int = 0
    shadow_only_points: int = 0
    pending: list[Anomaly] = field(default_factory=list)
    dropped: int = 0
    changed: bool = False  # since the last report

    def count(self, live_firing: bool, shadow_firing: bool) -> None:
        """One point's firing state under both configurations."""
        self.points += 1
        if live_firing and shadow_firing:
            self.both_firing_points += 1
        elif live_firing:
            self.live_only_points += 1
        elif shadow_firing:
            self.shadow_only_points += 1
        self.changed = self.changed or live_firing or shadow_firing

    def fired(self, live: list[Anomaly], shadow: list[Anomaly]) -> None:
        """Transitions of one point: count onsets, keep the shadow's to be recorded."""
        self.live_firings += sum(1 for a in live if a.status == "firing")
        for anomaly in shadow:
            if anomaly.status == "firing":
                self.shadow_firings += 1
            if len(self.pending) < MAX_PENDING_FIRINGS:
                self.pending.append(anomaly)
            else:
                self.dropped += 1
        self.changed = self.changed or bool(live or shadow)

    def drain(self) -> list[Anomaly]:
        """The shadow transitions since the last call."""
        pending, self.pending, self.changed = self.pending, [], False
        return pending


@dataclass
class ModelState:
    """What the worker runs now: the live version, and the shadow if one is on."""

    live: DetectorVersion = field(default_factory=lambda: DetectorVersion(version=0))
    shadow: DetectorVersion | None = None
    shadow_run: str | None = None
    applied_controls: int = 0

    def apply(self, control: ModelControl) -> tuple[bool, bool]:
        """Take a control message; returns (live changed, shadow changed)."""
        live_changed = control.live != self.live
        shadow_changed = (control.shadow, control.shadow_run) != (self.shadow, self.shadow_run)
        self.live = control.live
        self.shadow = control.shadow if control.shadow_run else None
        self.shadow_run = control.shadow_run if control.shadow is not None else None
        self.applied_controls += 1
        return live_changed, shadow_changed
