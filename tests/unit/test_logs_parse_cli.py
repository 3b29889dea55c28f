from __future__ import annotations

import csv
from pathlib import Path

from benchmarks.logparse import evaluate, parse


def test_every_line_gets_a_row_with_its_template_in_order(tmp_path: Path) -> None:
    source = tmp_path / "raw.log"
    source.write_text(
        "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block "
        "blk_38 terminating\n"
        'odd, "quoted" line 7\n'
        "\n"
        "081109 203616 149 INFO dfs.DataNode$PacketResponder: PacketResponder 2 for block "
        "blk_99 terminating\n",
        encoding="utf-8",
    )
    target = tmp_path / "out.csv"
    assert parse(source, target) == 4
    with target.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["line_no", "template_id", "template"]
    assert [row[0] for row in rows[1:]] == ["1", "2", "3", "4"]
    assert rows[1][1] == rows[4][1]
    assert rows[1][2] == "PacketResponder <*> for block <*> terminating"
    assert rows[2][2] == 'odd, "quoted" line <*>'


def test_evaluation_reports_grouping_accuracy_per_format() -> None:
    summary = evaluate(300, [0], headers=False)
    formats = summary["formats"]
    assert isinstance(formats, dict) and "hdfs" in formats
    assert 0.0 <= float(str(summary["grouping_accuracy"])) <= 1.0
