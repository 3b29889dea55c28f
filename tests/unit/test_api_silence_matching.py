"""Silence and maintenance-window matching (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.api.silences.matching import Matcher, Op, SilenceRule, check_pattern, silenced_by

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LABELS = {"service": "payments", "env": "prod", "metric": "cpu"}


def _rule(*matchers: Matcher, start: int = 0, end: int = 60) -> SilenceRule:
    return SilenceRule("s1", matchers, T0 + timedelta(minutes=start), T0 + timedelta(minutes=end))


@pytest.mark.parametrize(
    ("matcher", "expected"),
    [
        (Matcher("service", Op.EQ, "payments"), True),
        (Matcher("service", Op.EQ, "pay"), False),
        (Matcher("service", Op.NE, "checkout"), True),
        (Matcher("service", Op.RE, "pay.*"), True),
        (Matcher("service", Op.RE, "pay"), False),  # regexes match the whole value
        (Matcher("env", Op.NOT_RE, "dev|staging"), True),
        (Matcher("team", Op.EQ, ""), True),  # a missing label is ""
    ],
)
def test_matchers(matcher: Matcher, expected: bool) -> None:
    assert matcher.matches(LABELS) is expected


def test_every_matcher_must_match() -> None:
    rule = _rule(Matcher("service", Op.EQ, "payments"), Matcher("env", Op.EQ, "staging"))
    assert silenced_by([rule], LABELS, T0 + timedelta(minutes=1)) is None


def test_silence_applies_only_within_its_time_range() -> None:
    rule = _rule(Matcher("service", Op.EQ, "payments"), start=10, end=20)
    assert silenced_by([rule], LABELS, T0 + timedelta(minutes=5)) is None
    assert silenced_by([rule], LABELS, T0 + timedelta(minutes=10)) == "s1"
    assert silenced_by([rule], LABELS, T0 + timedelta(minutes=20)) is None


def test_a_silence_without_matchers_silences_nothing() -> None:
    assert silenced_by([_rule()], LABELS, T0) is None


def test_invalid_regex_is_rejected() -> None:
    with pytest.raises(ValueError):
        check_pattern("(unclosed")
