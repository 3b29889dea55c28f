"""Silence and maintenance-window matching. Pure domain logic.

A silence holds label matchers and a time range. A signal is silenced when, at its time, a
silence is active and every one of its matchers matches the signal's labels (Alertmanager
semantics: `=`, `!=`, `=~`, `!~`; regexes match the whole value; a missing label is "").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache


class Op(StrEnum):
    EQ = "="
    NE = "!="
    RE = "=~"
    NOT_RE = "!~"


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def check_pattern(pattern: str) -> None:
    """Raise ValueError if `pattern` is not a valid regular expression."""
    try:
        _compiled(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc


@dataclass(frozen=True)
class Matcher:
    """One condition on one label.

    Examples
    --------
    >>> Matcher("service", Op.RE, "check.*").matches({"service": "checkout"})
    True
    >>> Matcher("env", Op.NE, "prod").matches({})
    True
    """

    label: str
    op: Op
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.label, "")
        match self.op:
            case Op.EQ:
                return actual == self.value
            case Op.NE:
                return actual != self.value
            case Op.RE:
                return _compiled(self.value).fullmatch(actual) is not None
            case Op.NOT_RE:
                return _compiled(self.value).fullmatch(actual) is None


@dataclass(frozen=True)
class SilenceRule:
    """A silence as matching needs it."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime

    def active_at(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at

    def matches(self, labels: Mapping[str, str], at: datetime) -> bool:
        """Active at `at` and every matcher matches (a silence without matchers matches none)."""
        return (
            bool(self.matchers)
            and self.active_at(at)
            and all(m.matches(labels) for m in self.matchers)
        )


def silenced_by(
    rules: Iterable[SilenceRule], labels: Mapping[str, str], at: datetime
) -> str | None:
    """The id of the first silence that silences a signal with `labels` at `at`, or None."""
    for rule in rules:
        if rule.matches(labels, at):
            return rule.id
    return None


def rule_from(
    silence_id: str,
    matchers: Sequence[Mapping[str, str]],
    starts_at: datetime,
    ends_at: datetime,
) -> SilenceRule:
    """Build a rule from stored matchers (`{"label", "op", "value"}` dicts)."""
    parsed = tuple(Matcher(m["label"], Op(m["op"]), m["value"]) for m in matchers)
    return SilenceRule(silence_id, parsed, starts_at, ends_at)
