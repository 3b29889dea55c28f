"""Log anomalies per service: new error templates, template rate shifts, error bursts. Pure.

`LogsMonitor.observe(record)` mines the line's template (`TemplateMiner`, one per service)
and returns the anomaly events it causes:

- **new template**: a template the service never wrote before (once past its warm-up) reaching
  `new_min_lines` warning-or-worse lines (a lone oddity is not an incident, a new failure
  repeats within seconds); fires at once, resolves when the template has
  been quiet for `new_quiet_s`, or once it has been around for `new_max_s` (then it is normal);
- **template rate**: a template's lines per window shifted up or down (`RateBaseline`);
- **error burst**: the service's error lines per window shifted up.

Time is the records' own: windows of `window_s` close when a record from any service passes
their end, so replaying the same records yields the same anomalies (with the same ids).
"""

from __future__ import annotations

import json
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field

from services.core.events import Anomaly, LogRecord, Severity
from services.detect.logs.anomalies import burst_anomaly, new_template_anomaly, rate_anomaly
from services.detect.logs.miner import MinerConfig, Template, TemplateMiner
from services.detect.logs.rates import RatePolicy
from services.detect.logs.state import SAMPLES, ServiceLogs, TemplateStats

_WARNING_OR_WORSE = frozenset({Severity.WARNING, Severity.ERROR, Severity.CRITICAL})
_ERROR_OR_WORSE = frozenset({Severity.ERROR, Severity.CRITICAL})
_MAX_CATCH_UP = 360  # windows replayed for a silent service; older ones are skipped


@dataclass(frozen=True)
class LogPolicy:
    """Tuning of the log detectors; the defaults are the benchmarked ones."""

    window_s: float = 10.0
    warmup_s: float = 300.0  # a service's first minutes define its known templates
    new_min_lines: int = 3  # warning-or-worse lines of a new template before it fires ...
    new_novelty_s: float = 120.0  # ... within this long of its first line
    new_quiet_s: float = 120.0  # a new-template anomaly resolves after this long unseen
    new_max_s: float = 1800.0  # ... or after this long firing (the template is normal now)
    template_rate: RatePolicy = field(default_factory=RatePolicy)
    error_burst: RatePolicy = field(
        default_factory=lambda: RatePolicy(
            z=6.0, up_factor=3.0, min_excess=10.0, down=False, fire_after=1, resolve_after=3
        )
    )
    min_rate_lines: int = 50  # templates with fewer lines in all are not rate-judged
    max_services: int = 10_000  # least recently seen services are evicted past this
    miner: MinerConfig = field(default_factory=lambda: MinerConfig(max_templates=2_000))


