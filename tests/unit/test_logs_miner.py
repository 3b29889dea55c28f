from __future__ import annotations

import json

import pytest

from benchmarks.scenarios.logcorpus import corpus, grouping_accuracy
from services.detect.logs.headers import HeaderStripper
from services.detect.logs.masking import mask
from services.detect.logs.miner import MinerConfig, TemplateMiner


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ("Received block blk_-1608 of size 67108864", "Received block <*> of size <*>"),
        ("connect to 10.0.0.12:5432 failed", "connect to <*> failed"),
        ("session 4f9a0c2e1b7d closed", "session <*> closed"),
        ("request afffbaaa done", "request <*> done"),
        ("at 2024-03-01 12:00:01,123 ok", "at <*> <*> ok"),
        ("plain words only", "plain words only"),
    ],
)
def test_numbers_ids_addresses_and_times_are_masked(line: str, masked: str) -> None:
    assert mask(line) == masked


def test_lines_of_one_event_share_one_template_with_wildcards_for_variables() -> None:
    miner = TemplateMiner()
    first, created = miner.add("Accepted password for alice from 10.0.0.1 port 22 ssh2")
    second, again = miner.add("Accepted password for bob from 10.0.0.9 port 4122 ssh2")
    other, other_created = miner.add("Connection closed by 10.0.0.9 [preauth]")
    assert created and not again and other_created
    assert second is first
    assert first.text == "Accepted password for <*> from <*> port <*> <*>"
    assert other.id != first.id


def test_events_differing_in_their_leading_word_stay_apart() -> None:
    miner = TemplateMiner()
    opened, _ = miner.add("session opened for user root by (uid=0)")
    closed, _ = miner.add("session closed for user root by (uid=0)")
    assert opened.id != closed.id


def test_template_ids_survive_a_snapshot_and_restore() -> None:
    miner = TemplateMiner()
    lines = [f"user u{i} logged in from host-{i % 3}.example.org" for i in range(20)]
    lines += [f"payment {i} failed: card declined" for i in range(20)]
    ids = {miner.add(line)[0].id for line in lines}
    data = json.loads(json.dumps(miner.snapshot()))  # what the state store keeps
    restored = TemplateMiner.restore(data)
    for line in ("user u99 logged in from host-1.example.org", "payment 77 failed: card declined"):
        template, created = restored.add(line)
        assert not created
        assert template.id in ids
    assert {t.id: t.text for t in restored.templates.values()} == {
        t.id: t.text for t in miner.templates.values()
    }


def test_the_same_template_gets_the_same_id_in_another_process() -> None:
    lines = ["disk /dev/sda1 is 91% full", "disk /dev/sdb2 is 95% full", "GC pause of 120 ms"]
    first, second = TemplateMiner(), TemplateMiner()
    assert [first.add(line)[0].id for line in lines] == [second.add(line)[0].id for line in lines]


def test_headers_are_cut_so_the_same_message_from_two_components_is_one_template() -> None:
    miner = TemplateMiner()
    a, _ = miner.add("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: session closed for user root")
    b, _ = miner.add("Jul  2 04:01:11 combo su(pam_unix)[2100]: session closed for user news")
    assert a is b
    assert a.text == "session closed for user <*>"


def test_lines_without_a_header_are_left_as_they_are() -> None:
    strip = HeaderStripper()
    assert strip("user alice logged in") == "user alice logged in"
    assert strip("2024-01-01T10:00:00Z ERROR db timeout") == "db timeout"


def test_memory_is_bounded_by_evicting_the_least_recently_seen_template() -> None:
    miner = TemplateMiner(MinerConfig(max_templates=10))
    for i in range(50):
        miner.add(f"event{chr(97 + i % 26)}{chr(97 + i // 26)} happened")
    assert len(miner.templates) == 10
    assert miner.evicted == 40


@pytest.mark.parametrize("name", ["hdfs", "openssh", "linux", "zookeeper", "spark"])
def test_grouping_accuracy_on_labelled_corpora_with_headers(name: str) -> None:
    data = corpus(name, 1000, seed=7)
    miner = TemplateMiner()
    parsed = [miner.add(line)[0].id for line, _ in data]
    assert grouping_accuracy([event for _, event in data], parsed) >= 0.95


def test_grouping_accuracy_counts_only_exactly_recovered_groups() -> None:
    truth = ["a", "a", "b", "b", "c"]
    assert grouping_accuracy(truth, ["1", "1", "2", "2", "3"]) == 1.0
    assert grouping_accuracy(truth, ["1", "1", "1", "2", "3"]) == pytest.approx(1 / 5)
