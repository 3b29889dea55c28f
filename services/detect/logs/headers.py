"""Strip the header (time, host, pid, level, component) from raw log lines. Pure domain.

Raw files carry a header in front of the message: `Jun 14 15:16:01 combo sshd[19939]: ...`,
`081109 203615 148 INFO dfs.DataNode: ...`. A template describes the message, so the header is
cut off first. The patterns are those of common formats (syslog, log4j-style, logcat, Apache,
Windows CBS, Zookeeper, supercomputer RAS logs, proxies, OpenStack); a line matching none is
left as it is, so structured sources, whose bodies are already the message, pass unchanged.

The last pattern that matched is tried first, and after many lines without a header the
stripper only looks now and then, so it costs little on either kind of stream.

Examples
--------
>>> strip = HeaderStripper()
>>> strip("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown")
'check pass; user unknown'
>>> strip("081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 terminating")
'PacketResponder 1 terminating'
>>> strip("user alice logged in")
'user alice logged in'
"""

from __future__ import annotations

import re

_LEVEL = (
    r"(?:TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|SEVERE|FATAL|CRITICAL|"
    r"Trace|Debug|Info|Notice|Warn|Warning|Error|Fatal|Critical)"
)
_MON = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_DATE = r"(?:\d{4}-\d\d-\d\d|\d\d/\d\d/\d\d|\d{6}|\d{4}/\d\d/\d\d)"
_TIME = r"(?:\d\d:?\d\d:?\d\d(?:[.,:]\d+)?)"

PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p)
    for p in (
        # syslog: "Jun 14 15:16:01 host prog[pid]: " (with an optional "(address)")
        rf"{_MON} +\d\d? \d\d:\d\d:\d\d \S+ [^\s:\[]+(?:\[\d+\])?(?: \([^)]*\))?: ",
        # log4j-style: "date time [pid] LEVEL [thread] component: "
        rf"{_DATE}[ T]{_TIME}(?:Z|[+-]\d\d:?\d\d)?(?: \d+)? +{_LEVEL} +(?:\[[^\]]*\] +)?"
        r"[\w.$@/-]+: ",
        # Zookeeper: "date time,ms - LEVEL  [thread:Class@line] - "
        rf"{_DATE} {_TIME} - {_LEVEL} +\[.*?\] - ",
        # OpenStack: "file date time pid LEVEL component [request] "
        rf"\S+ {_DATE} {_TIME} \d+ {_LEVEL} \S+ \[[^\]]*\] ",
        # ISO time and level, no component: "2024-01-01T10:00:00Z ERROR "
        rf"{_DATE}[ T]{_TIME}(?:Z|[+-]\d\d:?\d\d)? +\[?{_LEVEL}\]? +",
        # logcat: "03-17 16:13:38.811  1702  2395 D Tag: "
        r"\d\d-\d\d \d\d:\d\d:\d\d\.\d+ +\d+ +\d+ [VDIWEF] [^:]+?: ",
        # Apache error log: "[Sun Dec 04 04:47:44 2005] [notice] "
        rf"\[{_DAY} {_MON} \d\d \d\d:\d\d:\d\d \d{{4}}\] \[\w+\] ",
        # Windows CBS: "2016-09-28 04:30:30, Info                  CBS    "
        rf"{_DATE} {_TIME}, \w+ +\S+ +",
        # pipe-separated: "20171223-22:15:29:606|Step_LSC|30002312|"
        r"\d{8}-\d\d?:\d\d?:\d\d?:\d+\|[^|]*\|\d+\|",
        # Thunderbird: "- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond[2915]: "
        rf"\S+ \d+ \d{{4}}\.\d\d\.\d\d \S+ {_MON} +\d\d? \d\d:\d\d:\d\d \S+ [^:]+?(?:\[\d+\])?: ",
        # BGL RAS: "- 1117838570 2005.06.03 node 2005-06-03-15.42.50.675872 node RAS KERNEL INFO "
        r"\S+ \d+ \d{4}\.\d\d\.\d\d \S+ \d{4}-\d\d-\d\d-\d\d\.\d\d\.\d\d\.\d+ \S+ \S+ \S+ \S+ ",
        # HPC: "134681 node-246 unix.hw state_change.unavailable 1077804742 1 "
        r"\d+ \S+ \S+ \S+ \d{9,10} \d+ ",
        # proxy: "[10.30 16:49:06] chrome.exe - "
        r"\[\d\d\.\d\d \d\d:\d\d:\d\d\] \S+(?: \*\d+)? - ",
    )
)


class HeaderStripper:
    """Removes a recognised header from each line; `strip(line)` is the whole interface."""

    def __init__(self, *, give_up_after: int = 200, retry_every: int = 500) -> None:
        self.give_up_after = give_up_after
        self.retry_every = retry_every
        self._preferred = PATTERNS[0]
        self._misses = 0

    def strip(self, line: str) -> str:
        """The line without its header (unchanged when none is recognised)."""
        match = self._preferred.match(line)
        if match is None:
            if self._misses >= self.give_up_after and self._misses % self.retry_every:
                self._misses += 1
                return line
            for pattern in PATTERNS:
                match = pattern.match(line)
                if match is not None:
                    self._preferred = pattern
                    break
            else:
                self._misses += 1
                return line
        self._misses = 0
        rest = line[match.end() :]
        return rest if rest.strip() else line

    __call__ = strip