class LogsMonitor:
    """Template miners and log detectors for many services, with checkpointable state."""

    def __init__(self, policy: LogPolicy | None = None) -> None:
        self.policy = policy or LogPolicy()
        self.services: OrderedDict[str, ServiceLogs] = OrderedDict()
        self.clock = float("-inf")  # newest record time seen
        self._next_close = float("inf")
        self.skipped = 0  # replayed records older than their service's checkpoint
        self.evicted = 0

    def observe(self, record: LogRecord) -> list[Anomaly]:
        """Feed one log record; return the anomaly transitions it causes (usually none)."""
        ts = record.timestamp.timestamp()
        key = f"{record.tenant}/{record.service}"
        state = self.services.get(key)
        if state is None:
            state = self._new_state(key, record, ts)
        elif ts < state.resume_after:
            self.skipped += 1  # replayed after a restart: already in the checkpoint
            return []
        elif ts > state.last_ts:
            state.last_ts = ts
        out: list[Anomaly] = []
        if ts >= self._next_close:
            out = self._close_windows(ts)
        elif self._next_close == float("inf"):
            self._next_close = self._boundary(ts)
        self.clock = max(self.clock, ts)
        state.lines += 1
        body = record.body
        template, _ = state.miner.add(body)
        if state.miner.merges:
            out.extend(self._fold_merges(state, template, ts))
        stats = state.stats.get(template.id)
        if stats is None:
            stats = state.stats[template.id] = TemplateStats(created_at=ts)
        stats.count += 1
        stats.last_seen = ts
        stats.last_line = body
        if len(stats.samples) < SAMPLES:
            stats.samples.append(body)
        severity = record.severity
        if severity in _WARNING_OR_WORSE:
            if severity in _ERROR_OR_WORSE:
                state.errors += 1
                state.error_templates[template.id] = state.error_templates.get(template.id, 0) + 1
            stats.bad_lines += 1
            if stats.bad_lines == self.policy.new_min_lines and not stats.new_firing:
                if self._is_new(state, stats, ts):
                    stats.new_firing = True
                    out.append(new_template_anomaly(state, template, stats, record, "firing"))
        return out

    def _fold_merges(self, state: ServiceLogs, survivor: Template, ts: float) -> list[Anomaly]:
        """Carry merged-away templates' counters over to their survivors; a new-template
        anomaly still firing on an old id resolves (its lines now belong to the survivor)."""
        out: list[Anomaly] = []
        for old_id, new_id in state.miner.drain_merges():
            old = state.stats.pop(old_id, None)
            if old is None:
                continue
            if old.new_firing:
                old.new_firing = False
                gone = Template(id=old_id, tokens=list(survivor.tokens), anchors=())
                out.append(new_template_anomaly(state, gone, old, None, "resolved", ts))
            kept = state.stats.get(new_id)
            if kept is None:
                old.new_firing = False
                state.stats[new_id] = old
            else:
                kept.fold(old)
        return out

    def _is_new(self, state: ServiceLogs, stats: TemplateStats, ts: float) -> bool:
        policy = self.policy
        return (
            stats.created_at >= state.started_at + policy.warmup_s
            and ts - stats.created_at <= policy.new_novelty_s
        )

    def _new_state(self, key: str, record: LogRecord, ts: float) -> ServiceLogs:
        state = ServiceLogs(
            tenant=record.tenant,
            service=record.service,
            miner=TemplateMiner(self.policy.miner),
            started_at=ts,
            closed_until=self._boundary(ts) - self.policy.window_s,
            last_ts=ts,
        )
        self.services[key] = state
        while len(self.services) > self.policy.max_services:
            self.services.popitem(last=False)
            self.evicted += 1
        return state

    def _boundary(self, ts: float) -> float:
        """End of the window holding `ts`."""
        width = self.policy.window_s
        return (ts // width + 1) * width

    # -- windows -----------------------------------------------------------------------------

    def _close_windows(self, now: float) -> list[Anomaly]:
        """Close every window that ended at or before `now`, for every service."""
        self._next_close = self._boundary(now)
        until = self._next_close - self.policy.window_s
        out: list[Anomaly] = []
        for state in self.services.values():
            out.extend(self._close_service(state, until))
        return out

    def _close_service(self, state: ServiceLogs, until: float) -> list[Anomaly]:
        width = self.policy.window_s
        out: list[Anomaly] = []
        if until - state.closed_until > _MAX_CATCH_UP * width:
            state.closed_until = until - _MAX_CATCH_UP * width
        while state.closed_until < until:
            state.closed_until += width
            out.extend(self._close_window(state, state.closed_until))
        return out

    def _close_window(self, state: ServiceLogs, end: float) -> list[Anomaly]:
        policy = self.policy
        out: list[Anomaly] = []
        for tid, stats in state.stats.items():
            count, stats.count = stats.count, 0
            template = state.miner.templates.get(tid)
            if template is None:
                continue
            if stats.new_firing and (
                end - stats.last_seen >= policy.new_quiet_s
                or end - stats.created_at >= policy.new_max_s
            ):
                stats.new_firing = False
                out.append(new_template_anomaly(state, template, stats, None, "resolved", end))
            if template.count < policy.min_rate_lines and not stats.rate.firing:
                continue
            verdict = stats.rate.judge(count, policy.template_rate)
            if verdict.transition is not None:
                out.append(rate_anomaly(state, template, stats, count, verdict, end))
        errors, state.errors = state.errors, 0
        top, state.error_templates = state.error_templates, {}
        verdict = state.error_rate.judge(errors, policy.error_burst)
        if verdict.transition is not None:
            out.append(burst_anomaly(state, errors, top, verdict, end))
        if len(state.stats) > len(state.miner.templates) + 100:
            state.stats = {t: s for t, s in state.stats.items() if t in state.miner.templates}
        return out

    # -- checkpoints -------------------------------------------------------------------------

    def snapshot(self, key: str) -> bytes | None:
        """Serialised state of one service (by partition key), or None if unknown."""
        state = self.services.get(key)
        if state is None:
            return None
        return zlib.compress(json.dumps(state.to_dict(), separators=(",", ":")).encode(), 3)

    def restore(self, key: str, blob: bytes) -> bool:
        """Load a service's state from a snapshot; False if the snapshot is unusable."""
        try:
            state = ServiceLogs.from_dict(json.loads(zlib.decompress(blob)), self.policy.miner)
        except (ValueError, KeyError, TypeError, IndexError, zlib.error):
            return False  # a corrupt checkpoint means a cold start, not a crash
        state.resume_after = state.last_ts
        self.services[key] = state
        if self._next_close == float("inf"):
            self._next_close = state.closed_until + self.policy.window_s
        return True

    def knows(self, key: str) -> bool:
        """Whether the monitor holds state for a service (by partition key)."""
        return key in self.services

    def templates(self, key: str) -> list[tuple[str, str, int]]:
        """(id, template, lines) of a service's templates, most frequent first."""
        state = self.services.get(key)
        if state is None:
            return []
        found = [(t.id, t.text, t.count) for t in state.miner.templates.values()]
        return sorted(found, key=lambda item: -item[2])
