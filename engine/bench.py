"""`make bench`: the engine on ../shared/bench/workflows, in memory, with history off and on.

Each workflow runs in a fresh process (so peak RSS is that workflow's): compiled once, one warm-up,
then N timed runs from start to terminal status. Printed per workflow: median seconds, transitions/s,
peak RSS, and the ratio to the peers' recorded figures in ../shared/bench/results (figures from another
machine: for a fair ratio, run ../shared/bench/peers/compare.sh, which times a peer in the same run).

    python -m engine.bench [--workflows pass_chain,map_10k] [--runs 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench"
ORDER = ["pass_chain", "choice_loop", "map_10k", "parallel_fanout", "intrinsics", "payload_large",
         "jsonata_chain"]


def measure(path: Path, runs: int, history: bool) -> dict:
    from engine import compile_definition, run

    workflow = json.loads(path.read_text())
    machine = compile_definition(workflow["definition"])
    times = []
    result = None
    for attempt in range(runs + 1):
        started = time.perf_counter()
        result = run(machine, workflow["input"], history=history)
        if attempt:
            times.append(time.perf_counter() - started)
    median = statistics.median(times)
    return {
        "workflow": workflow["name"],
        "history": history,
        "status": result.status,
        "transitions": workflow["transitions"],
        "median_s": median,
        "transitions_per_s": workflow["transitions"] / median,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def peer_figures() -> dict[tuple[str, str], float]:
    figures = {}
    for file in sorted((BENCH / "results").glob("*.json")):
        for row in json.loads(file.read_text()):
            if row.get("transitions_per_s") and row.get("peer") != "floor":
                figures[(row["workflow"], row["peer"])] = row["transitions_per_s"]
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workflows", help="comma-separated names (default: all)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", help="write the rows to this file")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--history", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:  # child process: one workflow, one mode
        print(json.dumps(measure(Path(args.one), args.runs, args.history)))
        return 0
    if not BENCH.is_dir():
        print(f"no benchmark workflows at {BENCH}", file=sys.stderr)
        return 2
    wanted = args.workflows.split(",") if args.workflows else None
    paths = sorted(BENCH.glob("workflows/*.json"),
                   key=lambda p: ORDER.index(p.stem) if p.stem in ORDER else len(ORDER))
    paths = [p for p in paths if wanted is None or p.stem in wanted]
    peers = peer_figures()
    peer_names = sorted({peer for _, peer in peers})
    rows = []
    header = f"{'workflow':<16} {'history':<8} {'median s':>9} {'transitions/s':>14} {'peak RSS':>9}"
    print(header + "".join(f" {'x ' + name:>16}" for name in peer_names))
    for path in paths:
        for history in (False, True):
            command = [sys.executable, "-m", "engine.bench", "--one", str(path), "--runs", str(args.runs)]
            if history:
                command.append("--history")
            output = subprocess.run(command, capture_output=True, text=True, check=True,
                                    cwd=Path(__file__).resolve().parents[1], env=os.environ).stdout
            row = json.loads(output)
            rows.append(row)
            ratios = "".join(
                f" {row['transitions_per_s'] / peers[(row['workflow'], name)]:>15.1f}x"
                if (row["workflow"], name) in peers else f" {'':>16}" for name in peer_names)
            print(f"{row['workflow']:<16} {'on' if history else 'off':<8} {row['median_s']:>9.4f} "
                  f"{row['transitions_per_s']:>14,.0f} {row['peak_rss_mib']:>6.0f} MiB{ratios}"
                  + ("" if row["status"] == "SUCCEEDED" else f"  {row['status']}"), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    print("\nRatios are against figures recorded on another machine; for same-run ratios use "
          "../shared/bench/peers/compare.sh (add --events for history on).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
