"""Anomaly events for log detectors, with explanations that name the template and quote it."""

from __future__ import annotations

from datetime import UTC, datetime

from services.core.events import Anomaly, Explanation, LogRecord, Severity, stable_id
from services.detect.logs.miner import Template
from services.detect.logs.rates import Verdict
from services.detect.logs.state import ServiceLogs, TemplateStats

MAX_QUOTE = 200  # characters of a sample line quoted in an explanation


def _quote(line: str) -> str:
    line = line.strip()
    return f'"{line[:MAX_QUOTE]}{"..." if len(line) > MAX_QUOTE else ""}"'


def _samples(stats: TemplateStats) -> str:
    lines = list(dict.fromkeys([*stats.samples, stats.last_line]))[:3]
    return ", ".join(_quote(line) for line in lines if line)


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _event(
    state: ServiceLogs,
    *,
    series: str,
    metric: str,
    status: str,
    at: datetime,
    score: float,
    severity: Severity,
    detector: str,
    explanation: Explanation,
    labels: dict[str, str],
) -> Anomaly:
    return Anomaly(
        id=stable_id("anomaly", state.tenant, series, status, at.isoformat()),
        status="firing" if status == "firing" else "resolved",
        series=series,
        metric=metric,
        service=state.service,
        labels={"service": state.service, **labels},
        timestamp=at,
        score=min(1.0, max(0.0, score)),
        severity=severity,
        kind="log",
        detector=detector,
        explanation=explanation,
        tenant=state.tenant,
    )


def new_template_anomaly(
    state: ServiceLogs,
    template: Template,
    stats: TemplateStats,
    record: LogRecord | None,
    status: str,
    end: float | None = None,
) -> Anomaly:
    """A template never seen before appeared at warning level or worse (or went quiet)."""
    level = record.severity if record is not None else Severity.ERROR
    at = record.timestamp if record is not None else _at(end or stats.last_seen)
    kind = "error" if level in (Severity.ERROR, Severity.CRITICAL) else "warning"
    detail = (
        f"new {kind} log template in {state.service}: {_quote(template.text)} "
        f"(template {template.id}), e.g. {_samples(stats)}"
    )
    if status == "resolved":
        detail = f"log template {_quote(template.text)} (template {template.id}) is quiet again"
    return _event(
        state,
        series=f"log:{state.service}:new:{template.id}",
        metric="log_new_template",
        status=status,
        at=at,
        score=0.9,
        severity=Severity.ERROR if kind == "error" else Severity.WARNING,
        detector="log_new_template",
        explanation=Explanation(
            observed=float(template.count),
            expected=0.0,
            lower=0.0,
            upper=0.0,
            component="new_template",
            detail=detail,
        ),
        labels={"template_id": template.id, "template": template.text[:MAX_QUOTE]},
    )


def rate_anomaly(
    state: ServiceLogs,
    template: Template,
    stats: TemplateStats,
    count: int,
    verdict: Verdict,
    end: float,
) -> Anomaly:
    """A template's lines per window shifted (or came back to normal)."""
    direction = "more" if count > verdict.expected else "fewer"
    detail = (
        f"log template {_quote(template.text)} (template {template.id}) in {state.service}: "
        f"{count} lines in the last window, {direction} than the expected "
        f"{verdict.expected:.1f} (band {verdict.lower:.1f} .. {verdict.upper:.1f}); "
        f"e.g. {_samples(stats)}"
    )
    return _event(
        state,
        series=f"log:{state.service}:rate:{template.id}",
        metric="log_template_rate",
        status=verdict.transition or "firing",
        at=_at(end),
        score=min(1.0, 0.8 + abs(verdict.z) / 100),
        severity=Severity.WARNING,
        detector="log_template_rate",
        explanation=Explanation(
            observed=float(count),
            expected=verdict.expected,
            lower=verdict.lower,
            upper=verdict.upper,
            component="template_rate",
            detail=detail,
        ),
        labels={"template_id": template.id, "template": template.text[:MAX_QUOTE]},
    )


def burst_anomaly(
    state: ServiceLogs, errors: int, top: dict[str, int], verdict: Verdict, end: float
) -> Anomaly:
    """The service's error lines per window jumped (or came back to normal)."""
    ranked = sorted(top.items(), key=lambda item: -item[1])[:2]
    quoted = []
    for tid, n in ranked:
        template = state.miner.templates.get(tid)
        stats = state.stats.get(tid)
        if template is not None and stats is not None:
            quoted.append(
                f"{_quote(template.text)} (template {tid}) x{n}, e.g. {_quote(stats.last_line)}"
            )
    detail = (
        f"error burst in {state.service}: {errors} error lines in the last window, expected "
        f"{verdict.expected:.1f} (band {verdict.lower:.1f} .. {verdict.upper:.1f})"
    )
    if quoted:
        detail += "; top templates: " + "; ".join(quoted)
    labels = {"template_id": ranked[0][0]} if ranked else {}
    return _event(
        state,
        series=f"log:{state.service}:errors",
        metric="log_error_rate",
        status=verdict.transition or "firing",
        at=_at(end),
        score=min(1.0, 0.85 + abs(verdict.z) / 100),
        severity=Severity.ERROR,
        detector="log_error_burst",
        explanation=Explanation(
            observed=float(errors),
            expected=verdict.expected,
            lower=verdict.lower,
            upper=verdict.upper,
            component="error_burst",
            detail=detail,
        ),
        labels=labels,
    )
