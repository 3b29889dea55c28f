"""Mine log templates from a file of raw lines, streaming, with the production template miner.

    python benchmarks/logparse.py --input FILE --out FILE.csv
    python benchmarks/logparse.py --eval [--lines 2000] [--seeds 0,1,2] [--content-only]
    python benchmarks/logparse.py --loghub DIR [--json]

The first form reads raw log lines (one per line), hands each, in order and one at a time, to
`services.detect.logs.miner.TemplateMiner` and writes `line_no,template_id,template` for it
(line numbers from 1; the template as it stood when the line was read). Memory stays bounded
by the miner's template limit, whatever the file's size.

`--eval` scores grouping accuracy (the loghub measure) on generated corpora with known
templates in the header styles of public datasets (`benchmarks/scenarios/logcorpus.py`),
prints one JSON object per format and a summary with the average and the lines per second;
with drain3 installed, drain3 (default settings, loghub-style masking) is scored alongside.

`--loghub DIR` scores every system directory of DIR (loghub-dev's layout and protocol, see
`benchmarks/loghub_score.py`): grouping and parsing accuracy of the miner and of drain3 in the
same run, the miner's lines per second, and the machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.detect.logs.miner import TemplateMiner  # noqa: E402


def parse(source: Path, target: Path) -> int:
    """Stream `source` through the miner into `target`; returns the number of lines.

    Each line is assigned once, in order; a template merged into another later is written
    under the survivor's id (a second pass over a temporary file, so memory stays bounded)."""
    miner = TemplateMiner()
    count = 0
    with (
        source.open(encoding="utf-8", errors="replace", newline="") as lines,
        tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as spool,
    ):
        spooled = csv.writer(spool)
        for count, raw in enumerate(lines, start=1):  # noqa: B007 - count is the result
            template, _ = miner.add(raw.rstrip("\r\n"))
            spooled.writerow((count, template.id, template.text))
        spool.seek(0)
        with target.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(("line_no", "template_id", "template"))
            for line_no, tid, text in csv.reader(spool):
                writer.writerow((line_no, _final_id(miner, tid), text))
    return count


def _final_id(miner: TemplateMiner, tid: str) -> str:
    try:
        return miner.resolve(tid).id
    except KeyError:  # evicted since: the id it had is the best there is
        return tid


def _drain3_miner() -> object | None:
    try:
        from drain3 import TemplateMiner as Drain  # type: ignore[import-not-found]
        from drain3.masking import MaskingInstruction  # type: ignore[import-not-found]
        from drain3.template_miner_config import (  # type: ignore[import-not-found]
            TemplateMinerConfig,
        )
    except ImportError:
        return None
    import logging

    logging.getLogger("drain3").setLevel(logging.ERROR)
    config = TemplateMinerConfig()
    config.profiling_enabled = False
    edge = r"((?<=[^A-Za-z0-9])|^)"
    end = r"((?=[^A-Za-z0-9])|$)"
    config.masking_instructions = [
        MaskingInstruction(edge + r"(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})" + end, "IP"),
        MaskingInstruction(edge + r"(0x[a-f0-9A-F]+)" + end, "HEX"),
        MaskingInstruction(edge + r"([\-\+]?\d+)" + end, "NUM"),
    ]
    return Drain(config=config)


def _drain3_ids(lines: list[str]) -> list[str] | None:
    drain: Any = _drain3_miner()
    if drain is None:
        return None
    return [str(drain.add_log_message(line)["cluster_id"]) for line in lines]


def vigil_parse(lines: list[str]) -> tuple[list[str], list[str]]:
    """Final (group id, template) per line: ids resolved through merges, templates at the end."""
    miner = TemplateMiner()  # as `--input` runs it: the outside scorer's configuration
    ids = [miner.add(line)[0].id for line in lines]
    final = [miner.resolve(i) for i in ids]
    return [t.id for t in final], [t.text for t in final]


def drain3_parse(lines: list[str]) -> tuple[list[str], list[str]]:
    """Final (cluster id, template) per line from drain3 with the masking of `--eval`."""
    drain: Any = _drain3_miner()
    ids = [drain.add_log_message(line)["cluster_id"] for line in lines]
    clusters = {c.cluster_id: c for c in drain.drain.clusters}
    texts = [re.sub(r"<(?:IP|HEX|NUM)>", "<*>", clusters[i].get_template()) for i in ids]
    return [str(i) for i in ids], texts


