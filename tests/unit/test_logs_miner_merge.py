"""The miner on real-log shapes: varying-length parameters, merges, settled constants, limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from services.core.events import LogRecord, Severity
from services.detect.logs.miner import MAX_TOKENS, MinerConfig, TemplateMiner
from services.detect.logs.monitor import LogsMonitor

# A path parameter spanning two tokens, then one: the same event written two ways.
LONG = ["opened /srv/a b/x.txt for reading", "opened /srv/c d/y.txt for reading"]
SHORT = ["opened /srv/z.txt for reading", "opened /srv/w.txt for reading"]


def test_a_parameter_spanning_a_varying_number_of_tokens_ends_in_one_template() -> None:
    miner = TemplateMiner()
    ids = [miner.add(line)[0].id for line in [*LONG, *SHORT, "opened /srv/v.txt for reading"]]
    final = {miner.resolve(tid).id for tid in ids}
    assert len(final) == 1
    assert len(miner.templates) == 1
    assert miner.merged == 1
    (survivor,) = miner.templates.values()
    assert survivor.count == 5
    assert survivor.text == "opened <*> <*> for reading"


def test_a_merged_away_id_stays_resolvable_also_after_a_restore() -> None:
    miner = TemplateMiner()
    long_id = [miner.add(line)[0].id for line in LONG][0]
    short_id = miner.add(SHORT[0])[0].id
    assert short_id != long_id
    miner.add(SHORT[1])
    assert miner.drain_merges() == [(short_id, long_id)]
    assert miner.drain_merges() == []
    assert miner.resolve(short_id).id == long_id
    restored = TemplateMiner.restore(json.loads(json.dumps(miner.snapshot())))
    assert restored.resolve(short_id).id == long_id
    template, created = restored.add("opened /srv/q.txt for reading")
    assert (template.id, created) == (long_id, False)


def test_two_miners_fed_the_same_lines_give_the_same_ids_and_merges() -> None:
    lines = [*LONG, *SHORT, "disk /dev/sda1 is 91% full", "disk /dev/sdb2 is 95% full"]
    first, second = TemplateMiner(), TemplateMiner()
    assert [first.add(line)[0].id for line in lines] == [second.add(line)[0].id for line in lines]
    assert first.aliases == second.aliases


def test_a_word_constant_over_many_lines_is_not_generalised_by_one_other_line() -> None:
    settled = TemplateMiner(MinerConfig(settled_after=50))
    young = TemplateMiner(MinerConfig(settled_after=50))
    for i in range(60):
        settled.add(f"Session: {i}_{i} initialized by client WindowsUpdateAgent.")
    for i in range(10):
        young.add(f"Session: {i}_{i} initialized by client WindowsUpdateAgent.")
    other = "Session: 7_7 initialized by client SPP."
    assert settled.add(other)[1] is True
    assert young.add(other)[1] is False


def test_an_all_wildcard_template_does_not_swallow_other_one_word_lines() -> None:
    miner = TemplateMiner()
    version, _ = miner.add("jetty-6.1.26")
    flag, _ = miner.add("nodeBlacklistingEnabled:true")
    assert version.id != flag.id
    assert miner.add("jetty-7.0.1")[0] is version


def test_key_value_pairs_keep_their_key_when_the_value_varies() -> None:
    miner = TemplateMiner()
    miner.add("login failed ruser=alpha tty=ssh")
    template, _ = miner.add("login failed ruser=beta tty=ssh")
    assert template.text == "login failed ruser=<*> tty=ssh"


def test_a_flood_of_unique_lines_keeps_memory_bounded_and_counts_what_went() -> None:
    miner = TemplateMiner(MinerConfig(max_templates=50, cache_size=100))
    words = "abcdefghijklmnopqrstuvwxyz"
    for i in range(5_000):
        unique = "".join(words[(i // 26**k) % 26] for k in range(3))
        miner.add(f"{unique} {unique}x {unique}y happened")
    assert len(miner.templates) <= 50
    assert miner.evicted >= 5_000 - 50
    assert len(miner._cache) <= 100
    template, _ = miner.add("word " * 10_000)
    assert len(template.tokens) == MAX_TOKENS


def test_the_monitor_carries_a_merged_templates_counts_over_to_the_survivor() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    monitor = LogsMonitor()
    for second, line in enumerate([*LONG, *SHORT]):
        monitor.observe(
            LogRecord(
                timestamp=start + timedelta(seconds=second),
                service="files",
                severity=Severity.WARNING,
                body=line,
            )
        )
    (state,) = monitor.services.values()
    (survivor,) = state.miner.templates.values()
    assert list(state.stats) == [survivor.id]
    assert state.stats[survivor.id].count == 4
    assert state.stats[survivor.id].bad_lines == 4


def test_a_checkpoint_written_before_merges_existed_still_restores() -> None:
    first = "disk /dev/sda1 is 91% full"
    miner = TemplateMiner()
    template, _ = miner.add(first)
    old = {"v": 1, "lines": 1, "templates": [[template.id, template.tokens, 1, 1]]}
    restored = TemplateMiner.restore(old)
    assert restored.add("disk /dev/sdb2 is 95% full")[0].id == template.id


def test_a_size_restated_in_other_units_is_one_parameter() -> None:
    miner = TemplateMiner()
    small, _ = miner.add("app.exe - host:443 close, 403 bytes sent, 426 bytes received")
    large, _ = miner.add(
        "app.exe - host:443 close, 1,044 bytes (1.01 KB) sent, 2,034 bytes received"
    )
    assert large is small
