"""Online log template mining: one pass, one line at a time, bounded memory. Pure domain.

A line is masked (`masking.mask`), split into tokens and matched against the templates of its
length that share its *anchors*: the first few plain words of the line (`Receiving`, `block`),
which in practice name the event, while headers, numbers, paths and host names do not. Among
those, the template agreeing with the line on the largest share of its constant tokens wins if
that share reaches `similarity`; the positions where they disagree become `<*>`. Otherwise the
line starts a new template. This is the Drain idea with a header-tolerant routing key.

A masked line seen before maps straight to its template through a cache, so a steady stream
costs one masking pass and one dictionary lookup per line.

A template's id is fixed when it is created: a hash of its tokens then. The same template
therefore keeps its id while it generalises, across a snapshot and restore, and in another
process that sees the same first line.

Examples
--------
>>> miner = TemplateMiner()
>>> first, created = miner.add("Accepted password for alice from 10.0.0.1 port 22 ssh2")
>>> created, first.text
(True, 'Accepted password for alice from <*> port <*> <*>')
>>> second, created = miner.add("Accepted password for bob from 10.0.0.7 port 40 ssh2")
>>> created, second.id == first.id, second.text
(False, True, 'Accepted password for <*> from <*> port <*> <*>')
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from services.detect.logs.headers import HeaderStripper
from services.detect.logs.masking import WILDCARD, mask, tokenize

SNAPSHOT_VERSION = 1

# Plain words route lines; levels and punctuation-wrapped header fields do not.
_PLAIN_WORD = re.compile(r"[\"'(\[{]?[A-Za-z][A-Za-z'_-]*[\"')\]}]?[:,;.!?]?")
_LEVELS = frozenset(
    "TRACE DEBUG INFO INFORMATION NOTICE WARN WARNING ERROR ERR SEVERE FATAL CRITICAL CRIT "
    "ALERT EMERG EMERGENCY FINE FINER FINEST CONFIG V D I W E F "
    "Trace Debug Info Information Notice Warn Warning Error Severe Fatal Critical".split()
)


def template_id(tokens: list[str]) -> str:
    """The stable id of a template: 16 hex characters hashed from its tokens."""
    return hashlib.blake2b(" ".join(tokens).encode(), digest_size=8).hexdigest()


def anchors_of(tokens: list[str], depth: int) -> tuple[tuple[int, str], ...]:
    """The first `depth` routing words of a token list, with their positions."""
    found: list[tuple[int, str]] = []
    for position, token in enumerate(tokens):
        if token not in _LEVELS and _PLAIN_WORD.fullmatch(token):
            found.append((position, token))
            if len(found) == depth:
                break
    return tuple(found)


@dataclass(eq=False, slots=True)
class Template:
    """One mined template: its id, tokens (`<*>` for variables) and how often it was seen."""

    id: str
    tokens: list[str]
    anchors: tuple[tuple[int, str], ...]
    count: int = 0
    last_seen: int = 0  # line number of the latest match, for eviction
    text: str = field(default="", init=False)

    def __post_init__(self) -> None:
        self.text = " ".join(self.tokens)


@dataclass(frozen=True)
class MinerConfig:
    """Tuning of the miner; the defaults are the benchmarked ones."""

    similarity: float = 0.5  # share of constant tokens that must agree to join a template
    depth: int = 2  # routing words per line
    max_templates: int = 5_000  # least recently seen templates are evicted past this
    cache_size: int = 50_000  # masked lines remembered for the fast path
    strip_headers: bool = True  # cut recognised headers (time, host, level...) off raw lines


class TemplateMiner:
    """Mines templates from a stream of lines; `add(line)` returns (template, created)."""

    def __init__(self, config: MinerConfig | None = None) -> None:
        self.config = config or MinerConfig()
        self.templates: dict[str, Template] = {}
        self._groups: dict[tuple[int, tuple[tuple[int, str], ...]], list[Template]] = {}
        self._cache: dict[str, Template] = {}
        self.lines = 0
        self.evicted = 0
        self._strip = HeaderStripper().strip if self.config.strip_headers else None

    def add(self, line: str) -> tuple[Template, bool]:
        """Match one line, learning from it; `created` is True for a brand-new template."""
        self.lines += 1
        masked = mask(self._strip(line) if self._strip is not None else line)
        template = self._cache.get(masked)
        if template is not None:
            template.count += 1
            template.last_seen = self.lines
            return template, False
        template, created = self._match(tokenize(masked))
        template.count += 1
        template.last_seen = self.lines
        if len(self._cache) >= self.config.cache_size:
            self._cache.clear()
        self._cache[masked] = template
        return template, created

    def match(self, line: str) -> Template | None:
        """The template a line belongs to, without learning anything (None if none fits)."""
        masked = mask(self._strip(line) if self._strip is not None else line)
        template = self._cache.get(masked)
        if template is not None:
            return template
        tokens = tokenize(masked)
        key = (len(tokens), anchors_of(tokens, self.config.depth))
        best, _ = self._best(self._groups.get(key, ()), tokens)
        return best

    def _match(self, tokens: list[str]) -> tuple[Template, bool]:
        anchors = anchors_of(tokens, self.config.depth)
        key = (len(tokens), anchors)
        group = self._groups.setdefault(key, [])
        best, disagree = self._best(group, tokens)
        if best is None:
            return self._create(tokens, anchors, group), True
        if disagree:
            for position in disagree:
                best.tokens[position] = WILDCARD
            best.text = " ".join(best.tokens)
        return best, False

    def _best(
        self, group: list[Template] | tuple[()], tokens: list[str]
    ) -> tuple[Template | None, list[int]]:
        """The most similar template of a group and the positions where it disagrees."""
        best: Template | None = None
        best_score = -1.0
        best_disagree: list[int] = []
        threshold = self.config.similarity
        for template in group:
            anchored = {p for p, _ in template.anchors}
            constants = agree = len(anchored)
            disagree = []
            for position, (mine, theirs) in enumerate(zip(template.tokens, tokens, strict=True)):
                if mine == WILDCARD or position in anchored:
                    continue
                constants += 1
                if mine == theirs:
                    agree += 1
                else:
                    disagree.append(position)
            score = agree / constants if constants else 1.0
            if score >= threshold and score > best_score:
                best, best_score, best_disagree = template, score, disagree
        return best, best_disagree

    def _create(
        self,
        tokens: list[str],
        anchors: tuple[tuple[int, str], ...],
        group: list[Template],
    ) -> Template:
        if len(self.templates) >= self.config.max_templates:
            self._evict_one()
        new_id = template_id(tokens)
        if new_id in self.templates:  # an evicted template came back while its twin lives on
            new_id = template_id([*tokens, str(self.lines)])
        template = Template(id=new_id, tokens=list(tokens), anchors=anchors)
        group.append(template)
        self.templates[template.id] = template
        return template

    def _evict_one(self) -> None:
        oldest = min(self.templates.values(), key=lambda t: t.last_seen)
        del self.templates[oldest.id]
        key = (len(oldest.tokens), oldest.anchors)
        self._groups[key].remove(oldest)
        if not self._groups[key]:
            del self._groups[key]
        self._cache.clear()  # it may point at the evicted template
        self.evicted += 1

    # -- persistence -------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The miner's templates as plain data (JSON-serialisable)."""
        return {
            "v": SNAPSHOT_VERSION,
            "lines": self.lines,
            "templates": [[t.id, t.tokens, t.count, t.last_seen] for t in self.templates.values()],
        }

    @classmethod
    def restore(cls, data: dict[str, Any], config: MinerConfig | None = None) -> TemplateMiner:
        """A miner continuing from `snapshot()` output; ids and templates are kept as they were."""
        if data.get("v") != SNAPSHOT_VERSION:
            raise ValueError(f"unsupported template snapshot version {data.get('v')!r}")
        miner = cls(config)
        miner.lines = int(data["lines"])
        for tid, tokens, count, last_seen in data["templates"]:
            anchors = anchors_of(tokens, miner.config.depth)
            template = Template(
                id=str(tid), tokens=list(tokens), anchors=anchors, count=count, last_seen=last_seen
            )
            miner.templates[template.id] = template
            miner._groups.setdefault((len(tokens), anchors), []).append(template)
        return miner
