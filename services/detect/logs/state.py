"""What the log detectors remember per service, and its checkpoint format. Pure domain."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.detect.logs.miner import MinerConfig, TemplateMiner
from services.detect.logs.rates import RateBaseline

STATE_VERSION = 1
SAMPLES = 3  # sample lines quoted per template


@dataclass(eq=False, slots=True)
class TemplateStats:
    """Per-template counters of one service."""

    created_at: float  # when the template first appeared (unix seconds)
    count: int = 0  # lines in the current window
    rate: RateBaseline = field(default_factory=RateBaseline)
    bad_lines: int = 0  # warning-or-worse lines so far
    last_seen: float = 0.0
    samples: list[str] = field(default_factory=list)  # the first lines seen
    last_line: str = ""
    new_firing: bool = False  # a new-template anomaly is firing for it

    def fold(self, other: TemplateStats) -> None:
        """Take in the counters of a template merged into this one (see `TemplateMiner`).

        Window counts and rate baselines add up (the merged template's lines are this one's
        now), so the survivor's rate does not look shifted by the merge itself."""
        self.created_at = min(self.created_at, other.created_at)
        self.count += other.count
        self.bad_lines += other.bad_lines
        self.last_seen = max(self.last_seen, other.last_seen)
        self.samples = (self.samples + other.samples)[:SAMPLES]
        self.rate.mean += other.rate.mean
        self.rate.var += other.rate.var
        self.rate.windows = max(self.rate.windows, other.rate.windows)

    def to_list(self) -> list[Any]:
        return [
            self.created_at,
            self.count,
            self.rate.to_list(),
            self.bad_lines,
            self.last_seen,
            self.samples,
            self.last_line,
            self.new_firing,
        ]

    @classmethod
    def from_list(cls, data: list[Any]) -> TemplateStats:
        return cls(
            created_at=float(data[0]),
            count=int(data[1]),
            rate=RateBaseline.from_list(data[2]),
            bad_lines=int(data[3]),
            last_seen=float(data[4]),
            samples=[str(s) for s in data[5]],
            last_line=str(data[6]),
            new_firing=bool(data[7]),
        )


@dataclass(eq=False)
class ServiceLogs:
    """Everything remembered about one service's logs."""

    tenant: str
    service: str
    miner: TemplateMiner
    started_at: float  # first line seen
    closed_until: float  # end of the last closed window
    lines: int = 0
    last_ts: float = float("-inf")  # newest line seen
    resume_after: float = float("-inf")  # after a restore, older (replayed) lines are skipped
    stats: dict[str, TemplateStats] = field(default_factory=dict)
    errors: int = 0  # error lines in the current window
    error_templates: dict[str, int] = field(default_factory=dict)  # their templates
    error_rate: RateBaseline = field(default_factory=RateBaseline)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-serialisable) for a checkpoint."""
        return {
            "v": STATE_VERSION,
            "tenant": self.tenant,
            "service": self.service,
            "miner": self.miner.snapshot(),
            "started_at": self.started_at,
            "closed_until": self.closed_until,
            "lines": self.lines,
            "last_ts": self.last_ts,
            "stats": {tid: s.to_list() for tid, s in self.stats.items()},
            "errors": self.errors,
            "error_templates": self.error_templates,
            "error_rate": self.error_rate.to_list(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], config: MinerConfig | None = None) -> ServiceLogs:
        """Rebuild from `to_dict()` output; raises ValueError for another version."""
        if data.get("v") != STATE_VERSION:
            raise ValueError(f"unsupported log state version {data.get('v')!r}")
        return cls(
            tenant=str(data["tenant"]),
            service=str(data["service"]),
            miner=TemplateMiner.restore(data["miner"], config),
            started_at=float(data["started_at"]),
            closed_until=float(data["closed_until"]),
            lines=int(data["lines"]),
            last_ts=float(data["last_ts"]),
            stats={tid: TemplateStats.from_list(s) for tid, s in data["stats"].items()},
            errors=int(data["errors"]),
            error_templates={str(k): int(v) for k, v in data["error_templates"].items()},
            error_rate=RateBaseline.from_list(data["error_rate"]),
        )