def loghub(root: Path, as_json: bool) -> int:
    """Score the miner and drain3 on every system of `root`; prints a table and the means."""
    from benchmarks.loghub_score import score, systems
    from benchmarks.machine import describe

    with_drain = _drain3_miner() is not None
    rows: list[dict[str, Any]] = []
    for system in systems(root):
        row: dict[str, Any] = {"system": system.name, "vigil": score(system, vigil_parse)}
        if with_drain:
            row["drain3"] = score(system, drain3_parse)
        rows.append(row)
    tools = ("vigil", "drain3") if with_drain else ("vigil",)
    mean = {
        tool: {k: round(sum(r[tool][k] for r in rows) / len(rows), 4) for k in ("ga", "pa")}
        for tool in tools
    }
    if as_json:
        print(json.dumps({"systems": rows, "mean": mean, "machine": describe()}))
        return 0
    print(f"{'system':<10} {'GA':>6} {'PA':>6} {'lines/s':>9}   {'drain3 GA':>9} {'PA':>6}")
    nan = {"ga": float("nan"), "pa": float("nan")}
    for r in [*rows, {"system": "mean", **mean}]:
        v, d = r["vigil"], r.get("drain3", nan)
        speed = f"{v['lines_per_s']:9,}" if "lines_per_s" in v else " " * 9
        print(
            f"{r['system']:<10} {v['ga']:6.3f} {v['pa']:6.3f} {speed}   "
            f"{d['ga']:9.3f} {d['pa']:6.3f}"
        )
    print(f"machine: {describe()}")
    return 0


def evaluate(lines_per_corpus: int, seeds: list[int], headers: bool) -> dict[str, object]:
    """Grouping accuracy per generated format, averaged over seeds."""
    from benchmarks.scenarios.logcorpus import corpus, grouping_accuracy, names

    per_format: dict[str, dict[str, float]] = {}
    total_lines, total_seconds = 0, 0.0
    for name in names():
        ours, theirs = [], []
        for seed in seeds:
            data = corpus(name, lines_per_corpus, seed, headers=headers)
            lines = [line for line, _ in data]
            truth = [event for _, event in data]
            miner = TemplateMiner()
            started = time.perf_counter()
            ids = [miner.add(line)[0].id for line in lines]
            total_seconds += time.perf_counter() - started
            total_lines += len(lines)
            ours.append(grouping_accuracy(truth, ids))
            drain = _drain3_ids(lines)
            if drain is not None:
                theirs.append(grouping_accuracy(truth, drain))
        per_format[name] = {"vigil": round(sum(ours) / len(ours), 4)}
        if theirs:
            per_format[name]["drain3"] = round(sum(theirs) / len(theirs), 4)
    summary: dict[str, object] = {
        "grouping_accuracy": round(
            sum(f["vigil"] for f in per_format.values()) / len(per_format), 4
        ),
        "lines_per_s": round(total_lines / max(total_seconds, 1e-9)),
        "formats": per_format,
        "headers": headers,
        "seeds": seeds,
        "lines_per_corpus": lines_per_corpus,
    }
    if all("drain3" in f for f in per_format.values()):
        summary["drain3_grouping_accuracy"] = round(
            sum(f["drain3"] for f in per_format.values()) / len(per_format), 4
        )
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, help="raw log file, one line per log line")
    parser.add_argument("--out", type=Path, help="CSV to write: line_no,template_id,template")
    parser.add_argument("--eval", action="store_true", help="score on generated corpora")
    parser.add_argument("--lines", type=int, default=2000, help="lines per generated corpus")
    parser.add_argument("--seeds", default="0,1,2", help="corpus seeds for --eval")
    parser.add_argument(
        "--content-only", action="store_true", help="--eval on messages without headers"
    )
    parser.add_argument("--loghub", type=Path, help="score every Loghub system directory here")
    parser.add_argument("--json", action="store_true", help="--loghub: one JSON object")
    args = parser.parse_args(argv)
    if args.loghub is not None:
        return loghub(args.loghub, args.json)
    if args.eval:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
        print(json.dumps(evaluate(args.lines, seeds, headers=not args.content_only)))
        return 0
    if args.input is None or args.out is None:
        parser.error("--input and --out are required (or use --eval)")
    started = time.perf_counter()
    count = parse(args.input, args.out)
    elapsed = time.perf_counter() - started
    print(
        f"{count} lines in {elapsed:.2f}s ({count / max(elapsed, 1e-9):,.0f} lines/s)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
