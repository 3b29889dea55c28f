"""Masking of variable parts of a log line, loghub style: numbers, ids, addresses, dates.

The rules are deliberately few and cheap (three regular-expression passes run in C): a word
that contains a digit is a variable (`blk_3886`, `0x1f`, `10.0.0.1`, `4b2e...`), and so is a
month-day date (`Jun 14`). Runs of variables joined by punctuation collapse into one
(`10.0.0.1:8080` -> `<*>`), so that an address or a timestamp is one token whatever its shape.

Examples
--------
>>> mask("Received block blk_-1608 of size 67108864 from /10.250.19.102:54106")
'Received block <*> of size <*> from /<*>'
>>> mask("close, 1,044 bytes (1.01 KB) sent, 403 bytes received")
'close, <*> bytes sent, <*> bytes received'
>>> mask("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown")
'<*> <*> combo sshd(pam_unix)[<*>]: check pass; user unknown'
"""

from __future__ import annotations

import re

WILDCARD = "<*>"

# Written so that the scan is linear: a lookbehind instead of a word boundary before an
# alternation, a possessive prefix instead of backtracking over every word.
_MONTH_DAY = re.compile(
    r"(?<!\w)(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) +)?"
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? +\d\d?\b"
)
# A word (letters, digits, `_`, `-`) holding a digit: `blk_-1608`, `R02-M1`, `x86_64`, `4b2e`,
# and hex strings of eight or more characters even without a digit (`afffbaaa`).
_DIGIT_WORD = re.compile(r"\b[A-Za-z_-]*+\d[\w-]*|\b[a-f]{8,}\b")
# Variables glued by punctuation: dates, times, addresses, versions, ranges.
_GLUED = re.compile(r"<\*>(?:[.:/,\-+]*<\*>)+")
# A quantity restated in other units in brackets ("1,044 bytes (1.01 KB)") is one parameter:
# the restatement is dropped, so the line has the shape of one without it ("403 bytes").
_UNITS = r"(?:[KMGTP]i?B|[KMGTP]?bytes?|B|ms|us|ns|s|secs?|seconds?|min|h|hours?|%)"
_RESTATED = re.compile(r"(<\*> ?" + _UNITS + r") \(<\*> ?" + _UNITS + r"\)")
# Characters that separate tokens besides whitespace.
_SEPARATORS = str.maketrans({"|": " ", "\t": " "})


def mask(line: str) -> str:
    """The line with its variable parts replaced by `<*>` (see the module docstring)."""
    masked = _DIGIT_WORD.sub(WILDCARD, _MONTH_DAY.sub(WILDCARD, line))
    if "<*>" in masked:
        masked = _GLUED.sub(WILDCARD, masked)
        if "(<*>" in masked:
            masked = _RESTATED.sub(r"\1", masked)
    return masked


def tokenize(masked: str) -> list[str]:
    """Split a masked line into tokens (whitespace and `|` separate them)."""
    return masked.translate(_SEPARATORS).split()
