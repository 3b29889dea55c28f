"""The production metrics detector: several cheap online views of a series, one calibrated score.

Per point, in O(1) time and fixed memory:

1. A `CounterGuard` turns monotone counters into rates (resets are not anomalies).
2. A `Forecaster` (fast level, daily and weekly profiles) gives the residual surprise `z`.
3. Evidence, each scored in [0, 1] with 0.5 meaning "anomalous":
   - `AnomalyLikelihood` of `z` (Numenta's anomaly likelihood): improbable recent residuals;
   - a `Record` of the short-average surprise: the largest disturbance in a long memory;
   - `Envelope`s of the value, and of smoothed levels and volatilities at two time scales:
     values, levels or bursts of variability never seen before;
   - a `StuckRun`: a value frozen for longer than the series has ever stayed still.
   Records, envelopes and stuck runs only speak after `novelty_after` points: in a young
   series everything is new.
4. Episodes: an anomalous point right after a normal one, and at least `hold` points after
   the last onset, opens an episode and scores in [0.85, 1]; every other anomalous point is
   "ongoing" and scores in [0.8, 0.85), carrying its episode's explanation. A consumer
   thresholding at 0.8 (the monitor) sees a sustained anomaly as sustained; one thresholding
   above 0.85 (NAB) sees each disturbance once. Normal points score below 0.8, in proportion
   to their evidence.

`make_detector()` is what the platform and the NAB benchmark use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from services.detect.detectors.base import Assessment, SeriesDetector
from services.detect.detectors.fallback import FallbackDetector
from services.detect.detectors.features import CounterGuard, Envelope, Forecaster, StuckRun
from services.detect.detectors.likelihood import AnomalyLikelihood, Record

FIRE = 0.5  # internal evidence level of "anomalous": likelihood p = 1e-5
ONSET_FLOOR = 0.85  # reported scores: onsets in [0.85, 1], ongoing in [0.8, 0.85)
ONGOING_FLOOR = 0.8
STEP_SAMPLES = 15  # intervals used to estimate the sampling step


@dataclass(frozen=True)
class DetectorConfig:
    """Parameters of the ensemble; the defaults are the production (and benchmarked) ones."""

    fast_rate: float = 0.3  # fast level: weight of the newest point
    error_rate: float = 0.01  # forecast error scales: ~100-point memory
    error_clip: float = 6.0  # one point may raise an error scale at most this many times
    competent: float = 1.3  # heads within this factor of the best error count as competent
    seasonal_alpha: float = 0.01  # seasonal level rate
    seasonal_gamma: float = 0.2  # seasonal bucket rate (per visit)
    short_rate: float = 0.1  # anomaly likelihood: short average (~10 points)
    long_rate: float = 0.002  # anomaly likelihood: long-run distribution (~500 points)
    z_clip: float = 10.0  # a lone outlier moves the short average by at most 1 (envelopes see it)
    record_tolerance: float = 0.1  # a record must beat the remembered maximum by 10 %
    record_decay: float = 1 / 20_000  # remembered maximum fades by 1/e in 20,000 points
    range_tolerance: float = 0.05  # an envelope must be exceeded by 5 % of its width
    scales: tuple[float, ...] = (1 / 8, 1 / 32)  # smoothing rates of levels and volatilities
    warmup: int = 100  # points before anything is reported
    hold: int = 25  # least points between two onsets
    gap_factor: float = 50.0  # an interval this many steps long is a gap (level may have moved)
    band_width: float = 4.0  # expected +- band_width * spread is the reported band
    envelope_samples: float = 10.0  # a smoothed envelope judges once n * rate exceeds this
    novelty_after: int = 250  # points before records, envelopes and stuck runs may fire
    flat_min: int = 10  # a stuck value needs at least this many unchanged points to count
    record_floor: float = 2.0  # short-average surprise (z units) below which nothing is a record


DEFAULT_CONFIG = DetectorConfig()


def _strength(excess: float, full: float) -> float:
    """Map a positive excess to evidence in [FIRE, 1], reaching 1 at `full`."""
    return FIRE + (1.0 - FIRE) * min(1.0, excess / full)


class EnsembleDetector:
    """Forecast residuals, anomaly likelihood, records and envelopes, combined (see module)."""

    __slots__ = (
        "calm",
        "config",
        "counter",
        "dts",
        "envelopes",
        "forecaster",
        "last_expected",
        "last_t",
        "label",
        "levels",
        "likelihood",
        "n",
        "name",
        "prev_value",
        "range",
        "record",
        "since_onset",
        "step",
        "stuck",
    )

    def __init__(self, config: DetectorConfig = DEFAULT_CONFIG) -> None:
        self.name = "vigil_ensemble"
        self.config = config
        self.counter = CounterGuard()
        self.step = math.nan
        self.dts: list[float] = []
        self.last_t = math.nan
        self.last_expected = math.nan
        self.since_onset = 1 << 30
        self.calm = True  # the previous point was not anomalous
        self.label = "spike"  # the explanation of the current episode
        self._reset_models()

    def _reset_models(self) -> None:
        c = self.config
        self.forecaster = Forecaster(
            fast_rate=c.fast_rate,
            error_rate=c.error_rate,
            error_clip=c.error_clip,
            competent=c.competent,
            seasonal_alpha=c.seasonal_alpha,
            seasonal_gamma=c.seasonal_gamma,
        )
        if self.step == self.step:
            self.forecaster.add_seasonality(self.step)
        self.likelihood = AnomalyLikelihood(c.short_rate, c.long_rate)
        self.record = Record(c.record_tolerance, c.record_decay, floor=c.record_floor)
        self.range = Envelope()
        # Per scale: [smoothed level, smoothed |change|]; envelopes of both.
        self.levels = [[math.nan, 0.0] for _ in c.scales]
        self.envelopes = [(Envelope(), Envelope()) for _ in c.scales]
        self.stuck = StuckRun(c.flat_min, c.record_tolerance, c.record_decay)
        self.prev_value = math.nan
        self.n = 0

    def assess(self, timestamp: float, value: float) -> Assessment:
        """Score the point against what was learned so far, then learn it."""
        if not math.isfinite(value) or not math.isfinite(timestamp):
            return self._quiet(value, "no_data")  # nothing to learn from a missing value
        boost = self._clock(timestamp)
        modelled = self.counter.transform(timestamp, value)
        if modelled is None:  # just recognised a counter: model its rate from now on
            self._reset_models()
            return self._quiet(value, "warmup")
        self.n += 1
        c = self.config
        f = self.forecaster
        z = min(f.surprise(timestamp, modelled, boost), c.z_clip)
        previous = self.prev_value
        evidence = self.likelihood.update(z)
        component = "seasonal" if f.source == "seasonal" else "spike"
        # Novelty (records, envelopes, stuck runs) needs a history worth comparing with.
        novel = self.n >= c.novelty_after
        excess = self.record.update(self.likelihood.short)
        if novel and excess > 0.0 and _strength(excess, 1.0) > evidence:
            evidence, component = _strength(excess, 1.0), "level_shift"
        excess = self.range.excess(modelled) - c.range_tolerance
        if novel and excess > 0.0 and _strength(excess, 0.5) > evidence:
            evidence, component = _strength(excess, 0.5), "spike"
        self.range.absorb(modelled)
        evidence, component = self._scales(modelled, previous, evidence, component, novel)
        if previous == previous:
            excess = self.stuck.update(abs(modelled - previous), self.levels[-1][1])
            if novel and excess >= 0.0 and _strength(excess, 1.0) > evidence:
                evidence, component = _strength(excess, 1.0), "flatline"
        self.prev_value = modelled
        warm = self.n >= c.warmup
        score = self._episode(evidence if warm else 0.0)
        if score >= ONSET_FLOOR:
            self.label = component
        elif score >= ONGOING_FLOOR:
            if self.label == "spike":
                self.label = "level_shift"  # it lasts: a departure, not a one-off
            component = self.label  # one episode, one explanation
        return self._verdict(score, component, warm)

    def _clock(self, timestamp: float) -> float:
        """Track the sampling step; return how much to widen the fast spread after a gap."""
        dt = timestamp - self.last_t
        self.last_t = timestamp
        if not dt > 0.0:
            return 1.0
        if self.step != self.step:
            self.dts.append(dt)
            if len(self.dts) >= STEP_SAMPLES:
                self.step = sorted(self.dts)[len(self.dts) // 2]
                self.dts = []
                self.forecaster.add_seasonality(self.step)
            return 1.0
        if dt > self.config.gap_factor * self.step:
            return min(math.sqrt(dt / self.step), 10.0)  # a random walk's spread grows so
        return 1.0

    def _scales(
        self, value: float, previous: float, evidence: float, component: str, novel: bool
    ) -> tuple[float, str]:
        """Envelopes of smoothed levels and volatilities at each time scale."""
        change = abs(value - previous) if previous == previous else 0.0
        tolerance = self.config.range_tolerance
        for rate, state, (level_env, vol_env) in zip(
            self.config.scales, self.levels, self.envelopes, strict=True
        ):
            level = state[0]
            level = value if level != level else level + rate * (value - level)
            volatility = state[1] + rate * (change - state[1])
            state[0], state[1] = level, volatility
            samples = self.n * rate  # roughly the independent samples seen at this scale
            if samples <= 2.0:  # let the smoothed level settle before tracking it
                if level_env.lo == math.inf:
                    level_env.absorb(value)
                continue
            judge = novel and samples > self.config.envelope_samples
            excess = level_env.excess(level) - tolerance
            if judge and excess > 0.0 and _strength(excess, 0.5) > evidence:
                evidence, component = _strength(excess, 0.5), "level_shift"
            level_env.absorb(level)
            # Only bursts of variability: a collapse of it is the `StuckRun`'s to judge.
            excess = vol_env.rise(volatility) - tolerance
            if judge and excess > 0.0 and _strength(excess, 0.5) > evidence:
                evidence, component = _strength(excess, 0.5), "volatility"
            vol_env.absorb(volatility)
        return evidence, component

    def _episode(self, evidence: float) -> float:
        """Report each disturbance once: an onset needs `hold` points since the last one and a
        calm point just before it; anything else anomalous is "ongoing"."""
        self.since_onset += 1
        was_calm, self.calm = self.calm, evidence < FIRE
        if evidence < FIRE:
            return ONGOING_FLOOR * evidence / FIRE
        strength = (evidence - FIRE) / (1.0 - FIRE)
        if was_calm and self.since_onset >= self.config.hold:
            self.since_onset = 0
            return ONSET_FLOOR + (1.0 - ONSET_FLOOR) * strength
        return ONGOING_FLOOR + (ONSET_FLOOR - ONGOING_FLOOR) * 0.999 * strength

    def _verdict(self, score: float, component: str, warm: bool) -> Assessment:
        f = self.forecaster
        expected, spread = f.expected, f.scale
        if self.counter.is_counter:  # explain in counter units: where the count should be
            guard = self.counter
            expected, spread = guard.baseline + expected * guard.elapsed, spread * guard.elapsed
        band = self.config.band_width * spread
        self.last_expected = expected
        return Assessment(
            score=score,
            expected=expected,
            lower=expected - band,
            upper=expected + band,
            component=component,
            warm=warm,
        )

    def _quiet(self, value: float, why: str) -> Assessment:
        expected = self.last_expected if self.last_expected == self.last_expected else value
        if not math.isfinite(expected):
            expected = 0.0
        return Assessment(0.0, expected, expected, expected, why, warm=False)


def make_detector(config: DetectorConfig = DEFAULT_CONFIG) -> SeriesDetector:
    """The production detector for one series: the ensemble, falling back to a robust z-score."""
    return FallbackDetector(EnsembleDetector(config))
