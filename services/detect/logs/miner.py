"""Online log template mining: one pass, one line at a time, bounded memory. Pure domain.

A line is masked (`masking.mask`), split into tokens and matched against the templates of its
length that share its *anchors*: the first few plain words of the line (`Receiving`, `block`),
which in practice name the event, while headers, numbers, paths and host names do not. Among
those, the template agreeing with the line on the largest share of its constant tokens wins if
that share reaches `similarity`; the positions where they disagree become `<*>`. Otherwise the
line starts a new template. This is the Drain idea with a header-tolerant routing key, plus
three rules that hold on real systems' logs (Loghub), none keyed to a system:

- *Parameters of varying length.* Templates are also indexed by their *shape*, the text with
  each run of `<*>` written once. A line that starts a template whose shape an existing template
  of another length already has joins that template; a template that generalises into the shape
  of another of a different length is merged into it. The merged-away template stays in its
  routing group as a forwarder (its lines keep reaching the survivor), and its id stays
  resolvable (`resolve`, `aliases`); `drain_merges` tells the caller (the logs monitor folds the
  counts and rate baselines over, so a merge is no rate shift).
- *Settled constants.* A template that matched `settled_after` lines without changing does not
  turn one of its plain words into `<*>` for a single other line: that line starts its own
  template (a client or state name constant for a long time is part of the event).
- *Token shapes.* `key=value` keeps its key when only the value varies (`rhost=<*>`); a template
  of wildcards only takes lines of wildcards only (`jetty-6.1.26` is not `enabled:true`).

A masked line seen before maps straight to its template through a cache, so a steady stream
costs one masking pass and one dictionary lookup per line.

A template's id is fixed when it is created: a hash of its tokens then. The same template
therefore keeps its id while it generalises, across a snapshot and restore, and in another
process that sees the same first line. Memory is bounded: `max_templates` (live templates
and forwarders together; least recently seen evicted first, counted in `evicted`), at most
`MAX_TOKENS` tokens per template, a capped cache and alias map.

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

SNAPSHOT_VERSION = 2
MAX_TOKENS = 256  # tokens kept per line: a template's memory is bounded whatever the line

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


def shape_of(tokens: list[str]) -> str:
    """A template's text with each run of `<*>` written once: equal for templates that differ
    only in how many tokens a parameter spans ("1,044 bytes (1.01 KB)" against "7 bytes")."""
    out: list[str] = []
    for token in tokens:
        if token != WILDCARD or not out or out[-1] != WILDCARD:
            out.append(token)
    return " ".join(out)


def _generalise(mine: str, theirs: str) -> str:
    """The wildcard two disagreeing tokens share: `key=<*>` for key=value pairs with one key."""
    key, eq, _ = mine.partition("=")
    if eq and key and theirs.startswith(key + "=") and "<" not in key:
        return key + "=" + WILDCARD
    return WILDCARD


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
    stable: int = 0  # lines matched since the template last generalised
    # Set once merged into another template: it stays in its routing group as a forwarder, so
    # lines of its shape keep reaching the survivor (`absorbed` lists the survivor's forwarders).
    into: Template | None = None
    absorbed: list[Template] = field(default_factory=list)
    text: str = field(default="", init=False)

    def __post_init__(self) -> None:
        self.text = " ".join(self.tokens)


@dataclass(frozen=True)
class MinerConfig:
    """Tuning of the miner; the defaults are the benchmarked ones."""

    similarity: float = 0.6  # share of constant tokens that must agree to join a template
    depth: int = 2  # routing words per line
    max_templates: int = 5_000  # least recently seen templates are evicted past this
    cache_size: int = 50_000  # masked lines remembered for the fast path
    # A template that matched this many lines without a position changing has its constants
    # settled: a line disagreeing on a plain word starts its own template instead (0 = never).
    settled_after: int = 100
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
        self.merged = 0
        self.aliases: dict[str, str] = {}  # id of a merged-away template -> id it joined
        self.merges: list[tuple[str, str]] = []  # (old, new) since the caller last drained it
        self._shapes: dict[str, Template] = {}
        self._forwarders = 0
        self._strip = HeaderStripper().strip if self.config.strip_headers else None

    def add(self, line: str) -> tuple[Template, bool]:
        """Match one line, learning from it; `created` is True for a brand-new template."""
        self.lines += 1
        masked = mask(self._strip(line) if self._strip is not None else line)
        template = self._cache.get(masked)
        if template is not None:
            template.count += 1
            template.stable += 1
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

    def resolve(self, tid: str) -> Template:
        """The live template an id names now (following merges); KeyError if evicted."""
        for _ in range(len(self.aliases) + 1):
            if tid not in self.aliases:
                break
            tid = self.aliases[tid]
        return self.templates[tid]

    def drain_merges(self) -> list[tuple[str, str]]:
        """The (old id, surviving id) merges since the last call, oldest first."""
        merges, self.merges = self.merges, []
        return merges

    def _merge(self, old: Template, survivor: Template) -> None:
        """Fold `old` into `survivor`; `old.id` stays resolvable through `aliases`."""
        del self.templates[old.id]
        self._forget_shape(old)
        old.into = survivor
        for forwarder in old.absorbed:
            forwarder.into = survivor
        survivor.absorbed += [old, *old.absorbed]
        old.absorbed = []
        self._forwarders += 1
        survivor.count += old.count
        survivor.last_seen = max(survivor.last_seen, old.last_seen)
        if len(self.aliases) >= 2 * self.config.max_templates:
            del self.aliases[next(iter(self.aliases))]  # oldest alias: bounded memory
        self.aliases[old.id] = survivor.id
        self.merges.append((old.id, survivor.id))
        del self.merges[: -self.config.max_templates]
        self._cache.clear()  # it may point at the merged-away template
        self.merged += 1

    def _match(self, tokens: list[str]) -> tuple[Template, bool]:
        del tokens[MAX_TOKENS:]
        anchors = anchors_of(tokens, self.config.depth)
        key = (len(tokens), anchors)
        group = self._groups.setdefault(key, [])
        best, disagree = self._best(group, tokens)
        if best is None:
            twin = self._shapes.get(shape_of(tokens))
            if twin is not None and len(twin.tokens) != len(tokens):  # a longer/shorter parameter
                return twin, False
            return self._create(tokens, anchors, group), True
        if best.into is not None:  # a merged-away template: its lines are the survivor's
            for position in disagree:
                best.tokens[position] = _generalise(best.tokens[position], tokens[position])
            return best.into, False
        if disagree:
            old_shape = shape_of(best.tokens)
            for position in disagree:
                best.tokens[position] = _generalise(best.tokens[position], tokens[position])
            best.text = " ".join(best.tokens)
            best.stable = 0
            if self._shapes.get(old_shape) is best:
                del self._shapes[old_shape]
            shape = shape_of(best.tokens)
            twin = self._shapes.get(shape)
            if twin is not None and len(twin.tokens) != len(best.tokens):
                self._merge(best, twin)  # the older template keeps its id
                return twin, False
            self._shapes[shape] = best
        else:
            best.stable += 1
        return best, False

    def _best(
        self, group: list[Template] | tuple[()], tokens: list[str]
    ) -> tuple[Template | None, list[int]]:
        """The most similar template of a group and the positions where it disagrees."""
        best: Template | None = None
        best_score = -1.0
        best_disagree: list[int] = []
        threshold = self.config.similarity
        settle = self.config.settled_after
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
            if disagree and settle and template.stable >= settle:
                if any(_PLAIN_WORD.fullmatch(template.tokens[p]) for p in disagree):
                    continue
            if not constants:  # an all-`<*>` template takes only lines masked as wholly
                constants, agree = 1, all(token == WILDCARD for token in tokens)
            score = agree / constants
            if score >= threshold and score > best_score:
                best, best_score, best_disagree = template, score, disagree
        return best, best_disagree

    def _create(
        self,
        tokens: list[str],
        anchors: tuple[tuple[int, str], ...],
        group: list[Template],
    ) -> Template:
        if len(self.templates) + self._forwarders >= self.config.max_templates:
            self._evict_one()
        new_id = template_id(tokens)
        if new_id in self.templates:  # an evicted template came back while its twin lives on
            new_id = template_id([*tokens, str(self.lines)])
        template = Template(id=new_id, tokens=list(tokens), anchors=anchors)
        self._link(template)
        return template

    def _link(self, template: Template) -> None:
        self.templates[template.id] = template
        self._groups.setdefault((len(template.tokens), template.anchors), []).append(template)
        self._shapes.setdefault(shape_of(template.tokens), template)

    def _unlink_forwarder(self, template: Template) -> None:
        self._forwarders -= 1
        self._ungroup(template)

    def _unlink(self, template: Template) -> None:
        del self.templates[template.id]
        self._ungroup(template)

    def _ungroup(self, template: Template) -> None:
        key = (len(template.tokens), template.anchors)
        self._groups[key].remove(template)
        if not self._groups[key]:
            del self._groups[key]
        self._forget_shape(template)

    def _forget_shape(self, template: Template) -> None:
        """Drop the shape index entry if it is this template's (another may own the shape)."""
        shape = shape_of(template.tokens)
        if self._shapes.get(shape) is template:
            del self._shapes[shape]

    def _evict_one(self) -> None:
        oldest = min(self.templates.values(), key=lambda t: t.last_seen)
        self._unlink(oldest)
        for forwarder in oldest.absorbed:
            self._unlink_forwarder(forwarder)
        self._cache.clear()  # it may point at the evicted template
        self.evicted += 1

    # -- persistence -------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The miner's templates as plain data (JSON-serialisable)."""
        return {
            "v": SNAPSHOT_VERSION,
            "lines": self.lines,
            "templates": [
                [t.id, t.tokens, t.count, t.last_seen, t.stable] for t in self.templates.values()
            ],
            "forwarders": [
                [f.id, f.tokens, t.id] for t in self.templates.values() for f in t.absorbed
            ],
            "aliases": self.aliases,
        }

    @classmethod
    def restore(cls, data: dict[str, Any], config: MinerConfig | None = None) -> TemplateMiner:
        """A miner continuing from `snapshot()` output; ids and templates are kept as they were."""
        if data.get("v") not in (1, SNAPSHOT_VERSION):  # v1: no stability, forwarders, aliases
            raise ValueError(f"unsupported template snapshot version {data.get('v')!r}")
        miner = cls(config)
        miner.lines = int(data["lines"])
        for tid, tokens, count, last_seen, *stable in data["templates"]:
            anchors = anchors_of(tokens, miner.config.depth)
            template = Template(
                id=str(tid), tokens=list(tokens), anchors=anchors, count=count, last_seen=last_seen
            )
            template.stable = int(stable[0]) if stable else 0
            miner._link(template)
        for fid, tokens, into in data.get("forwarders", []):
            survivor = miner.templates[str(into)]
            forwarder = Template(
                id=str(fid), tokens=list(tokens), anchors=anchors_of(tokens, miner.config.depth)
            )
            forwarder.into = survivor
            survivor.absorbed.append(forwarder)
            key = (len(forwarder.tokens), forwarder.anchors)
            miner._groups.setdefault(key, []).append(forwarder)
            miner._forwarders += 1
        miner.aliases = {str(k): str(v) for k, v in data.get("aliases", {}).items()}
        return miner
